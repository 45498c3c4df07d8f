package resp

import (
	"fmt"
	"github.com/troika-db/troika/fsm"
	"strconv"
	"strings"
	"time"
)

var clientHelp = []string{
	"GETNAME",
	"    Return the name of the current connection.",
	"ID",
	"    Return the ID of the current connection.",
	"INFO",
	"    Return information about the current client connection.",
	"KILL <ip:port>",
	"    Kill connection made from <ip:port>.",
	"KILL <option> <value> [<option> <value> [...]]",
	"    Kill connections. Options are:",
	"    * ADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made from the specified address",
	"    * LADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made to specified local address",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Kill connections by type.",
	"    * USER <username>",
	"      Kill connections authenticated by <username>.",
	"    * SKIPME (YES|NO)",
	"      Skip killing current connection (default: yes).",
	"LIST [options ...]",
	"    Return information about client connections. Options:",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Return clients of specified type.",
	"SETNAME <name>",
	"    Assign the name <name> to the current connection.",
	"SETINFO <option> <value>",
	"    Set client meta attr. Options are:",
	"    * LIB-NAME: the client lib name.",
	"    * LIB-VER: the client lib version.",
	"NO-EVICT (ON|OFF)",
	"    Protect current client connection from eviction.",
}

// validClientString is Redis's rule for client names and SETINFO values:
// printable ASCII without spaces.
func validClientString(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

// setName is clientSetNameOrReply: it replies the error itself.
func (c *conn) setName(name []byte) bool {
	if !validClientString(name) {
		c.w.error(msgBadClientName)
		return false
	}
	c.setInfo(func(i *connInfo) { i.name = string(name) })
	return true
}

func cmdClientSetName(c *conn, args [][]byte) {
	if c.setName(args[2]) {
		c.w.ok()
	}
}

func cmdClientGetName(c *conn, _ [][]byte) {
	if name := c.snapshot().name; name != "" {
		c.w.bulkStr(name)
		return
	}
	c.w.null()
}

func cmdClientID(c *conn, _ [][]byte) { c.w.int(int64(c.id)) }

// cmdClientSetInfo is Redis 7.2's CLIENT SETINFO, which client libraries
// (go-redis, redis-py...) send on connect.
func cmdClientSetInfo(c *conn, args [][]byte) {
	attr := strings.ToLower(string(args[2]))
	if attr != "lib-name" && attr != "lib-ver" {
		c.w.error(fmt.Sprintf(msgSetInfoOption, args[2]))
		return
	}
	if !validClientString(args[3]) {
		c.w.error(fmt.Sprintf(msgSetInfoValue, attr))
		return
	}
	v := string(args[3])
	c.setInfo(func(i *connInfo) {
		if attr == "lib-name" {
			i.libName = v
		} else {
			i.libVer = v
		}
	})
	c.w.ok()
}

func cmdClientNoEvict(c *conn, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "on":
		c.setInfo(func(i *connInfo) { i.noEvict = true })
	case "off":
		c.setInfo(func(i *connInfo) { i.noEvict = false })
	default:
		c.w.error(msgSyntax)
		return
	}
	c.publishFlags()
	c.w.ok()
}

// publishFlags recomputes the CLIENT LIST flags after a state change.
func (c *conn) publishFlags() {
	c.setInfo(func(i *connInfo) {
		f := ""
		if c.txn != nil {
			f += "x"
		}
		if c.readOnly {
			f += "r"
		}
		if i.noEvict {
			f += "e"
		}
		if f == "" {
			f = "N"
		}
		i.flags = f
	})
}

// clientType parses Redis's client type names; Troika clients are "normal"
// or, while subscribed, "pubsub" (conn.clientType).
func clientType(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "normal":
		return "normal", true
	case "slave", "replica":
		return "replica", true
	case "pubsub":
		return "pubsub", true
	case "master":
		return "master", true
	}
	return "", false
}

func cmdClientInfo(c *conn, args [][]byte) {
	c.w.verbatim(c.infoLine(c, args, time.Now()) + "\n")
}

// cmdClientList is CLIENT LIST [TYPE type] | [ID id [id ...]].
func cmdClientList(c *conn, args [][]byte) {
	now := time.Now()
	var b strings.Builder
	switch {
	case len(args) == 4 && strings.EqualFold(string(args[2]), "type"):
		t, ok := clientType(string(args[3]))
		if !ok {
			c.w.error(fmt.Sprintf(msgUnknownClientTyp, args[3]))
			return
		}
		for _, o := range c.srv.clients() {
			if o.clientType() == t {
				b.WriteString(c.infoLine(o, args, now) + "\n")
			}
		}
	case len(args) > 3 && strings.EqualFold(string(args[2]), "id"):
		byID := make(map[uint64]*conn)
		for _, o := range c.srv.clients() {
			byID[o.id] = o
		}
		for _, a := range args[3:] {
			id, ok := fsm.ParseInt(a)
			if !ok {
				c.w.error(msgInvalidClientID)
				return
			}
			if o := byID[uint64(id)]; o != nil && id > 0 {
				b.WriteString(c.infoLine(o, args, now) + "\n")
			}
		}
	case len(args) != 2:
		c.w.error(msgSyntax)
		return
	default:
		for _, o := range c.srv.clients() {
			b.WriteString(c.infoLine(o, args, now) + "\n")
		}
	}
	c.w.verbatim(b.String())
}

