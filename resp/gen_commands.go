//go:build ignore

// gen_commands regenerates the table_*.go files from a running
// redis-server 7.0 (the oracle): every command's COMMAND INFO and COMMAND
// DOCS are copied verbatim, so Troika answers exactly what Redis answers.
//
//	redis-server --port 16379 --save '' --cluster-enabled yes \
//	    --cluster-config-file /tmp/n.conf &
//	go run gen_commands.go -addr 127.0.0.1:16379
//
// Which commands exist and how they are routed is decided here, in the
// families list below; everything else comes from the server.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
)

type spec struct {
	name  string
	route string
	subs  []sub // nil: no subcommands; subs[0].name == "*": every subcommand
}

type sub struct {
	name  string
	route string
}

type family struct {
	file, varName, comment string
	cmds                   []spec
}

func keyed(names ...string) []spec    { return routed("RouteKeyed", names) }
func nodeWide(names ...string) []spec { return routed("RouteNodeWide", names) }
func local(names ...string) []spec    { return routed("RouteLocal", names) }

func routed(route string, names []string) []spec {
	out := make([]spec, len(names))
	for i, n := range names {
		out[i] = spec{name: n, route: route}
	}
	return out
}

func subs(route string, names ...string) []sub {
	out := make([]sub, len(names))
	for i, n := range names {
		out[i] = sub{name: n, route: route}
	}
	return out
}

var families = []family{
	{"table_string.go", "stringCommands", "string commands, routed to Backend.Exec by key slot",
		keyed("set", "get", "getset", "getdel", "getex", "mget", "mset", "msetnx", "setnx", "setex",
			"psetex", "append", "strlen", "getrange", "setrange", "incr", "decr", "incrby", "decrby",
			"incrbyfloat", "lcs", "substr")},
	{"table_list.go", "listCommands", "list commands, routed to Backend.Exec by key slot",
		keyed("lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
			"lrem", "ltrim", "linsert", "lpos", "lmove", "rpoplpush", "lmpop")},
	{"table_keys.go", "keyCommands", "generic keyspace commands",
		append(append(keyed("del", "unlink", "exists", "type", "touch", "expire", "pexpire", "expireat",
			"pexpireat", "ttl", "pttl", "expiretime", "pexpiretime", "persist", "rename", "renamenx", "copy"),
			spec{name: "object", route: "RouteLocal", subs: append(
				subs("RouteKeyed", "encoding", "freq", "idletime", "refcount"),
				subs("RouteLocal", "help")...)}),
			nodeWide("keys", "scan", "randomkey", "dbsize", "flushall", "flushdb")...)},
	{"table_server.go", "serverCommands", "connection and server commands answered by resp itself",
		append(local("ping", "echo", "hello", "auth", "select", "quit", "reset", "info", "time",
			"readonly", "readwrite", "asking"),
			spec{name: "client", route: "RouteLocal", subs: subs("RouteLocal",
				"setname", "getname", "id", "list", "info", "kill", "no-evict", "help")},
			spec{name: "config", route: "RouteLocal", subs: subs("RouteLocal",
				"get", "set", "resetstat", "rewrite", "help")},
			spec{name: "command", route: "RouteLocal", subs: subs("RouteLocal",
				"count", "info", "getkeys", "getkeysandflags", "docs", "list", "help")},
			spec{name: "slowlog", route: "RouteLocal", subs: subs("RouteLocal",
				"get", "len", "reset", "help")},
			spec{name: "latency", route: "RouteLocal", subs: subs("RouteLocal",
				"latest", "history", "reset", "help")},
			spec{name: "memory", route: "RouteLocal", subs: subs("RouteLocal",
				"purge", "help")},
		)},
	{"table_cluster.go", "clusterCommands", "CLUSTER and its subcommands, answered by Backend.Cluster",
		[]spec{{name: "cluster", route: "RouteCluster", subs: []sub{{"*", "RouteCluster"}}}}},
	{"table_txn.go", "txnCommands", "transactions (MULTI/EXEC), answered by resp itself (cmd_txn.go)",
		local("multi", "exec", "discard", "watch", "unwatch")},
	{"table_pubsub.go", "pubsubCommands", "Pub/Sub commands, answered by resp itself (cmd_pubsub.go)",
		append(local("subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish",
			"ssubscribe", "sunsubscribe", "spublish"),
			spec{name: "pubsub", route: "RouteLocal", subs: subs("RouteLocal",
				"channels", "numsub", "numpat", "shardchannels", "shardnumsub", "help")})},
}

