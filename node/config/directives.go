package config

import (
	"errors"
	"fmt"
	"github.com/troika-db/troika/fsm"
	"math"
	"net"
	"strconv"
	"strings"
)

// Enumerated values, as they appear in Values.
const (
	LogDebug   = "debug"
	LogVerbose = "verbose"
	LogNotice  = "notice"
	LogWarning = "warning"

	FsyncAlways   = "always"
	FsyncEverysec = "everysec"
	FsyncNo       = "no"

	ModeCP = "cp"
	ModeAP = "ap"
)

// maxBindAddrs is Redis's CONFIG_BINDADDR_MAX.
const maxBindAddrs = 16

// maxIncludeDepth bounds nested include directives (Redis has no bound and
// overflows its stack on an include cycle).
const maxIncludeDepth = 32

// DirectiveInfo describes one directive, for documentation (the README
// configuration table is generated from Directives()).
type DirectiveInfo struct {
	Name    string
	Type    string // "integer 0..65535", "yes|no", "always|everysec|no", "memory", ...
	Default string // in configuration-file syntax
	Runtime bool   // changeable with CONFIG SET
	Doc     string // one line
}

type directive struct {
	DirectiveInfo
	kind
}

// table is the one place where directives are declared. Keep it sorted by
// name; init checks that, and that every default parses.
var table = []directive{
	{info("appendfsync", "always", false, "When a write is acknowledged: `always` = only after a quorum of replicas has fsynced it to the Raft log; `everysec` = like `no` plus an fsync every second; `no` = never fsync explicitly (unsafe: a power loss can lose acknowledged writes)."),
		enumKind(FsyncEverysec, FsyncAlways, FsyncNo)},
	{info("appendonly", "yes", false, "Accepted for compatibility and informational only: every write goes to the replicated Raft log."),
		boolKind()},
	{info("bind", "* -::*", false, "Addresses to listen on (1 to 16). `*` is every IPv4 address, `::*` every IPv6 one; a leading `-` makes an address optional (skipped when unavailable)."),
		bindKind()},
	{info("client-query-buffer-limit", "1gb", true, "Maximum size of one client's query buffer."),
		memKind(1<<20, math.MaxInt64)},
	{info("cluster-allow-reads-when-down", "no", true, "Serve reads of a group that lost its quorum from the local replica (possibly stale); writes get CLUSTERDOWN ... only accepts read commands."),
		boolKind()},
	{info("cluster-announce-bus-port", "0", false, "Cluster bus port announced to other nodes; 0 = the actual cluster port."),
		intKind(0, 65535)},
	{info("cluster-announce-ip", "", false, "IP address announced to other nodes and clients; empty = detected."),
		stringKind()},
	{info("cluster-announce-port", "0", false, "Client port announced to other nodes and clients; 0 = the actual port."),
		intKind(0, 65535)},
	{info("cluster-config-file", "nodes.conf", false, "Accepted for compatibility; unused (cluster state lives in the Raft logs under `dir`)."),
		stringKind()},
	{info("cluster-enabled", "yes", false, "Must be `yes`: Troika always runs in cluster mode."),
		clusterEnabledKind()},
	{info("cluster-groups", "16", false, "Troika: number of Raft groups the 16384 slots are spread over."),
		intKind(1, 1024)},
	{info("cluster-join", "", false, "Troika: comma-separated host:port list of existing members (client or cluster port) to join through; empty = bootstrap a new cluster on an empty `dir`. Harmless on restart."),
		joinKind()},
	{info("cluster-mode", "cp", true, "Troika: cluster-wide (committed through the meta group). `cp` = linearizable; `ap` = also serve reads of groups without quorum and READONLY follower reads from local replicas (possibly stale); writes always need a quorum."),
		enumKind(ModeCP, ModeAP)},
	{info("cluster-node-timeout", "15000", true, "Milliseconds a node may be gone before its replicas are placed on other nodes; below 5000 also selects fast gossip failure detection."),
		intKind(0, math.MaxInt64)},
	{info("cluster-port", "0", false, "Cluster bus port; 0 = port + 10000, as Redis."),
		intKind(0, 65535)},
	{info("cluster-replicas", "3", false, "Troika: number of replicas (Raft voters) per group."),
		intKind(1, 7)},
	{info("cluster-require-full-coverage", "yes", true, "`yes`: while any group has lost its quorum, data commands fail on every node (CLUSTERDOWN The cluster is down); `no`: only that group's slots fail (CLUSTERDOWN Hash slot not served)."),
		boolKind()},
	{info("daemonize", "no", false, "Must be `no`: Troika does not daemonize; use a service manager."),
		daemonizeKind()},
	{info("databases", "16", false, "Informational: cluster mode only allows database 0."),
		intKind(1, math.MaxInt32)},
	{info("debug-bugs", "", true, "Test-only (troika-jepsen's self-test): comma-separated planted bugs to switch on: follower-reads, unverified-leader-reads, skip-fsync, apply-time-ttl, retry-proposals (see Test-only switches). Refused unless debug-unsafe is yes."),
		bugsKind()},
	{info("debug-clock-offset-ms", "0", true, "Test-only: shift this node's data clock (TTL deadlines, expiry, TIME) by this many milliseconds; raft's timers are unaffected. Refused unless debug-unsafe is yes."),
		clockOffsetKind()},
	{info("debug-unsafe", "no", false, "Allow the test-only switches debug-bugs and debug-clock-offset-ms, which break consistency on purpose (startup only; logs a warning). Never in production."),
		boolKind()},
	{info("dir", "./", false, "Data directory (Raft logs and snapshots). CONFIG GET shows it as an absolute path."),
		stringKind()},
	{info("hz", "10", true, "Frequency of background tasks per second; values outside 1..500 are clamped, as Redis does."),
		hzKind()},
	{info("latency-monitor-threshold", "0", true, "Record events slower than this many milliseconds for LATENCY; 0 = off."),
		intKind(0, math.MaxInt64)},
	{info("logfile", "", false, "Log file path; empty = standard output."),
		stringKind()},
	{info("loglevel", "notice", false, "Log verbosity."),
		enumKind(LogDebug, LogVerbose, LogNotice, LogWarning)},
	{info("maxclients", "10000", true, "Maximum number of simultaneously connected clients."),
		intKind(1, math.MaxUint32)},
	{info("maxmemory", "0", true, "Informational: accepted and reported, not enforced."),
		memKind(0, math.MaxUint64)},
	{info("port", "6379", false, "TCP port for clients."),
		intKind(0, 65535)},
	{info("protected-mode", "yes", true, "Without requirepass, only accept clients from loopback addresses."),
		boolKind()},
	{info("proto-max-bulk-len", "512mb", true, "Maximum size of one bulk string in a request."),
		memKind(1<<20, math.MaxInt64)},
	{info("raft-election-timeout", "1000", false, "Troika: milliseconds without a leader before a follower starts an election (>= raft-heartbeat-timeout)."),
		intKind(5, math.MaxInt32)},
	{info("raft-heartbeat-timeout", "1000", false, "Troika: milliseconds without leader contact before a follower suspects the leader."),
		intKind(5, math.MaxInt32)},
	{info("raft-snapshot-interval", "30000", false, "Troika: how often (ms) each group checks whether it has raft-snapshot-threshold new entries to snapshot (raft adds up to the same again at random)."),
		intKind(1, math.MaxInt32)},
	{info("raft-snapshot-threshold", "8192", false, "Troika: Raft log entries per group between snapshots."),
		intKind(1, math.MaxInt64)},
	{info("raft-trailing-logs", "10240", false, "Troika: Raft log entries kept after a snapshot, so that slow followers can catch up without one."),
		intKind(0, math.MaxInt64)},
	{info("requirepass", "", true, "Password for AUTH; empty = no password."),
		stringKind()},
	{info("save", "", true, "Accepted for compatibility (pairs of seconds and changes, or \"\"); ignored: the Raft log is the persistence."),
		saveKind()},
	{info("slowlog-log-slower-than", "10000", true, "Log commands slower than this many microseconds in SLOWLOG; 0 = every command, -1 = off."),
		intKind(-1, math.MaxInt64)},
	{info("slowlog-max-len", "128", true, "Maximum number of SLOWLOG entries."),
		intKind(0, math.MaxInt64)},
	{info("tcp-keepalive", "300", false, "TCP keepalive period for client connections in seconds; 0 = off."),
		intKind(0, math.MaxInt32)},
	{info("timeout", "0", true, "Close client connections idle for this many seconds; 0 = never."),
		intKind(0, math.MaxInt32)},
}

