package resp

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// infoSection is one INFO section, in Redis's order.
type infoSection struct {
	name       string // lower-case name used to select it
	title      string // "# Title" header
	defaultSet bool   // part of INFO / INFO default
	allSet     bool   // part of INFO all (everything includes all sections)
	gen        func(s *Server, b *infoBuf)
}

var infoSections = []infoSection{
	{"server", "Server", true, true, (*Server).infoServer},
	{"clients", "Clients", true, true, (*Server).infoClients},
	{"memory", "Memory", true, true, (*Server).infoMemory},
	{"persistence", "Persistence", true, true, (*Server).infoPersistence},
	{"stats", "Stats", true, true, (*Server).infoStats},
	{"replication", "Replication", true, true, (*Server).infoReplication},
	{"cpu", "CPU", true, true, (*Server).infoCPU},
	{"modules", "Modules", true, true, func(*Server, *infoBuf) {}},
	{"commandstats", "Commandstats", false, true, (*Server).infoCommandStats},
	{"errorstats", "Errorstats", true, true, (*Server).infoErrorStats},
	{"cluster", "Cluster", true, true, (*Server).infoCluster},
	{"keyspace", "Keyspace", true, true, backendSection("keyspace", "")},
	{"raft", "Raft", true, true, backendSection("raft", "")},
}

// infoBuf accumulates "field:value\r\n" lines.
type infoBuf struct{ strings.Builder }

func (b *infoBuf) kv(k string, v any) {
	b.WriteString(k)
	b.WriteByte(':')
	fmt.Fprint(b, v)
	b.WriteString("\r\n")
}

// raw appends backend-provided lines, normalizing line ends to CRLF.
func (b *infoBuf) raw(text string) {
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			b.WriteString(l)
			b.WriteString("\r\n")
		}
	}
}

func cmdInfo(c *conn, args [][]byte) {
	c.w.verbatim(c.srv.infoText(args[1:]))
}

// infoText builds the INFO reply for the requested section names: none
// means "default"; "all" adds commandstats; "everything" is all.
// Sections always come out in Redis's order, separated by a blank line.
func (s *Server) infoText(names [][]byte) string {
	want := make(map[string]bool)
	all, dflt := false, len(names) == 0
	for _, n := range names {
		switch name := strings.ToLower(string(n)); name {
		case "all", "everything":
			all = true
		case "default":
			dflt = true
		default:
			want[name] = true
		}
	}
	var out strings.Builder
	for _, sec := range infoSections {
		if !(want[sec.name] || all && sec.allSet || dflt && sec.defaultSet) {
			continue
		}
		var b infoBuf
		sec.gen(s, &b)
		if sec.name == "raft" && b.Len() == 0 {
			continue // Troika's own section: shown only when the node fills it
		}
		if out.Len() > 0 {
			out.WriteString("\r\n")
		}
		out.WriteString("# " + sec.title + "\r\n")
		out.WriteString(b.String())
	}
	return out.String()
}

func backendSection(name, fallback string) func(*Server, *infoBuf) {
	return func(s *Server, b *infoBuf) {
		text := s.backend.Info(name)
		if text == "" {
			text = fallback
		}
		b.raw(text)
	}
}

func (s *Server) infoServer(b *infoBuf) {
	now := time.Now()
	up := now.Sub(s.started)
	b.kv("redis_version", RedisVersion)
	b.kv("troika_version", s.cfg.Version)
	b.kv("redis_git_sha1", "00000000")
	b.kv("redis_git_dirty", 0)
	b.kv("redis_mode", "cluster")
	b.kv("os", osString())
	b.kv("arch_bits", strconv.IntSize)
	b.kv("go_version", runtime.Version())
	b.kv("process_id", os.Getpid())
	b.kv("process_supervised", "no")
	b.kv("run_id", s.cfg.RunID)
	b.kv("tcp_port", s.tcpPort.Load())
	b.kv("server_time_usec", now.UnixMicro())
	b.kv("uptime_in_seconds", int64(up/time.Second))
	b.kv("uptime_in_days", int64(up/(24*time.Hour)))
	b.kv("hz", 10)
	b.kv("configured_hz", 10)
	b.kv("executable", s.cfg.Executable)
	b.kv("config_file", s.cfg.ConfigFile)
}

func (s *Server) infoClients(b *infoBuf) {
	clients := s.clients()
	maxIn, maxOut := 0, 0
	for _, c := range clients {
		in := c.snapshot()
		maxIn = max(maxIn, in.qbufCap)
		maxOut = max(maxOut, in.outCap)
	}
	b.kv("connected_clients", len(clients))
	b.kv("cluster_connections", 0)
	b.kv("maxclients", s.maxClients.Load())
	b.kv("client_recent_max_input_buffer", maxIn)
	b.kv("client_recent_max_output_buffer", maxOut)
	b.kv("blocked_clients", 0)
	b.kv("tracking_clients", 0)
	b.kv("clients_in_timeout_table", 0)
}

