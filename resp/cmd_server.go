package resp

import (
	"crypto/subtle"
	"fmt"
	"github.com/troika-db/troika/fsm"
	"maps"
	"runtime/debug"
	"strconv"
	"strings"
)

// localHandlers maps every RouteLocal command (full name) to its handler.
func localHandlers() map[string]handler {
	h := map[string]handler{
		"ping":      cmdPing,
		"echo":      cmdEcho,
		"hello":     cmdHello,
		"auth":      cmdAuth,
		"select":    cmdSelect,
		"quit":      cmdQuit,
		"reset":     cmdReset,
		"time":      cmdTime,
		"readonly":  cmdReadOnly,
		"readwrite": cmdReadWrite,
		"asking":    cmdAsking,
		"info":      cmdInfo,
		"multi":     cmdMulti,
		"exec":      cmdExec,
		"discard":   cmdDiscard,
		"watch":     cmdWatch,
		"unwatch":   cmdUnwatch,

		"object|help": helpHandler("OBJECT", objectHelp),

		"client|setname":  cmdClientSetName,
		"client|getname":  cmdClientGetName,
		"client|id":       cmdClientID,
		"client|setinfo":  cmdClientSetInfo,
		"client|list":     cmdClientList,
		"client|info":     cmdClientInfo,
		"client|kill":     cmdClientKill,
		"client|no-evict": cmdClientNoEvict,
		"client|help":     helpHandler("CLIENT", clientHelp),

		"config|get":       cmdConfigGet,
		"config|set":       cmdConfigSet,
		"config|resetstat": cmdConfigResetStat,
		"config|rewrite":   cmdConfigRewrite,
		"config|help":      helpHandler("CONFIG", configHelp),

		"command":                 cmdCommand,
		"command|count":           cmdCommandCount,
		"command|info":            cmdCommandInfo,
		"command|docs":            cmdCommandDocs,
		"command|list":            cmdCommandList,
		"command|getkeys":         cmdCommandGetKeys,
		"command|getkeysandflags": cmdCommandGetKeys,
		"command|help":            helpHandler("COMMAND", commandHelp),

		"slowlog|get":   cmdSlowlogGet,
		"slowlog|len":   cmdSlowlogLen,
		"slowlog|reset": cmdSlowlogReset,
		"slowlog|help":  helpHandler("SLOWLOG", slowlogHelp),

		"latency|latest":  cmdLatencyEmpty,
		"latency|history": cmdLatencyEmpty,
		"latency|reset":   cmdLatencyReset,
		"latency|help":    helpHandler("LATENCY", latencyHelp),
		"memory|purge":    cmdMemoryPurge,
		"memory|help":     helpHandler("MEMORY", memoryHelp),
	}
	maps.Copy(h, pubsubHandlers())
	return h
}