// byName indexes table by (lower-case) name.
var byName = map[string]*directive{}

func init() {
	for i := range table {
		d := &table[i]
		d.Type = d.typ
		if i > 0 && table[i-1].Name >= d.Name {
			panic("config: directive table not sorted at " + d.Name)
		}
		byName[d.Name] = d
	}
}

func info(name, def string, runtime bool, doc string) DirectiveInfo {
	return DirectiveInfo{Name: name, Default: def, Runtime: runtime, Doc: doc}
}

// Directives returns every directive, sorted by name.
func Directives() []DirectiveInfo {
	out := make([]DirectiveInfo, len(table))
	for i := range table {
		out[i] = table[i].DirectiveInfo
	}
	return out
}

// MarkdownTable renders Directives() as a Markdown table for the README.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Directive | Type | Default | CONFIG SET | Description |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, d := range Directives() {
		def := d.Default
		if def == "" {
			def = `""`
		}
		rt := "no"
		if d.Runtime {
			rt = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", d.Name,
			strings.ReplaceAll(d.Type, "|", `\|`), def, rt, strings.ReplaceAll(d.Doc, "|", `\|`))
	}
	return b.String()
}

func lookup(name string) *directive {
	return byName[asciiToLower(name)]
}

func clusterEnabledKind() kind {
	k := boolKind()
	inner := k.set
	k.set = func(args []string, prev string, fromFile bool) (string, error) {
		v, err := inner(args, prev, fromFile)
		if err == nil && v == "no" {
			return "", errors.New("Troika always runs in cluster mode; cluster-enabled must be 'yes'")
		}
		return v, err
	}
	return k
}

