package resp

import (
	"fmt"

	"github.com/troika-db/troika/fsm"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// node is a parsed reply: the raw bytes of the whole reply and its children.
type node struct {
	raw      string
	head     string // first line without CRLF, e.g. "*10", "$3", "+OK"
	children []node
	str      string // payload of bulk/status replies
}

func parseTree(t *testing.T, raw string) node {
	t.Helper()
	n, rest := parseNode(t, raw)
	if rest != "" {
		t.Fatalf("trailing bytes after reply: %q", rest)
	}
	return n
}

func parseNode(t *testing.T, s string) (node, string) {
	t.Helper()
	i := strings.Index(s, "\r\n")
	if i < 0 {
		t.Fatalf("bad reply %q", s)
	}
	head, rest := s[:i], s[i+2:]
	n := node{head: head}
	switch head[0] {
	case '$', '=':
		l, _ := strconv.Atoi(head[1:])
		if l >= 0 {
			n.str, rest = rest[:l], rest[l+2:]
		}
	case '*', '%', '~':
		l, _ := strconv.Atoi(head[1:])
		if head[0] == '%' {
			l *= 2
		}
		for range max(l, 0) {
			var c node
			c, rest = parseNode(t, rest)
			n.children = append(n.children, c)
		}
	default:
		n.str = head[1:]
	}
	n.raw = s[:len(s)-len(rest)]
	return n, rest
}

// field returns the value following key in a flat key/value array.
func (n node) field(key string) (node, bool) {
	for i := 0; i+1 < len(n.children); i += 2 {
		if n.children[i].str == key {
			return n.children[i+1], true
		}
	}
	return node{}, false
}

func TestCommandTableConsistency(t *testing.T) {
	for _, c := range commandTable.all {
		if c.Route == RouteLocal && c.run == nil && len(c.Subcommands) == 0 {
			t.Errorf("%s: local command without handler", c.Name)
		}
		if c.Route == RouteKeyed && len(c.KeySpecs) == 0 {
			t.Errorf("%s: keyed command without key specs", c.Name)
		}
		if c.Doc.Group == "" {
			t.Errorf("%s: no docs group", c.Name)
		}
	}
	for _, name := range []string{"set", "get", "mset", "lcs", "copy", "object|encoding", "expiretime", "getex"} {
		if c := commandTable.byFullName(name); c == nil || c.Route != RouteKeyed {
			t.Errorf("%s is not a keyed command", name)
		}
	}
	for _, name := range []string{"keys", "scan", "randomkey", "dbsize", "flushall", "flushdb"} {
		if c := commandTable.byFullName(name); c == nil || c.Route != RouteNodeWide {
			t.Errorf("%s is not node-wide", name)
		}
	}
	if !commandTable.byFullName("set").write || commandTable.byFullName("get").write {
		t.Error("write flags")
	}
	if !commandTable.byFullName("auth").noAuth || commandTable.byFullName("ping").noAuth {
		t.Error("no_auth flags")
	}
}

func TestCommandShapes(t *testing.T) {
	_, addr := testServer(t, Config{})
	c := dial(t, addr)

	count := c.do("COMMAND", "COUNT")
	if count != fmt.Sprintf(":%d\r\n", len(commandTable.sorted)) {
		t.Errorf("COMMAND COUNT = %q", count)
	}
	all := parseTree(t, c.do("COMMAND"))
	if len(all.children) != len(commandTable.sorted) {
		t.Errorf("COMMAND returned %d entries", len(all.children))
	}
	for _, e := range all.children {
		if len(e.children) != 10 {
			t.Fatalf("COMMAND entry with %d fields: %q", len(e.children), e.raw)
		}
	}

	info := parseTree(t, c.do("COMMAND", "INFO", "get", "nosuch", "CLIENT|LIST"))
	if len(info.children) != 3 || info.children[1].head != "$-1" {
		t.Fatalf("COMMAND INFO get nosuch = %q", info.raw)
	}
	get := info.children[0]
	if get.children[0].str != "get" || get.children[1].str != "2" || get.children[2].raw != "*2\r\n+readonly\r\n+fast\r\n" {
		t.Errorf("COMMAND INFO get = %q", get.raw)
	}
	if info.children[2].children[0].str != "client|list" {
		t.Errorf("COMMAND INFO client|list = %q", info.children[2].raw)
	}

	for args, want := range map[string]string{
		"COMMAND GETKEYS mset a 1 b 2":           "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
		"COMMAND GETKEYS object encoding k":      "*1\r\n$1\r\nk\r\n",
		"COMMAND GETKEYS copy src dst":           "*2\r\n$3\r\nsrc\r\n$3\r\ndst\r\n",
		"COMMAND GETKEYS lcs a b":                "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
		"COMMAND GETKEYSANDFLAGS set k v":        "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n",
		"COMMAND GETKEYSANDFLAGS set k v get":    "*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n",
		"COMMAND GETKEYS nosuch a":               "-ERR Invalid command specified\r\n",
		"COMMAND GETKEYS ping x":                 "-ERR The command has no key arguments\r\n",
		"COMMAND GETKEYS set a":                  "-ERR Invalid number of arguments specified for command\r\n",
		"COMMAND GETKEYS":                        "-ERR wrong number of arguments for 'command|getkeys' command\r\n",
		"COMMAND FOO":                            "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n",
		"COMMAND DOCS nosuch":                    "*0\r\n",
		"COMMAND LIST FILTERBY PATTERN client|*": "",
		"COMMAND LIST FILTERBY MODULE x":         "*0\r\n",
		"COMMAND LIST x":                         "-ERR syntax error\r\n",
	} {
		got := c.do(strings.Fields(args)...)
		if want == "" {
			list := parseTree(t, got)
			if len(list.children) == 0 {
				t.Errorf("%s = %q", args, got)
			}
			for _, e := range list.children {
				if !strings.HasPrefix(e.str, "client|") {
					t.Errorf("%s listed %q", args, e.str)
				}
			}
			continue
		}
		if got != want {
			t.Errorf("%s = %q, want %q", args, got, want)
		}
	}

	docs := parseTree(t, c.do("COMMAND", "DOCS", "get", "client"))
	if len(docs.children) != 4 || docs.children[0].str != "get" || docs.children[2].str != "client" {
		t.Fatalf("COMMAND DOCS get client = %q", docs.raw)
	}
	if s, _ := docs.children[1].field("summary"); s.str != "Get the value of a key" {
		t.Errorf("GET summary = %q", s.str)
	}
	subs, ok := docs.children[3].field("subcommands")
	if !ok || len(subs.children) != 2*len(commandTable.byFullName("client").Subcommands) {
		t.Errorf("CLIENT docs subcommands = %q", subs.raw)
	}
	list := parseTree(t, c.do("COMMAND", "LIST"))
	if len(list.children) != len(commandTable.all) {
		t.Errorf("COMMAND LIST has %d names, table has %d", len(list.children), len(commandTable.all))
	}
}

// clientLineRE is Redis 7.0's CLIENT LIST line.
var clientLineRE = regexp.MustCompile(`^id=\d+ addr=[\d.:]+ laddr=[\d.:]+ fd=-?\d+ name=\S* age=\d+ idle=\d+ flags=[A-Za-z]+ ` +
	`db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=0 rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ ` +
	`omem=\d+ tot-mem=\d+ events=rw? cmd=\S+ user=default redir=-1 resp=[23]$`)

func TestClientList(t *testing.T) {
	_, addr := testServer(t, Config{})
	a := dial(t, addr)
	b := dial(t, addr)
	if got := a.do("CLIENT", "SETNAME", "alpha"); got != "+OK\r\n" {
		t.Fatalf("SETNAME = %q", got)
	}
	b.do("READONLY")
	b.do("CLIENT", "NO-EVICT", "on")
	list := parseTree(t, a.do("CLIENT", "LIST")).str
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(list, "\n") {
		t.Fatalf("CLIENT LIST = %q", list)
	}
	for _, l := range lines {
		if !clientLineRE.MatchString(l) {
			t.Errorf("bad CLIENT LIST line %q", l)
		}
	}
	if !strings.Contains(lines[0], " name=alpha ") || !strings.Contains(lines[0], " cmd=client|list ") {
		t.Errorf("first line = %q", lines[0])
	}
	if !strings.Contains(lines[1], " flags=re ") || !strings.Contains(lines[1], " cmd=client|no-evict ") {
		t.Errorf("second line = %q", lines[1])
	}
	idA := strings.TrimSuffix(a.do("CLIENT", "ID")[1:], "\r\n")
	byID := parseTree(t, b.do("CLIENT", "LIST", "ID", idA, "99999")).str
	if !strings.HasPrefix(byID, "id="+idA+" ") || strings.Count(byID, "\n") != 1 {
		t.Errorf("CLIENT LIST ID = %q", byID)
	}
	info := parseTree(t, a.do("CLIENT", "INFO")).str
	if !clientLineRE.MatchString(strings.TrimSuffix(info, "\n")) || !strings.Contains(info, " cmd=client|info ") {
		t.Errorf("CLIENT INFO = %q", info)
	}
	for args, want := range map[string]string{
		"CLIENT LIST TYPE foo":                 "-ERR Unknown client type 'foo'\r\n",
		"CLIENT LIST TYPE master":              "$0\r\n\r\n",
		"CLIENT LIST ID x":                     "-ERR Invalid client ID\r\n",
		"CLIENT LIST x":                        "-ERR syntax error\r\n",
		"CLIENT SETNAME a\x01":                 "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
		"CLIENT NO-EVICT maybe":                "-ERR syntax error\r\n",
		"CLIENT SETINFO LIB-NAME go-redis(v9)": "+OK\r\n",
		"CLIENT SETINFO lib-ver 9.7.0":         "+OK\r\n",
		"CLIENT SETINFO color red":             "-ERR Unrecognized option 'color'\r\n",
	} {
		if got := a.do(strings.Fields(args)...); got != want {
			t.Errorf("%s = %q, want %q", args, got, want)
		}
	}
	if got := a.do("CLIENT", "SETNAME", ""); got != "+OK\r\n" {
		t.Errorf("clearing the name = %q", got)
	}
	if got := a.do("CLIENT", "GETNAME"); got != "$-1\r\n" {
		t.Errorf("GETNAME after clearing = %q", got)
	}
}

func TestInfoSections(t *testing.T) {
	be := newFakeBackend()
	be.info["keyspace"] = "db0:keys=3,expires=0,avg_ttl=0\n"
	be.info["raft"] = "raft_state:Leader\r\nraft_term:7"
	_, addr := testServer(t, Config{Backend: be, Version: "0.1.0"})
	c := dial(t, addr)
	c.do("GET", "k")
	c.do("GET")
	c.do("nosuch")
	text := parseTree(t, c.do("INFO")).str
	var headers []string
	for _, l := range strings.Split(text, "\r\n") {
		if strings.HasPrefix(l, "# ") {
			headers = append(headers, l[2:])
		}
	}
	want := "Server Clients Memory Persistence Stats Replication CPU Modules Errorstats Cluster Keyspace Raft"
	if strings.Join(headers, " ") != want {
		t.Errorf("INFO sections = %v", headers)
	}
	if strings.HasSuffix(text, "\r\n\r\n") || !strings.HasSuffix(text, "\r\n") || strings.Contains(text, "\n\n") {
		t.Errorf("INFO line structure: %q", text[len(text)-40:])
	}
	for _, f := range []string{"redis_version:7.0.15\r\n", "troika_version:0.1.0\r\n", "redis_mode:cluster\r\n",
		"connected_clients:1\r\n", "used_memory:", "used_memory_human:", "cluster_enabled:1\r\n",
		"db0:keys=3,expires=0,avg_ttl=0\r\n", "raft_term:7\r\n", "errorstat_ERR:count=2\r\n",
		"used_cpu_user:", "total_commands_processed:", "tcp_port:", "run_id:"} {
		if !strings.Contains(text, f) {
			t.Errorf("INFO lacks %q", f)
		}
	}
	if strings.Contains(text, "cmdstat_") {
		t.Error("default INFO must not include commandstats")
	}
	stats := parseTree(t, c.do("INFO", "COMMANDSTATS", "cluster")).str
	if !strings.HasPrefix(stats, "# Commandstats\r\n") || !strings.Contains(stats, "\r\n\r\n# Cluster\r\ncluster_enabled:1\r\n") {
		t.Errorf("INFO commandstats cluster = %q", stats)
	}
	if !regexp.MustCompile(`cmdstat_get:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0\r\n`).MatchString(stats) {
		t.Errorf("cmdstat_get line missing: %q", stats)
	}
	if all := parseTree(t, c.do("INFO", "all")).str; !strings.Contains(all, "# Commandstats") || !strings.Contains(all, "# Server") {
		t.Error("INFO all lacks sections")
	}
	if got := c.do("INFO", "nosuchsection"); got != "$0\r\n\r\n" {
		t.Errorf("INFO unknown section = %q", got)
	}
	c.do("CONFIG", "RESETSTAT")
	if s := parseTree(t, c.do("INFO", "commandstats")).str; strings.Contains(s, "cmdstat_get:") {
		t.Errorf("RESETSTAT kept command stats: %q", s)
	}
}

func TestConfigCommands(t *testing.T) {
	st := newFakeSettings()
	srv, addr := testServer(t, Config{Settings: st})
	c := dial(t, addr)
	if got := c.do("CONFIG", "GET", "maxclients", "timeout", "maxc*"); got != "*4\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n$7\r\ntimeout\r\n$1\r\n0\r\n" {
		t.Errorf("CONFIG GET = %q", got)
	}
	if got := c.do("CONFIG", "SET", "maxclients", "5", "timeout", "7"); got != "+OK\r\n" {
		t.Errorf("CONFIG SET = %q", got)
	}
	if srv.maxClients.Load() != 5 || srv.timeout.Load() != int64(7e9) {
		t.Errorf("SetOption not applied: maxclients=%d timeout=%d", srv.maxClients.Load(), srv.timeout.Load())
	}
	// All or nothing: the second directive fails, the first is restored.
	got := c.do("CONFIG", "SET", "maxclients", "6", "timeout", "x")
	if got != "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n" {
		t.Errorf("failed CONFIG SET = %q", got)
	}
	if v := st.Get("maxclients")[0][1]; v != "5" || srv.maxClients.Load() != 5 {
		t.Errorf("maxclients after a failed CONFIG SET = %s / %d", v, srv.maxClients.Load())
	}
	for args, want := range map[string]string{
		"CONFIG SET a b c":               "-ERR syntax error\r\n",
		"CONFIG SET foo bar":             "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n",
		"CONFIG SET timeout 1 timeout 2": "-ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter\r\n",
		"CONFIG GET":                     "-ERR wrong number of arguments for 'config|get' command\r\n",
		"CONFIG REWRITE":                 "-ERR The server is running without a config file\r\n",
		"CONFIG RESETSTAT":               "+OK\r\n",
	} {
		if got := c.do(strings.Fields(args)...); got != want {
			t.Errorf("%s = %q, want %q", args, got, want)
		}
	}
	if got := c.do("CONFIG", "SET", "requirepass", "pw"); got != "+OK\r\n" {
		t.Errorf("CONFIG SET requirepass = %q", got)
	}
	if got := dial(t, addr).do("PING"); got != "-NOAUTH Authentication required.\r\n" {
		t.Errorf("requirepass not applied: %q", got)
	}
}

func TestSlowlog(t *testing.T) {
	srv, addr := testServer(t, Config{})
	c := dial(t, addr)
	srv.SetOption("slowlog-log-slower-than", "0")
	c.do("CLIENT", "SETNAME", "slow")
	c.do("SLOWLOG", "RESET")
	long := strings.Repeat("v", 200)
	c.do("ECHO", long)
	c.do("AUTH", "default", "secret-password")
	// Like Redis, SLOWLOG RESET itself is logged once it has run.
	if got := c.do("SLOWLOG", "LEN"); got != ":3\r\n" {
		t.Errorf("SLOWLOG LEN = %q", got)
	}
	entries := parseTree(t, c.do("SLOWLOG", "GET", "-1"))
	if len(entries.children) != 4 {
		t.Fatalf("SLOWLOG GET -1 = %q", entries.raw)
	}
	auth := entries.children[1] // newest first: SLOWLOG LEN, AUTH, ECHO
	if a := auth.children[3]; a.raw != "*3\r\n$4\r\nAUTH\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n" {
		t.Errorf("AUTH not redacted: %q", a.raw)
	}
	echo := entries.children[2]
	if len(echo.children) != 6 || echo.children[5].str != "slow" || !strings.HasPrefix(echo.children[4].str, "127.0.0.1:") {
		t.Errorf("entry = %q", echo.raw)
	}
	if arg := echo.children[3].children[1].str; arg != long[:128]+"... (72 more bytes)" {
		t.Errorf("long argument = %q", arg)
	}
	if got := parseTree(t, c.do("SLOWLOG", "GET", "1")); len(got.children) != 1 {
		t.Errorf("SLOWLOG GET 1 = %q", got.raw)
	}
	srv.SetOption("slowlog-max-len", "1")
	if got := c.do("SLOWLOG", "LEN"); got != ":1\r\n" {
		t.Errorf("SLOWLOG LEN after max-len 1 = %q", got)
	}
}

func TestErrorTexts(t *testing.T) {
	cases := []struct {
		r    fsm.Reply
		want string
	}{
		{fsm.Err(fsm.CodeWrongType), "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{fsm.Err(fsm.CodeSyntax), "ERR syntax error"},
		{fsm.ErrArg(fsm.CodeWrongArgs, "GET"), "ERR wrong number of arguments for 'get' command"},
		{fsm.ErrArg(fsm.CodeInvalidExpire, "set"), "ERR invalid expire time in 'set' command"},
		{fsm.ErrArg(fsm.CodeUnsupportedOpt, "TYPE"), "ERR Unsupported option TYPE"},
		{fsm.ErrArg(fsm.CodeUnknownSubcmd, "'foo'. Try OBJECT HELP."), "ERR unknown subcommand 'foo'. Try OBJECT HELP."},
		{fsm.Reply{Kind: fsm.KindError, Code: fsm.CodeMoved, Int: 3999, Str: "10.0.0.1:6379"}, "MOVED 3999 10.0.0.1:6379"},
		{fsm.Reply{Kind: fsm.KindError, Code: fsm.CodeAsk, Int: 1, Str: "10.0.0.1:6379"}, "ASK 1 10.0.0.1:6379"},
		{fsm.Err(fsm.CodeCrossSlot), "CROSSSLOT Keys in request don't hash to the same slot"},
		{fsm.Err(fsm.CodeSlotNotServed), "CLUSTERDOWN Hash slot not served"},
		{fsm.ErrArg(fsm.CodeUnknownCommand, "foo"), "ERR unknown command 'foo', with args beginning with: "},
		{fsm.ErrArg(fsm.CodeUnknownCommand, "'foo', with args beginning with: 'x' "), "ERR unknown command 'foo', with args beginning with: 'x' "},
		{fsm.ErrArg(fsm.CodeTimeout, "raft apply: timed out"), "TIMEOUT the outcome of the command is unknown: raft apply: timed out"},
		{fsm.Err(fsm.CodeCopyCluster), "ERR Copying to another database is not allowed in cluster mode"},
		{fsm.ErrMsg("ERR multi\r\nline"), "ERR multi  line"},
		{fsm.Err(fsm.Code(60000)), "ERR internal error (error code 60000)"},
		{fsm.Err(fsm.CodeFailoverMaster), "ERR You should send CLUSTER FAILOVER to a replica"},
		{fsm.ErrArg(fsm.CodeUnknownSubArity, "cluster|FaIlOvEr"), "ERR unknown subcommand or wrong number of arguments for 'FaIlOvEr'. Try CLUSTER HELP."},
	}
	for _, c := range cases {
		if got := errorText(c.r); got != c.want {
			t.Errorf("errorText(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
	// Every code the FSM declares has a text.
	for code := fsm.CodeSyntax; code <= fsm.CodeLCSMemory; code++ {
		if _, ok := codeText[code]; !ok {
			if _, ok := codeFormat[code]; !ok && code != fsm.CodeMoved && code != fsm.CodeAsk {
				t.Errorf("code %d has no text", code)
			}
		}
	}
}