// helpHandler answers "<CMD> HELP" the way Redis's addReplyHelp does.
func helpHandler(cmd string, lines []string) handler {
	all := append([]string{cmd + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"}, lines...)
	all = append(all, "HELP", "    Prints this help.")
	return func(c *conn, _ [][]byte) { c.w.statusList(all) }
}

var objectHelp = []string{
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
}

func cmdPing(c *conn, args [][]byte) {
	if c.pubsubPing(args) {
		return
	}
	switch len(args) {
	case 1:
		c.w.status("PONG")
	case 2:
		c.w.bulk(args[1])
	default:
		c.w.error(wrongArgsText("ping"))
	}
}

func cmdEcho(c *conn, args [][]byte) { c.w.bulk(args[1]) }

func cmdTime(c *conn, _ [][]byte) {
	now := c.srv.cfg.Clock()
	c.w.arrayLen(2)
	c.w.bulkStr(strconv.FormatInt(now.Unix(), 10))
	c.w.bulkStr(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdQuit(c *conn, _ [][]byte) {
	c.w.ok()
	c.closeAfter = true
}

func cmdReadOnly(c *conn, _ [][]byte) {
	c.readOnly = true
	c.publishFlags()
	c.w.ok()
}

func cmdReadWrite(c *conn, _ [][]byte) {
	c.readOnly = false
	c.publishFlags()
	c.w.ok()
}

func cmdAsking(c *conn, _ [][]byte) {
	c.asking = true
	c.w.ok()
}

// cmdSelect: only database 0 exists in cluster mode.
func cmdSelect(c *conn, args [][]byte) {
	id, ok := fsm.ParseInt(args[1])
	if !ok || id < -1<<31 || id > 1<<31-1 {
		c.w.error(msgNotInt)
		return
	}
	if id != 0 {
		c.w.error(msgSelectCluster)
		return
	}
	c.w.ok()
}

// checkPassword is ACLAuthenticateUser for the single "default" user: with
// no requirepass the user is "nopass" and any password is accepted.
func (c *conn) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	want := c.srv.requiredPass()
	if want == "" {
		return true
	}
	return subtle.ConstantTimeCompare(pass, []byte(want)) == 1
}

func cmdAuth(c *conn, args [][]byte) {
	if len(args) > 3 {
		c.w.error(msgSyntax)
		return
	}
	user, pass := []byte("default"), args[1]
	if len(args) == 2 {
		if c.srv.requiredPass() == "" {
			c.w.error(msgAuthNoPass)
			return
		}
	} else {
		user, pass = args[1], args[2]
	}
	if !c.checkPassword(user, pass) {
		c.w.error(msgWrongPass)
		return
	}
	c.authenticated = true
	c.w.ok()
}

// cmdHello is HELLO [protover [AUTH user pass] [SETNAME name]].
func cmdHello(c *conn, args [][]byte) {
	var ver int64
	next := 1
	if len(args) >= 2 {
		v, ok := fsm.ParseInt(args[1])
		if !ok {
			c.w.error(msgProtoNotInt)
			return
		}
		if v < 2 || v > 3 {
			c.w.error(msgNoProto)
			return
		}
		ver, next = v, 2
	}
	var user, pass, name []byte
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		switch opt := strings.ToLower(string(args[j])); {
		case opt == "auth" && more >= 2:
			user, pass = args[j+1], args[j+2]
			j += 2
		case opt == "setname" && more >= 1:
			name = args[j+1]
			j++
		default:
			c.w.error(fmt.Sprintf(msgHelloSyntax, args[j]))
			return
		}
	}
	if user != nil {
		if !c.checkPassword(user, pass) {
			c.w.error(msgWrongPass)
			return
		}
		c.authenticated = true
	}
	if c.authRequired() {
		c.w.error(msgHelloNoAuth)
		return
	}
	if name != nil && !c.setName(name) {
		return
	}
	if ver != 0 {
		c.w.proto = int(ver)
		c.setInfo(func(i *connInfo) { i.proto = int(ver) })
	}
	c.w.mapLen(7)
	c.w.bulkStr("server")
	c.w.bulkStr("redis")
	c.w.bulkStr("version")
	c.w.bulkStr(RedisVersion)
	c.w.bulkStr("proto")
	c.w.int(int64(c.w.proto))
	c.w.bulkStr("id")
	c.w.int(int64(c.id))
	c.w.bulkStr("mode")
	c.w.bulkStr("cluster")
	c.w.bulkStr("role")
	c.w.bulkStr("master")
	c.w.bulkStr("modules")
	c.w.arrayLen(0)
}

// cmdReset is RESET: back to a fresh connection's state.
func cmdReset(c *conn, _ [][]byte) {
	c.resetPubSub()
	if c.txn != nil {
		c.endTxn()
	}
	c.watched = nil
	c.readOnly = false
	c.asking = false
	c.authenticated = c.srv.requiredPass() == ""
	c.w.proto = 2
	c.setInfo(func(i *connInfo) {
		i.name = ""
		i.proto = 2
		i.noEvict = false
	})
	c.publishFlags()
	c.w.status("RESET")
}

var memoryHelp = []string{
	"PURGE",
	"    Run a full garbage collection and return freed memory to the OS.",
}

// cmdMemoryPurge is MEMORY PURGE. Redis asks jemalloc to purge dirty pages;
// Troika runs a full GC and returns memory to the OS, after which INFO's
// used_memory is exactly the live heap (benchmarks call it before measuring).
func cmdMemoryPurge(c *conn, _ [][]byte) {
	debug.FreeOSMemory()
	c.w.ok()
}