func daemonizeKind() kind {
	k := boolKind()
	inner := k.set
	k.set = func(args []string, prev string, fromFile bool) (string, error) {
		v, err := inner(args, prev, fromFile)
		if err == nil && v == "yes" {
			return "", errors.New("Troika does not daemonize; use a service manager")
		}
		return v, err
	}
	return k
}

// hzKind accepts 0..INT_MAX like Redis and stores the value clamped to
// 1..500, so CONFIG GET hz shows what is in effect (as Redis does).
func hzKind() kind {
	k := intKind(0, math.MaxInt32)
	k.typ = "integer 1..500"
	inner := k.set
	k.set = func(args []string, prev string, fromFile bool) (string, error) {
		v, err := inner(args, prev, fromFile)
		if err != nil {
			return "", err
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		n = min(max(n, 1), 500)
		return strconv.FormatInt(n, 10), nil
	}
	return k
}

// bindKind takes 1..16 addresses; the canonical value joins them with
// spaces. A single empty argument means none, which Troika refuses: it has
// no unix socket to fall back to.
func bindKind() kind {
	return kind{typ: "list of addresses", multi: true, set: func(args []string, _ string, _ bool) (string, error) {
		if len(args) == 1 && args[0] == "" {
			args = nil
		}
		if len(args) > maxBindAddrs {
			return "", errors.New("Too many bind addresses specified.")
		}
		if len(args) == 0 {
			return "", errors.New("at least one bind address is required")
		}
		for _, a := range args {
			if a == "" || strings.ContainsAny(a, " \t") {
				return "", fmt.Errorf("invalid bind address %s", fsm.Quote(a))
			}
		}
		return strings.Join(args, " "), nil
	}}
}

// saveKind validates like Redis 7.0's save: pairs of seconds (>= 1) and
// changes (>= 0); a single "" means no save points. In a configuration file
// successive lines add save points; CONFIG SET replaces them.
func saveKind() kind {
	return kind{typ: "save points", multi: true, set: func(args []string, prev string, fromFile bool) (string, error) {
		reset := false
		if len(args) == 1 && args[0] == "" {
			args, reset = nil, true
		}
		if len(args)%2 != 0 {
			return "", errors.New(errSaveArgs)
		}
		pairs := make([]string, 0, len(args))
		for j, a := range args {
			n, ok := strtoll(a)
			if !ok || (j%2 == 0 && n < 1) || (j%2 == 1 && n < 0) {
				return "", errors.New(errSaveArgs)
			}
			if j%2 == 1 {
				n = int64(int32(n)) // Redis stores changes in a C int
			}
			pairs = append(pairs, strconv.FormatInt(n, 10))
		}
		if fromFile && !reset && prev != "" {
			return prev + " " + strings.Join(pairs, " "), nil
		}
		return strings.Join(pairs, " "), nil
	}}
}

// joinKind is a comma-separated list of host:port addresses; blanks around
// entries and empty entries are dropped. The canonical value is the
// cleaned list joined with commas.
func joinKind() kind {
	return kind{typ: "host:port list", set: single(func(v string) (string, error) {
		addrs, err := splitJoin(v)
		if err != nil {
			return "", err
		}
		return strings.Join(addrs, ","), nil
	})}
}

func splitJoin(v string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		host, port, err := net.SplitHostPort(part)
		if err != nil || host == "" {
			return nil, fmt.Errorf("argument must be a comma-separated list of host:port addresses; '%s' is not one", part)
		}
		if p, ok := string2ll(port); !ok || p < 1 || p > 65535 {
			return nil, fmt.Errorf("invalid port in '%s': must be between 1 and 65535", part)
		}
		out = append(out, part)
	}
	return out, nil
}
