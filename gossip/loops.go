package gossip

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// runEvents delivers queued events to Config.OnEvent, in order, and does the
// table's housekeeping (refuted suspects, retention). Owned by the Gossip.
func (g *Gossip) runEvents() {
	defer g.wg.Done()
	tick := time.NewTicker(g.tuning.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-g.tbl.signal:
		case now := <-tick.C:
			g.housekeeping(now)
		}
		for _, ev := range g.tbl.takeEvents() {
			if g.isClosed() {
				return
			}
			g.cfg.OnEvent(ev)
		}
	}
}

func (g *Gossip) housekeeping(now time.Time) {
	g.tbl.reap(g.tuning.DeadRetention, now)
	if !g.tbl.suspects() {
		return
	}
	nodes := g.ml.Members() // alive or suspect in memberlist
	listed := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		listed[n.Name] = true
	}
	// Twice the bound plus a few rounds: the table saw the suspicion a
	// little after memberlist started its timer.
	limit := 2*g.tuning.maxSuspicion(len(nodes)) + 4*g.tuning.ProbeInterval
	g.tbl.refuted(listed, limit, now)
}

// runRejoin joins, every RejoinInterval, the dead members and the
// remembered seeds whose address is not an alive member. memberlist never
// contacts dead members on its own (it only gossips to them for a while),
// so after a partition each side would keep the other dead forever; a
// push/pull with the other side makes both refute and come back alive.
// Stops after Leave. Owned by the Gossip.
func (g *Gossip) runRejoin() {
	defer g.wg.Done()
	tick := time.NewTicker(g.tuning.RejoinInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-tick.C:
		}
		if g.tbl.hasLeft() {
			return
		}
		for _, addr := range g.rejoinTargets(g.ctx) {
			if g.isClosed() {
				return
			}
			if n, err := g.ml.Join([]string{addr}); err != nil || n == 0 {
				g.logger.Debug("gossip: rejoin failed", "addr", addr, "err", err)
			} else {
				g.logger.Debug("gossip: rejoined", "addr", addr)
			}
		}
	}
}

// rejoinTargets lists dead members' addresses, then remembered seeds that
// resolve to no alive member (nor this node).
func (g *Gossip) rejoinTargets(ctx context.Context) []string {
	dead, live := g.tbl.rejoinTargets()
	live[g.tr.local] = true
	var out []string
	seen := make(map[string]bool)
	add := func(addr string) {
		if !live[addr] && !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	for _, addr := range dead {
		add(addr)
	}
	g.seedsMu.Lock()
	seeds := append([]string(nil), g.seeds...)
	g.seedsMu.Unlock()
	for _, seed := range seeds {
		addrs := resolveSeed(ctx, seed, g.tr.port)
		if len(addrs) == 0 {
			add(seed) // let memberlist resolve (and log) it
			continue
		}
		known := false
		for _, a := range addrs {
			known = known || live[a]
		}
		if !known {
			add(seed)
		}
	}
	return out
}

// resolveSeed turns a seed into ip:port strings comparable with Member.Addr.
func resolveSeed(ctx context.Context, seed string, defaultPort int) []string {
	host, port, err := net.SplitHostPort(seed)
	if err != nil { // no port
		host, port = strings.Trim(seed, "[]"), strconv.Itoa(defaultPort)
	}
	if ip := net.ParseIP(host); ip != nil {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		return []string{net.JoinHostPort(ip.String(), port)}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		out = append(out, net.JoinHostPort(ip.String(), port))
	}
	return out
}

// logWriter adapts memberlist's *log.Logger to slog: one Debug record per
// line, the "[LEVEL] memberlist:" prefix moved to an attribute. memberlist
// logs routine failures (probes of a dead node, refused dials) as [ERR],
// so nothing is promoted above Debug; what matters to operators is logged
// by this package itself.
type logWriter struct {
	logger *slog.Logger
}

func (w *logWriter) Write(p []byte) (int, error) {
	if !w.logger.Enabled(context.Background(), slog.LevelDebug) {
		return len(p), nil
	}
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		level, msg := splitLogLine(line)
		if msg == "" {
			continue
		}
		w.logger.Debug(msg, "source", "memberlist", "ml_level", level)
	}
	return len(p), nil
}

// splitLogLine parses "[WARN] memberlist: text" into "WARN", "text".
func splitLogLine(line string) (level, msg string) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			level, line = line[1:end], strings.TrimSpace(line[end+1:])
		}
	}
	return level, strings.TrimPrefix(line, "memberlist: ")
}
