package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/cluster"
)

// Fault kinds accepted in a nemesis list.
const (
	Partition  = "partition"
	Kill       = "kill"
	Pause      = "pause"
	Membership = "membership"
	Transfer   = "transfer"
	Clock      = "clock"
)

// Kinds lists every fault kind.
func Kinds() []string { return []string{Partition, Kill, Pause, Membership, Transfer, Clock} }

// variants lists the variants a fault kind accepts as "kind:variant"; a
// kind without a variant draws one at random each time.
var variants = map[string][]string{
	Partition: {"halves", "leader", "ring"},
	Kill:      {"one", "majority", "all"},
	Pause:     {"one", "leader"},
}

// Parse parses a comma-separated fault list ("none" or "" for no faults),
// each a kind or kind:variant (e.g. "partition:ring,kill:all").
func Parse(spec string) ([]string, error) {
	if spec == "" || spec == "none" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		kind, variant, _ := strings.Cut(f, ":")
		ok := false
		for _, k := range Kinds() {
			ok = ok || kind == k
		}
		if !ok {
			return nil, fmt.Errorf("unknown nemesis %q (known: %s)", f, strings.Join(Kinds(), ", "))
		}
		if variant != "" {
			found := false
			for _, v := range variants[kind] {
				found = found || v == variant
			}
			if !found {
				return nil, fmt.Errorf("nemesis %s has no variant %q (known: %s)", kind, variant, strings.Join(variants[kind], ", "))
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// pick returns the variant to use: the one asked for, else a random one
// of kind's variants, where weights (same order) favour some.
func (n *Nemesis) pick(variant string, weights ...int) int {
	if variant != "" {
		for i, v := range variants[n.kind] {
			if v == variant {
				return i
			}
		}
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	r := n.rng.Intn(total)
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return 0
}

// NeedsDebug reports whether the faults need servers started with
// --debug-unsafe yes (the clock fault sets debug-clock-offset-ms).
func NeedsDebug(faults []string) bool {
	for _, f := range faults {
		if strings.HasPrefix(f, Clock) {
			return true
		}
	}
	return false
}

// Recorder receives nemesis events: f is "start-<fault>" or
// "stop-<fault>", desc what was done, err set when injecting failed.
type Recorder func(f, desc string, err error)

// Config configures a Nemesis.
type Config struct {
	Cluster cluster.Cluster
	Faults  []string
	// Seed drives every choice (which fault, which nodes, how long).
	Seed int64
	// Quiet and Duration bound the pause between faults and a fault's
	// length; each is drawn uniformly in [x, 2x). Defaults 3 s and 5 s.
	Quiet, Duration time.Duration
	Record          Recorder
	Log             *slog.Logger
}

// Nemesis runs the fault schedule.
type Nemesis struct {
	cfg  Config
	rng  *rand.Rand
	kind string // the fault being started (Run's goroutine only)

	mu      sync.Mutex
	killed  map[int]bool
	paused  map[int]bool
	clocks  map[int]bool
	added   []int
	removed map[int]bool
}

// New returns a nemesis; Run starts it.
func New(cfg Config) *Nemesis {
	if cfg.Quiet <= 0 {
		cfg.Quiet = 3 * time.Second
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Nemesis{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), killed: map[int]bool{}, paused: map[int]bool{},
		clocks: map[int]bool{}, removed: map[int]bool{}}
}

// Run injects faults until ctx ends, then repairs everything (Heal).
func (n *Nemesis) Run(ctx context.Context) {
	if len(n.cfg.Faults) == 0 {
		return
	}
	for {
		if !sleep(ctx, n.draw(n.cfg.Quiet)) {
			return
		}
		f := n.cfg.Faults[n.rng.Intn(len(n.cfg.Faults))]
		kind, variant, _ := strings.Cut(f, ":")
		n.kind = kind
		stop := n.start(ctx, kind, variant)
		d := n.draw(n.cfg.Duration)
		ok := sleep(ctx, d)
		if stop != nil {
			stop(context.WithoutCancel(ctx))
		}
		if !ok {
			return
		}
	}
}

func (n *Nemesis) draw(base time.Duration) time.Duration {
	return base + time.Duration(n.rng.Int63n(int64(base)))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// start injects one fault of kind and returns its repair (nil when the
// fault could not start).
func (n *Nemesis) start(ctx context.Context, kind, variant string) func(context.Context) {
	switch kind {
	case Partition:
		return n.partition(ctx, variant)
	case Kill:
		return n.kill(ctx, variant)
	case Pause:
		return n.pause(ctx, variant)
	case Membership:
		return n.membership(ctx)
	case Transfer:
		return n.transfer(ctx)
	case Clock:
		return n.clock(ctx)
	}
	return nil
}

func (n *Nemesis) record(f, desc string, err error) {
	if err != nil {
		n.cfg.Log.Warn("nemesis", "f", f, "desc", desc, "err", err)
	} else {
		n.cfg.Log.Info("nemesis", "f", f, "desc", desc)
	}
	if n.cfg.Record != nil {
		n.cfg.Record(f, desc, err)
	}
}

// live returns the indexes of nodes that are members and not removed.
func (n *Nemesis) live() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []int
	for _, nd := range n.cfg.Cluster.Nodes() {
		if !n.removed[nd.Index] {
			out = append(out, nd.Index)
		}
	}
	return out
}

func (n *Nemesis) names(idx []int) string {
	nodes := n.cfg.Cluster.Nodes()
	parts := make([]string, len(idx))
	for i, x := range idx {
		parts[i] = nodes[x].Name
	}
	return strings.Join(parts, " ")
}

// leaders returns, per node index, how many slot ranges it serves as
// master according to CLUSTER SLOTS asked of a live node (nil when no node
// answered).
func (n *Nemesis) leaders(ctx context.Context) map[int]int {
	nodes := n.cfg.Cluster.Nodes()
	byAddr := map[string]int{}
	for _, nd := range nodes {
		byAddr[nd.Addr] = nd.Index
	}
	for _, i := range n.rng.Perm(len(nodes)) {
		if n.isDown(i) {
			continue
		}
		c, err := client.Dial(ctx, nodes[i].Addr, time.Second)
		if err != nil {
			continue
		}
		rep, err := c.Do(2*time.Second, "CLUSTER", "SLOTS")
		c.Close()
		if err != nil || rep.Kind != '*' {
			continue
		}
		out := map[int]int{}
		for _, r := range rep.Array {
			if len(r.Array) >= 3 && len(r.Array[2].Array) >= 2 {
				addr := fmt.Sprintf("%s:%d", r.Array[2].Array[0].Str, r.Array[2].Array[1].Int)
				if x, ok := byAddr[addr]; ok {
					out[x]++
				}
			}
		}
		return out
	}
	return nil
}

func (n *Nemesis) isDown(i int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.killed[i] || n.paused[i] || n.removed[i]
}

// someLeader picks a node that leads at least one group (weighted by the
// ranges it serves), or a random live node.
func (n *Nemesis) someLeader(ctx context.Context, live []int) int {
	l := n.leaders(ctx)
	var cands []int
	for _, i := range live {
		for k := 0; k < l[i]; k++ {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return live[n.rng.Intn(len(live))]
	}
	return cands[n.rng.Intn(len(cands))]
}

// Heal repairs every fault still in place: partitions healed, paused
// nodes resumed, killed nodes restarted, clocks reset. It is safe to call
// more than once.
func (n *Nemesis) Heal(ctx context.Context) error {
	var errs []error
	c := n.cfg.Cluster
	if err := c.Heal(ctx); err != nil && !errors.Is(err, cluster.ErrUnsupported) {
		errs = append(errs, err)
	}
	n.mu.Lock()
	paused, killed, clocks := keys(n.paused), keys(n.killed), keys(n.clocks)
	n.mu.Unlock()
	for _, i := range paused {
		errs = append(errs, n.resume(ctx, i))
	}
	for _, i := range killed {
		errs = append(errs, n.restart(ctx, i))
	}
	for _, i := range clocks {
		errs = append(errs, n.setClock(ctx, i, 0))
	}
	return errors.Join(errs...)
}

func keys(m map[int]bool) []int {
	var out []int
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Ints(out)
	return out
}
