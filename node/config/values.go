package config

import (
	"math"
	"strings"
	"time"
)

// Values is a typed snapshot of every directive. Durations are converted
// from the directive's unit (noted per field); everything else keeps the
// directive's meaning.
type Values struct {
	Port        int      // port
	Bind        []string // bind: as given, e.g. ["*", "-::*"]
	Dir         string   // dir, as configured (may be relative)
	ClusterPort int      // cluster-port, resolved: Port+10000 when configured as 0

	LogLevel string // loglevel: LogDebug, LogVerbose, LogNotice or LogWarning
	LogFile  string // logfile: "" = standard output

	RequirePass   string // requirepass: "" = no password
	ProtectedMode bool   // protected-mode

	AppendFsync string // appendfsync: FsyncAlways, FsyncEverysec or FsyncNo
	AppendOnly  bool   // appendonly (informational)
	Save        string // save: "seconds changes ..." pairs (ignored)

	ClusterEnabled             bool          // cluster-enabled (always true)
	ClusterRequireFullCoverage bool          // cluster-require-full-coverage
	ClusterAllowReadsWhenDown  bool          // cluster-allow-reads-when-down
	ClusterNodeTimeout         time.Duration // cluster-node-timeout (ms)
	ClusterAnnounceIP          string        // cluster-announce-ip
	ClusterAnnouncePort        int           // cluster-announce-port: 0 = Port
	ClusterAnnounceBusPort     int           // cluster-announce-bus-port: 0 = ClusterPort
	ClusterConfigFile          string        // cluster-config-file (unused)
	ClusterGroups              int           // cluster-groups
	ClusterReplicas            int           // cluster-replicas
	ClusterJoin                []string      // cluster-join: host:port entries; nil = bootstrap
	ClusterMode                string        // cluster-mode: ModeCP or ModeAP

	ProtoMaxBulkLen        int64         // proto-max-bulk-len (bytes)
	ClientQueryBufferLimit int64         // client-query-buffer-limit (bytes)
	MaxClients             int64         // maxclients
	Timeout                time.Duration // timeout (s): 0 = never
	TCPKeepAlive           time.Duration // tcp-keepalive (s): 0 = off
	Databases              int           // databases (informational)
	MaxMemory              uint64        // maxmemory (bytes, informational)

	SlowlogLogSlowerThan    int64 // slowlog-log-slower-than (µs): -1 = off, 0 = all
	SlowlogMaxLen           int64 // slowlog-max-len
	LatencyMonitorThreshold int64 // latency-monitor-threshold (ms): 0 = off
	Hz                      int   // hz, already clamped to 1..500

	Daemonize   bool // daemonize (always false)
	DebugUnsafe bool // debug-unsafe
	// DebugBugs: debug-bugs, the planted bugs switched on (Bug* names);
	// nil = none. Non-nil only with DebugUnsafe.
	DebugBugs []string
	// DebugClockOffset: debug-clock-offset-ms, the data clock's shift.
	DebugClockOffset time.Duration

	RaftSnapshotInterval  time.Duration // raft-snapshot-interval (ms)
	RaftSnapshotThreshold uint64        // raft-snapshot-threshold (entries)
	RaftTrailingLogs      uint64        // raft-trailing-logs (entries)
	RaftElectionTimeout   time.Duration // raft-election-timeout (ms)
	RaftHeartbeatTimeout  time.Duration // raft-heartbeat-timeout (ms)
}

// Values returns the typed snapshot of c.
func (c *Config) Values() Values {
	ms := func(name string) time.Duration { return durationOf(c.Int(name), time.Millisecond) }
	sec := func(name string) time.Duration { return durationOf(c.Int(name), time.Second) }
	i := func(name string) int { return int(c.Int(name)) }
	v := Values{
		Port:        i("port"),
		Bind:        strings.Split(c.String("bind"), " "),
		Dir:         c.String("dir"),
		ClusterPort: i("cluster-port"),

		LogLevel: c.String("loglevel"),
		LogFile:  c.String("logfile"),

		RequirePass:   c.String("requirepass"),
		ProtectedMode: c.Bool("protected-mode"),

		AppendFsync: c.String("appendfsync"),
		AppendOnly:  c.Bool("appendonly"),
		Save:        c.String("save"),

		ClusterEnabled:             c.Bool("cluster-enabled"),
		ClusterRequireFullCoverage: c.Bool("cluster-require-full-coverage"),
		ClusterAllowReadsWhenDown:  c.Bool("cluster-allow-reads-when-down"),
		ClusterNodeTimeout:         ms("cluster-node-timeout"),
		ClusterAnnounceIP:          c.String("cluster-announce-ip"),
		ClusterAnnouncePort:        i("cluster-announce-port"),
		ClusterAnnounceBusPort:     i("cluster-announce-bus-port"),
		ClusterConfigFile:          c.String("cluster-config-file"),
		ClusterGroups:              i("cluster-groups"),
		ClusterReplicas:            i("cluster-replicas"),
		ClusterMode:                c.String("cluster-mode"),

		ProtoMaxBulkLen:        c.Int("proto-max-bulk-len"),
		ClientQueryBufferLimit: c.Int("client-query-buffer-limit"),
		MaxClients:             c.Int("maxclients"),
		Timeout:                sec("timeout"),
		TCPKeepAlive:           sec("tcp-keepalive"),
		Databases:              i("databases"),
		MaxMemory:              c.Bytes("maxmemory"),

		SlowlogLogSlowerThan:    c.Int("slowlog-log-slower-than"),
		SlowlogMaxLen:           c.Int("slowlog-max-len"),
		LatencyMonitorThreshold: c.Int("latency-monitor-threshold"),
		Hz:                      i("hz"),

		Daemonize:        c.Bool("daemonize"),
		DebugUnsafe:      c.Bool("debug-unsafe"),
		DebugClockOffset: time.Duration(c.Int("debug-clock-offset-ms")) * time.Millisecond,

		RaftSnapshotInterval:  ms("raft-snapshot-interval"),
		RaftSnapshotThreshold: uint64(c.Int("raft-snapshot-threshold")),
		RaftTrailingLogs:      uint64(c.Int("raft-trailing-logs")),
		RaftElectionTimeout:   ms("raft-election-timeout"),
		RaftHeartbeatTimeout:  ms("raft-heartbeat-timeout"),
	}
	if v.ClusterPort == 0 {
		v.ClusterPort = v.Port + 10000
	}
	if j := c.String("cluster-join"); j != "" {
		v.ClusterJoin = strings.Split(j, ",")
	}
	if b := c.String("debug-bugs"); b != "" {
		v.DebugBugs = strings.Split(b, ",")
	}
	return v
}

// ClusterPort returns the cluster bus port: cluster-port, or port+10000
// when it is 0.
func (c *Config) ClusterPort() int {
	if p := c.Int("cluster-port"); p != 0 {
		return int(p)
	}
	return int(c.Int("port")) + 10000
}

// formatGet returns the value of a directive as CONFIG GET shows it.
func (c *Config) formatGet(name string) string {
	v := c.vals[name]
	if name == "dir" {
		return absDir(v)
	}
	return v
}

// durationOf converts n units to a Duration, saturating instead of
// overflowing (cluster-node-timeout accepts up to 2^63-1 ms).
func durationOf(n int64, unit time.Duration) time.Duration {
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64
	}
	return time.Duration(n) * unit
}