// bytesToHuman is Redis's bytesToHuman.
func bytesToHuman(n uint64) string {
	const k = 1024.0
	f := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatUint(n, 10) + "B"
	case f < k*k:
		return fmt.Sprintf("%.2fK", f/k)
	case f < k*k*k:
		return fmt.Sprintf("%.2fM", f/(k*k))
	case f < k*k*k*k:
		return fmt.Sprintf("%.2fG", f/(k*k*k))
	case f < k*k*k*k*k:
		return fmt.Sprintf("%.2fT", f/(k*k*k*k))
	default:
		return fmt.Sprintf("%.2fP", f/(k*k*k*k*k))
	}
}

func (s *Server) infoMemory(b *infoBuf) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	metrics.Read(samples)
	var used, total uint64
	if samples[0].Value.Kind() == metrics.KindUint64 {
		used = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == metrics.KindUint64 {
		total = samples[1].Value.Uint64()
	}
	peak := s.stats.notePeakMemory(used)
	rss := residentBytes()
	if rss == 0 {
		rss = total
	}
	b.kv("used_memory", used)
	b.kv("used_memory_human", bytesToHuman(used))
	b.kv("used_memory_rss", rss)
	b.kv("used_memory_rss_human", bytesToHuman(rss))
	b.kv("used_memory_peak", peak)
	b.kv("used_memory_peak_human", bytesToHuman(peak))
	if sys := totalSystemMemory(); sys > 0 {
		b.kv("total_system_memory", sys)
		b.kv("total_system_memory_human", bytesToHuman(sys))
	}
	maxmem := uint64(0)
	policy := "noeviction"
	if s.settings != nil {
		for _, kv := range s.settings.Get("maxmemory*") {
			switch kv[0] {
			case "maxmemory":
				if n, ok := parseMemory(kv[1]); ok {
					maxmem = uint64(n)
				}
			case "maxmemory-policy":
				policy = kv[1]
			}
		}
	}
	b.kv("maxmemory", maxmem)
	b.kv("maxmemory_human", bytesToHuman(maxmem))
	b.kv("maxmemory_policy", policy)
	if rss > 0 && used > 0 {
		b.kv("mem_fragmentation_ratio", fmt.Sprintf("%.2f", float64(rss)/float64(used)))
	}
	b.kv("mem_allocator", "go")
}

func (s *Server) infoPersistence(b *infoBuf) {
	if text := s.backend.Info("persistence"); text != "" {
		b.raw(text)
		return
	}
	b.kv("loading", 0)
	b.kv("async_loading", 0)
}

func (s *Server) infoStats(b *infoBuf) {
	st := &s.stats
	b.kv("total_connections_received", st.connectionsReceived.Load())
	b.kv("total_commands_processed", st.commands.Load())
	b.kv("instantaneous_ops_per_sec", st.opsPerSec())
	b.kv("total_net_input_bytes", st.netInput.Load())
	b.kv("total_net_output_bytes", st.netOutput.Load())
	b.kv("rejected_connections", st.rejectedConns.Load())
	b.kv("expired_keys", 0)
	b.kv("evicted_keys", 0)
	b.kv("keyspace_hits", 0)
	b.kv("keyspace_misses", 0)
	channels, patterns, shard := s.hub.counts()
	b.kv("pubsub_channels", channels)
	b.kv("pubsub_patterns", patterns)
	b.kv("pubsubshard_channels", shard)
	b.kv("total_error_replies", st.errorReplies.Load())
}

func (s *Server) infoReplication(b *infoBuf) {
	if text := s.backend.Info("replication"); text != "" {
		b.raw(text)
		return
	}
	b.kv("role", "master")
	b.kv("connected_slaves", 0)
}

func (s *Server) infoCPU(b *infoBuf) {
	tv := func(t syscall.Timeval) string {
		return fmt.Sprintf("%d.%06d", t.Sec, t.Usec)
	}
	var self, children syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil {
		b.kv("used_cpu_sys", tv(self.Stime))
		b.kv("used_cpu_user", tv(self.Utime))
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children) == nil {
		b.kv("used_cpu_sys_children", tv(children.Stime))
		b.kv("used_cpu_user_children", tv(children.Utime))
	}
}

// infoCommandStats lists every command called or rejected at least once.
func (s *Server) infoCommandStats(b *infoBuf) {
	for _, c := range commandTable.all {
		st := s.cmdStats(c)
		calls, rejected, failed := st.calls.Load(), st.rejected.Load(), st.failed.Load()
		if calls == 0 && rejected == 0 && failed == 0 {
			continue
		}
		usec := st.usec.Load()
		perCall := 0.0
		if calls > 0 {
			perCall = float64(usec) / float64(calls)
		}
		b.kv("cmdstat_"+c.Name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			calls, usec, perCall, rejected, failed))
	}
}

func (s *Server) infoErrorStats(b *infoBuf) {
	for _, e := range s.stats.errorStats() {
		b.kv("errorstat_"+e.prefix, "count="+strconv.FormatInt(e.count, 10))
	}
}

func (s *Server) infoCluster(b *infoBuf) {
	text := s.backend.Info("cluster")
	if !strings.Contains(text, "cluster_enabled:") {
		b.kv("cluster_enabled", 1)
	}
	b.raw(text)
}