// ---- a minimal RESP2 client ----

type value struct {
	str   string
	num   int64
	arr   []value
	isArr bool
	isNum bool
	null  bool
}

func (v value) get(key string) (value, bool) {
	for i := 0; i+1 < len(v.arr); i += 2 {
		if v.arr[i].str == key {
			return v.arr[i+1], true
		}
	}
	return value{}, false
}

func (v value) strs() []string {
	var out []string
	for _, e := range v.arr {
		out = append(out, e.str)
	}
	return out
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func (c *client) do(args ...string) value {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.c.Write(b.Bytes()); err != nil {
		log.Fatal(err)
	}
	return c.read()
}

func (c *client) read() value {
	line, err := c.r.ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '+':
		return value{str: line[1:]}
	case '-':
		log.Fatalf("server error: %s", line[1:])
	case ':':
		n, _ := strconv.ParseInt(line[1:], 10, 64)
		return value{num: n, isNum: true}
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return value{null: true}
		}
		buf := make([]byte, n+2)
		if _, err := readFull(c.r, buf); err != nil {
			log.Fatal(err)
		}
		return value{str: string(buf[:n])}
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return value{null: true, isArr: true}
		}
		v := value{isArr: true, arr: make([]value, 0, n)}
		for range n {
			v.arr = append(v.arr, c.read())
		}
		return v
	}
	log.Fatalf("bad reply line %q", line)
	return value{}
}

func readFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ---- emitting Go ----

func q(s string) string { return strconv.Quote(s) }

func words(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return "words(" + q(strings.Join(ss, " ")) + ")"
}

func emitCommand(b *bytes.Buffer, info, docs value, route string) {
	name := info.arr[0].str
	fmt.Fprintf(b, "{Name: %s, Arity: %d, Route: %s,\n", q(name), info.arr[1].num, route)
	if f := words(info.arr[2].strs()); f != "" {
		fmt.Fprintf(b, "Flags: %s,\n", f)
	}
	if info.arr[3].num != 0 || info.arr[4].num != 0 || info.arr[5].num != 0 {
		fmt.Fprintf(b, "FirstKey: %d, LastKey: %d, Step: %d,\n", info.arr[3].num, info.arr[4].num, info.arr[5].num)
	}
	if f := words(info.arr[6].strs()); f != "" {
		fmt.Fprintf(b, "ACL: %s,\n", f)
	}
	if f := words(info.arr[7].strs()); f != "" {
		fmt.Fprintf(b, "Tips: %s,\n", f)
	}
	if len(info.arr[8].arr) > 0 {
		b.WriteString("KeySpecs: []KeySpec{\n")
		for _, ks := range info.arr[8].arr {
			emitKeySpec(b, ks)
		}
		b.WriteString("},\n")
	}
	b.WriteString("Doc: ")
	emitDoc(b, docs)
	b.WriteString(",\n},\n")
}

func emitKeySpec(b *bytes.Buffer, ks value) {
	b.WriteString("{")
	if n, ok := ks.get("notes"); ok {
		fmt.Fprintf(b, "Notes: %s, ", q(n.str))
	}
	fl, _ := ks.get("flags")
	fmt.Fprintf(b, "Flags: %s, ", words(fl.strs()))
	bs, _ := ks.get("begin_search")
	bsType, _ := bs.get("type")
	bsSpec, _ := bs.get("spec")
	switch bsType.str {
	case "index":
		i, _ := bsSpec.get("index")
		fmt.Fprintf(b, "Begin: beginIndex(%d), ", i.num)
	case "keyword":
		k, _ := bsSpec.get("keyword")
		s, _ := bsSpec.get("startfrom")
		fmt.Fprintf(b, "Begin: beginKeyword(%s, %d), ", q(k.str), s.num)
	default:
		b.WriteString("Begin: BeginSearch{Type: \"unknown\"}, ")
	}
	fk, _ := ks.get("find_keys")
	fkType, _ := fk.get("type")
	fkSpec, _ := fk.get("spec")
	switch fkType.str {
	case "range":
		l, _ := fkSpec.get("lastkey")
		s, _ := fkSpec.get("keystep")
		m, _ := fkSpec.get("limit")
		fmt.Fprintf(b, "Find: findRange(%d, %d, %d)", l.num, s.num, m.num)
	case "keynum":
		i, _ := fkSpec.get("keynumidx")
		f, _ := fkSpec.get("firstkey")
		s, _ := fkSpec.get("keystep")
		fmt.Fprintf(b, "Find: findKeynum(%d, %d, %d)", i.num, f.num, s.num)
	default:
		b.WriteString("Find: FindKeys{Type: \"unknown\"}")
	}
	b.WriteString("},\n")
}