// infoLine formats one CLIENT LIST line (without the final "\n") exactly
// in Redis 7.0's field order. c is the connection running the command and
// args its arguments (for its own argv-mem).
func (c *conn) infoLine(o *conn, args [][]byte, now time.Time) string {
	in := o.snapshot()
	argvMem := 0
	if o == c {
		// The running client's buffers are live, not the published snapshot.
		in.qbuf, in.qbufCap = c.r.pending(), c.r.bufCap()
		in.outLen, in.outCap = len(c.w.b), cap(c.w.b)
		for _, a := range args {
			argvMem += len(a)
		}
	}
	lastCmd := in.lastCmd
	if lastCmd == "" {
		lastCmd = "NULL"
	}
	qfree := max(in.qbufCap-in.qbuf, 0)
	omem := int(o.outPending.Load()) // a subscriber's asynchronous output
	totMem := in.qbufCap + in.outCap + omem + argvMem + 1024
	events := "r"
	if (in.outLen > 0 || omem > 0) && o != c {
		events = "rw"
	}
	flags := in.flags
	if o.subscribed.Load() { // CLIENT_PUBSUB comes before r and e in Redis's order
		flags = "P" + strings.TrimPrefix(flags, "N")
	}
	var b strings.Builder
	field := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	itoa := strconv.Itoa
	field("id", strconv.FormatUint(o.id, 10))
	field("addr", o.addr)
	field("laddr", o.laddr)
	field("fd", itoa(o.fd))
	field("name", in.name)
	field("age", strconv.FormatInt(int64(now.Sub(o.created)/time.Second), 10))
	field("idle", strconv.FormatInt(int64(max(now.Sub(o.lastInteraction()), 0)/time.Second), 10))
	field("flags", flags)
	field("db", "0")
	field("sub", itoa(in.sub))
	field("psub", itoa(in.psub))
	field("ssub", itoa(in.ssub))
	field("multi", itoa(in.multi))
	field("qbuf", itoa(in.qbuf))
	field("qbuf-free", itoa(qfree))
	field("argv-mem", itoa(argvMem))
	field("multi-mem", "0")
	field("rbs", itoa(in.qbufCap))
	field("rbp", itoa(in.qbufCap))
	field("obl", itoa(in.outLen))
	field("oll", "0")
	field("omem", itoa(omem))
	field("tot-mem", itoa(totMem))
	field("events", events)
	field("cmd", lastCmd)
	field("user", "default")
	field("redir", "-1")
	field("resp", itoa(in.proto))
	return b.String()
}

// cmdClientKill is CLIENT KILL addr | CLIENT KILL <filter> <value> ...
func cmdClientKill(c *conn, args [][]byte) {
	var addr, laddr, typ string
	var id int64
	var byUser bool
	skipMe := true
	if len(args) == 3 {
		addr, skipMe = string(args[2]), false // the old form can kill itself
	} else {
		for i := 2; i < len(args); i += 2 {
			if i+1 >= len(args) {
				c.w.error(msgSyntax)
				return
			}
			v := string(args[i+1])
			switch strings.ToLower(string(args[i])) {
			case "id":
				n, ok := fsm.ParseInt(args[i+1])
				if !ok || n < 1 {
					c.w.error(msgKillClientID)
					return
				}
				id = n
			case "type":
				t, ok := clientType(v)
				if !ok {
					c.w.error(fmt.Sprintf(msgUnknownClientTyp, v))
					return
				}
				typ = t
			case "addr":
				addr = v
			case "laddr":
				laddr = v
			case "user":
				if v != "default" {
					c.w.error(fmt.Sprintf(msgNoSuchUser, v))
					return
				}
				byUser = true
			case "skipme":
				switch strings.ToLower(v) {
				case "yes":
					skipMe = true
				case "no":
					skipMe = false
				default:
					c.w.error(msgSyntax)
					return
				}
			default:
				c.w.error(msgSyntax)
				return
			}
		}
	}
	_ = byUser // every client is the default user
	killed := 0
	for _, o := range c.srv.clients() {
		if addr != "" && o.addr != addr || laddr != "" && o.laddr != laddr ||
			typ != "" && typ != o.clientType() || id != 0 && o.id != uint64(id) || o == c && skipMe {
			continue
		}
		if o == c {
			c.closeAfter = true
		} else {
			o.kill()
		}
		killed++
	}
	if len(args) == 3 {
		if killed == 0 {
			c.w.error(msgNoSuchClient)
		} else {
			c.w.ok()
		}
		return
	}
	c.w.int(int64(killed))
}
