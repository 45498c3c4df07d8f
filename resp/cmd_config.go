package resp

import (
	"fmt"
	"github.com/troika-db/troika/fsm"
	"strings"
)

var configHelp = []string{
	"GET <pattern>",
	"    Return parameters matching the glob-like <pattern> and their values.",
	"SET <directive> <value>",
	"    Set the configuration <directive> to <value>.",
	"RESETSTAT",
	"    Reset statistics reported by the INFO command.",
	"REWRITE",
	"    Rewrite the configuration file.",
}

var slowlogHelp = []string{
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
}

var latencyHelp = []string{
	"HISTORY <event>",
	"    Return time-latency samples for the <event> class.",
	"LATEST",
	"    Return the latest latency samples for all events.",
	"RESET [<event> ...]",
	"    Reset latency data of one or more <event> classes.",
	"    (default: reset all data for all event classes)",
}

// cmdConfigGet is CONFIG GET pattern [pattern ...]: a map of every matching
// directive, each listed once, in the order the patterns find them.
func cmdConfigGet(c *conn, args [][]byte) {
	var pairs [][2]string
	if s := c.srv.settings; s != nil {
		seen := make(map[string]bool)
		for _, p := range args[2:] {
			for _, kv := range s.Get(string(p)) {
				if !seen[kv[0]] {
					seen[kv[0]] = true
					pairs = append(pairs, kv)
				}
			}
		}
	}
	c.w.mapLen(len(pairs))
	for _, kv := range pairs {
		c.w.bulkStr(kv[0])
		c.w.bulkStr(kv[1])
	}
}

// cmdConfigSet is CONFIG SET name value [name value ...]. Like Redis 7.0 it
// is all or nothing: if one directive fails, those already changed are
// restored. Directives resp owns are then applied with SetOption.
func cmdConfigSet(c *conn, args [][]byte) {
	if (len(args)-2)%2 != 0 {
		c.w.error(msgConfigSetOdd)
		return
	}
	n := (len(args) - 2) / 2
	names := make([]string, n)
	values := make([]string, n)
	seen := make(map[string]bool, n)
	for i := range n {
		names[i] = strings.ToLower(string(args[2+2*i]))
		values[i] = string(args[3+2*i])
		if seen[names[i]] {
			c.w.error(fmt.Sprintf(msgConfigDup, args[2+2*i]))
			return
		}
		seen[names[i]] = true
	}
	s := c.srv.settings
	if s == nil {
		c.w.error(fmt.Sprintf(msgConfigUnknown, names[0]))
		return
	}
	old := make([]*string, n)
	for i, name := range names {
		for _, kv := range s.Get(name) {
			if kv[0] == name {
				v := kv[1]
				old[i] = &v
			}
		}
	}
	for i, name := range names {
		if err := s.Set(name, values[i]); err != nil {
			for j := i - 1; j >= 0; j-- { // roll back
				if old[j] != nil {
					if rerr := s.Set(names[j], *old[j]); rerr != nil {
						c.srv.log.Error("CONFIG SET rollback failed", "name", names[j], "err", rerr)
					}
				}
			}
			c.w.error(fmt.Sprintf(msgConfigSetFailed, err))
			return
		}
	}
	for i, name := range names {
		c.srv.SetOption(name, values[i])
	}
	c.w.ok()
}

func cmdConfigResetStat(c *conn, _ [][]byte) {
	c.srv.stats.reset()
	for i := range c.srv.commandStats {
		c.srv.commandStats[i].reset()
	}
	c.w.ok()
}

func cmdConfigRewrite(c *conn, _ [][]byte) {
	rw, ok := c.srv.settings.(SettingsRewriter)
	if !ok || c.srv.cfg.ConfigFile == "" {
		c.w.error(msgNoConfigFile)
		return
	}
	if err := rw.Rewrite(); err != nil {
		c.srv.log.Error("CONFIG REWRITE failed", "err", err)
		c.w.error(fmt.Sprintf(msgRewriteFailed, err))
		return
	}
	c.w.ok()
}

// cmdSlowlogGet is SLOWLOG GET [count] (default 10, -1 = all).
func cmdSlowlogGet(c *conn, args [][]byte) {
	count := int64(10)
	if len(args) > 3 {
		c.w.error(fmt.Sprintf(msgUnknownSubArity, args[1], "SLOWLOG"))
		return
	}
	if len(args) == 3 {
		n, ok := fsm.ParseInt(args[2])
		if !ok || n < -1 {
			c.w.error(msgSlowlogCount)
			return
		}
		count = n
	}
	entries := c.srv.slowlog.get(count)
	c.w.arrayLen(len(entries))
	for _, e := range entries {
		c.w.arrayLen(6)
		c.w.int(e.id)
		c.w.int(e.time)
		c.w.int(e.duration)
		c.w.arrayLen(len(e.args))
		for _, a := range e.args {
			c.w.bulkStr(a)
		}
		c.w.bulkStr(e.addr)
		c.w.bulkStr(e.name)
	}
}

func cmdSlowlogLen(c *conn, _ [][]byte) { c.w.int(int64(c.srv.slowlog.len())) }

func cmdSlowlogReset(c *conn, _ [][]byte) {
	c.srv.slowlog.reset()
	c.w.ok()
}

// Troika does not sample latency events: LATEST and HISTORY are empty.
func cmdLatencyEmpty(c *conn, _ [][]byte) { c.w.arrayLen(0) }
func cmdLatencyReset(c *conn, _ [][]byte) { c.w.int(0) }
