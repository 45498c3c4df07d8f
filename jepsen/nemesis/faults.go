package nemesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/cluster"
)

// Grudger is implemented by backends that can apply an arbitrary
// one-directional drop list (node -> nodes whose traffic it drops), which
// a majorities ring needs; components cannot express it.
type Grudger interface {
	Grudge(ctx context.Context, grudge map[int][]int, cut cluster.Cut) error
}

func (n *Nemesis) partition(ctx context.Context, want string) func(context.Context) {
	live := n.live()
	if len(live) < 2 {
		return nil
	}
	cut := cluster.CutAll
	switch r := n.rng.Intn(10); {
	case r == 0:
		cut = cluster.CutRaft
	case r == 1:
		cut = cluster.CutGossip
	}
	var desc string
	var err error
	g, canRing := n.cfg.Cluster.(Grudger)
	variant := n.pick(want, 1, 1, 1)
	if variant == 2 && (!canRing || len(live) < 4) {
		variant = 0
	}
	switch variant {
	case 0: // random halves: a minority and a majority
		perm := n.rng.Perm(len(live))
		k := len(live) / 2
		var a, b []int
		for i, p := range perm {
			if i < k {
				a = append(a, live[p])
			} else {
				b = append(b, live[p])
			}
		}
		desc = fmt.Sprintf("halves %s | %s (%s)", n.names(a), n.names(b), cut)
		err = n.cfg.Cluster.Partition(ctx, [][]int{a, b}, cut)
	case 1: // a group leader isolated from everyone else
		x := n.someLeader(ctx, live)
		var rest []int
		for _, i := range live {
			if i != x {
				rest = append(rest, i)
			}
		}
		desc = fmt.Sprintf("isolate leader %s | %s (%s)", n.names([]int{x}), n.names(rest), cut)
		err = n.cfg.Cluster.Partition(ctx, [][]int{{x}, rest}, cut)
	default: // majorities ring: each node sees a majority, no two the same
		perm := n.rng.Perm(len(live))
		ring := make([]int, len(live))
		for i, p := range perm {
			ring[i] = live[p]
		}
		grudge := n.ringGrudge(ring)
		desc = fmt.Sprintf("majorities ring %s (%s)", n.names(ring), cut)
		err = g.Grudge(ctx, grudge, cut)
	}
	n.record("start-partition", desc, err)
	if err != nil {
		n.cfg.Cluster.Heal(ctx)
		n.record("stop-partition", "healed after a failed start", nil)
		return nil
	}
	return func(ctx context.Context) {
		n.record("stop-partition", "healed", n.cfg.Cluster.Heal(ctx))
	}
}