func emitDoc(b *bytes.Buffer, d value) {
	b.WriteString("Doc{")
	for _, f := range []struct{ key, field string }{
		{"summary", "Summary"}, {"since", "Since"}, {"group", "Group"}, {"complexity", "Complexity"},
		{"deprecated_since", "DeprecatedSince"}, {"replaced_by", "ReplacedBy"},
	} {
		if v, ok := d.get(f.key); ok {
			fmt.Fprintf(b, "%s: %s, ", f.field, q(v.str))
		}
	}
	if v, ok := d.get("doc_flags"); ok {
		fmt.Fprintf(b, "DocFlags: %s, ", words(v.strs()))
	}
	if v, ok := d.get("history"); ok {
		b.WriteString("\nHistory: [][2]string{")
		for _, h := range v.arr {
			fmt.Fprintf(b, "{%s, %s}, ", q(h.arr[0].str), q(h.arr[1].str))
		}
		b.WriteString("},\n")
	}
	if v, ok := d.get("arguments"); ok {
		b.WriteString("\nArgs: ")
		emitArgs(b, v)
		b.WriteString(",\n")
	}
	b.WriteString("}")
}

func emitArgs(b *bytes.Buffer, args value) {
	b.WriteString("[]Arg{")
	for _, a := range args.arr {
		b.WriteString("{")
		name, _ := a.get("name")
		typ, _ := a.get("type")
		fmt.Fprintf(b, "Name: %s, Type: %s", q(name.str), q(typ.str))
		if v, ok := a.get("key_spec_index"); ok {
			fmt.Fprintf(b, ", KeySpecIndex: %d", v.num)
		}
		for _, f := range []struct{ key, field string }{
			{"token", "Token"}, {"summary", "Summary"}, {"since", "Since"}, {"deprecated_since", "DeprecatedSince"},
		} {
			if v, ok := a.get(f.key); ok {
				fmt.Fprintf(b, ", %s: %s", f.field, q(v.str))
			}
		}
		if v, ok := a.get("flags"); ok {
			fmt.Fprintf(b, ", Flags: %s", words(v.strs()))
		}
		if v, ok := a.get("arguments"); ok {
			b.WriteString(", Args: ")
			emitArgs(b, v)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}")
}

func main() {
	addr := flag.String("addr", "127.0.0.1:16379", "redis-server 7.0 in cluster mode")
	flag.Parse()
	conn, err := net.Dial("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	c := &client{c: conn, r: bufio.NewReader(conn)}
	if v := c.do("CLUSTER", "INFO"); v.str == "" {
		log.Fatal("oracle must run with --cluster-enabled yes")
	}
	for _, fam := range families {
		var b bytes.Buffer
		fmt.Fprintf(&b, "// Code generated by gen_commands.go from redis-server 7.0; DO NOT EDIT.\n\npackage resp\n\n")
		fmt.Fprintf(&b, "// %s: %s.\nvar %s = []*Command{\n", fam.varName, fam.comment, fam.varName)
		for _, s := range fam.cmds {
			one := func(name, route string) {
				info := c.do("COMMAND", "INFO", name).arr[0]
				if info.null {
					log.Fatalf("oracle has no command %q", name)
				}
				docs := c.do("COMMAND", "DOCS", name)
				emitCommand(&b, info, docs.arr[1], route)
			}
			one(s.name, s.route)
			if len(s.subs) == 0 {
				continue
			}
			list := s.subs
			if list[0].name == "*" {
				route := list[0].route
				info := c.do("COMMAND", "INFO", s.name).arr[0]
				var names []string
				for _, e := range info.arr[9].arr {
					names = append(names, strings.TrimPrefix(e.arr[0].str, s.name+"|"))
				}
				sort.Strings(names)
				list = subs(route, names...)
			}
			for _, sc := range list {
				one(s.name+"|"+sc.name, sc.route)
			}
		}
		b.WriteString("}\n")
		src, err := format.Source(b.Bytes())
		if err == nil {
			src, err = format.Source(src) // the first pass can leave work for a second
		}
		if err != nil {
			os.WriteFile(fam.file+".broken", b.Bytes(), 0o644)
			log.Fatalf("%s: %v", fam.file, err)
		}
		if err := os.WriteFile(fam.file, src, 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s (%d lines)", fam.file, bytes.Count(src, []byte("\n")))
	}
}