func (n *Nemesis) kill(ctx context.Context, want string) func(context.Context) {
	live := n.live()
	if len(live) == 0 {
		return nil
	}
	var victims []int
	var what string
	switch n.pick(want, 2, 1, 1) {
	case 0:
		victims, what = []int{n.someLeader(ctx, live)}, "one (a leader)"
	case 1:
		perm := n.rng.Perm(len(live))
		for _, p := range perm[:len(live)/2+1] {
			victims = append(victims, live[p])
		}
		what = "majority"
	default:
		victims, what = live, "all"
	}
	var errs []error
	for _, i := range victims {
		err := n.cfg.Cluster.Kill(ctx, i)
		if err == nil {
			n.mu.Lock()
			n.killed[i] = true
			n.mu.Unlock()
		}
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	n.record("start-kill", fmt.Sprintf("kill -9 %s: %s", what, n.names(victims)), err)
	return func(ctx context.Context) {
		var errs []error
		for _, i := range victims {
			errs = append(errs, n.restart(ctx, i))
		}
		n.record("stop-kill", "restarted "+n.names(victims), errors.Join(errs...))
	}
}

func (n *Nemesis) restart(ctx context.Context, i int) error {
	n.mu.Lock()
	was := n.killed[i]
	n.mu.Unlock()
	if !was {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := n.cfg.Cluster.Start(sctx, i); err != nil {
		return fmt.Errorf("restart %s: %w", n.names([]int{i}), err)
	}
	n.mu.Lock()
	delete(n.killed, i)
	n.mu.Unlock()
	return nil
}

func (n *Nemesis) pause(ctx context.Context, want string) func(context.Context) {
	live := n.live()
	if len(live) == 0 {
		return nil
	}
	x := live[n.rng.Intn(len(live))]
	what := "a node"
	if n.pick(want, 1, 1) == 1 {
		x, what = n.someLeader(ctx, live), "a leader"
	}
	err := n.cfg.Cluster.Pause(ctx, x)
	if err == nil {
		n.mu.Lock()
		n.paused[x] = true
		n.mu.Unlock()
	}
	n.record("start-pause", fmt.Sprintf("SIGSTOP %s: %s", what, n.names([]int{x})), err)
	return func(ctx context.Context) {
		n.record("stop-pause", "SIGCONT "+n.names([]int{x}), n.resume(ctx, x))
	}
}

func (n *Nemesis) resume(ctx context.Context, i int) error {
	n.mu.Lock()
	was := n.paused[i]
	n.mu.Unlock()
	if !was {
		return nil
	}
	if err := n.cfg.Cluster.Resume(ctx, i); err != nil {
		return err
	}
	n.mu.Lock()
	delete(n.paused, i)
	n.mu.Unlock()
	return nil
}

// membership adds a fresh node; its repair removes a random member (the
// new one or an original) so that the cluster returns to its size.
func (n *Nemesis) membership(ctx context.Context) func(context.Context) {
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	x, err := n.cfg.Cluster.AddNode(actx)
	cancel()
	if err != nil {
		n.record("start-membership", "add a node", err)
		return nil
	}
	n.record("start-membership", "added "+n.names([]int{x}), nil)
	return func(ctx context.Context) {
		live := n.live()
		var cands []int
		for _, i := range live {
			if !n.isDown(i) {
				cands = append(cands, i)
			}
		}
		if len(cands) <= 3 {
			n.record("stop-membership", "kept every node (too few left to remove one)", nil)
			return
		}
		v := cands[n.rng.Intn(len(cands))]
		rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		err := n.cfg.Cluster.RemoveNode(rctx, v)
		if err == nil {
			n.mu.Lock()
			n.removed[v] = true
			n.mu.Unlock()
		}
		n.record("stop-membership", "removed "+n.names([]int{v}), err)
	}
}

// transfer asks a random node to take over the groups it replicates
// (CLUSTER FAILOVER); leadership may move back by balancing later.
func (n *Nemesis) transfer(ctx context.Context) func(context.Context) {
	live := n.live()
	if len(live) == 0 {
		return nil
	}
	x := live[n.rng.Intn(len(live))]
	rep, err := n.command(ctx, x, "CLUSTER", "FAILOVER")
	if err == nil && rep.IsErr() {
		err = errors.New(rep.Str)
	}
	n.record("start-transfer", "CLUSTER FAILOVER on "+n.names([]int{x}), err)
	return func(context.Context) { n.record("stop-transfer", "", nil) }
}

// clock moves the data clocks of some nodes by up to a minute either way
// (debug-clock-offset-ms); its repair resets them.
func (n *Nemesis) clock(ctx context.Context) func(context.Context) {
	live := n.live()
	if len(live) == 0 {
		return nil
	}
	k := 1 + n.rng.Intn(len(live))
	var desc string
	var errs []error
	var set []int
	for _, p := range n.rng.Perm(len(live))[:k] {
		x := live[p]
		off := (1000 + n.rng.Int63n(59000)) * int64(1-2*n.rng.Intn(2))
		if err := n.setClock(ctx, x, off); err != nil {
			errs = append(errs, err)
			continue
		}
		set = append(set, x)
		desc += fmt.Sprintf("%s%+dms ", n.names([]int{x}), off)
	}
	n.record("start-clock", desc, errors.Join(errs...))
	return func(ctx context.Context) {
		var errs []error
		for _, x := range set {
			errs = append(errs, n.setClock(ctx, x, 0))
		}
		n.record("stop-clock", "offsets reset on "+n.names(set), errors.Join(errs...))
	}
}

func (n *Nemesis) setClock(ctx context.Context, i int, offMs int64) error {
	rep, err := n.command(ctx, i, "CONFIG", "SET", "debug-clock-offset-ms", strconv.FormatInt(offMs, 10))
	if err == nil && rep.IsErr() {
		err = errors.New(rep.Str)
	}
	if err != nil {
		return fmt.Errorf("clock offset on %s: %w", n.names([]int{i}), err)
	}
	n.mu.Lock()
	if offMs == 0 {
		delete(n.clocks, i)
	} else {
		n.clocks[i] = true
	}
	n.mu.Unlock()
	return nil
}

func (n *Nemesis) command(ctx context.Context, i int, args ...string) (client.Reply, error) {
	c, err := client.Dial(ctx, n.cfg.Cluster.Nodes()[i].Addr, 2*time.Second)
	if err != nil {
		return client.Reply{}, err
	}
	defer c.Close()
	return c.Do(3*time.Second, args...)
}

// ringGrudge returns the drop lists of a majorities ring over the nodes in
// ring order: each node keeps its h nearest neighbours on either side, so
// that it sees a majority (itself included) and no two nodes see the same
// one (5 nodes: each sees 3).
func (n *Nemesis) ringGrudge(ring []int) map[int][]int {
	m := len(ring)/2 + 1
	h := m / 2
	grudge := map[int][]int{}
	for i, x := range ring {
		for d := 1; d < len(ring); d++ {
			if min(d, len(ring)-d) > h {
				grudge[x] = append(grudge[x], ring[(i+d)%len(ring)])
			}
		}
	}
	return grudge
}
