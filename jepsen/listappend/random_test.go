package listappend

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/troika-db/troika/jepsen/history"
)

// sim generates histories from a strict-serializable in-memory list
// store: concurrent processes invoke txns, each applied atomically at a
// random moment between its invocation and its completion; some fail
// (not applied), some end info (applied or not, possibly after the info
// completion). A bug can be injected.
type sim struct {
	txns, keys, procs int
	maxAppends        int     // appends per key before it is retired for a fresh one (0: never)
	pFail, pInfo      float64 // per txn
	bug               string  // "", "lost-append", "stale-read", "duplicate"
	bugEvery          int     // for stale-read: every how many reads
}

type simTxn struct {
	proc    int
	mops    []history.MicroOp
	applied bool
	buggy   bool // the lost-append bug hit it: it must complete ok
}

func (s sim) run(seed uint64) []history.Op {
	rng := rand.New(rand.NewPCG(seed, 1))
	var ops []history.Op
	emit := func(op history.Op) {
		op.Index, op.Time = len(ops), int64(len(ops))*1000
		ops = append(ops, op)
	}
	state := map[string][]int64{}
	appends := map[string]int{}
	active := make([]string, s.keys)
	nextKey := 0
	for i := range active {
		active[i] = fmt.Sprintf("k%d", nextKey)
		nextKey++
	}
	var elem int64
	procs := make([]*simTxn, s.procs)
	ids := make([]int, s.procs)
	for i := range ids {
		ids[i] = i
	}
	nextID := s.procs
	var zombies []*simTxn // info txns not applied yet; may apply later
	started, applied, reads := 0, 0, 0
	bugDone := false

	gen := func() []history.MicroOp {
		mops := make([]history.MicroOp, 1+rng.IntN(4))
		for i := range mops {
			ki := rng.IntN(len(active))
			k := active[ki]
			if rng.IntN(2) == 0 {
				elem++
				mops[i] = history.MicroOp{F: "append", Key: k, Elem: elem}
				appends[k]++
				if s.maxAppends > 0 && appends[k] >= s.maxAppends {
					active[ki] = fmt.Sprintf("k%d", nextKey)
					nextKey++
				}
			} else {
				mops[i] = history.MicroOp{F: "r", Key: k}
			}
		}
		return mops
	}
	apply := func(t *simTxn, zombie bool) {
		t.applied = true
		applied++
		appendedSoFar := false
		for i := range t.mops {
			m := &t.mops[i]
			switch m.F {
			case "append":
				appendedSoFar = true
				if s.bug == "lost-append" && !zombie && !bugDone && applied > s.txns/4 {
					bugDone, t.buggy = true, true // acknowledged, never applied
					continue
				}
				state[m.Key] = append(state[m.Key], m.Elem)
				if s.bug == "duplicate" && !bugDone && applied > s.txns/4 {
					bugDone = true // a retried append applied twice
					state[m.Key] = append(state[m.Key], m.Elem)
				}
			case "r":
				v := state[m.Key]
				reads++
				if s.bug == "stale-read" && !appendedSoFar && reads%s.bugEvery == 0 && len(v) > 0 {
					v = v[:len(v)-1] // misses the latest append
				}
				m.Value = slices.Clone(v)
			}
		}
	}
	complete := func(i int, typ history.Type) {
		t := procs[i]
		mops := t.mops
		if typ != history.OK {
			mops = stripReads(mops)
		}
		emit(history.Op{Type: typ, Process: ids[i], F: "txn", Txn: mops})
		procs[i] = nil
		if typ == history.Info {
			ids[i] = nextID // an info process is retired, as in Jepsen
			nextID++
		}
	}
	for started < s.txns || slices.ContainsFunc(procs, func(t *simTxn) bool { return t != nil }) {
		i := rng.IntN(s.procs)
		t := procs[i]
		switch {
		case t == nil:
			if started < s.txns {
				started++
				procs[i] = &simTxn{proc: ids[i], mops: gen()}
				emit(history.Op{Type: history.Invoke, Process: ids[i], F: "txn", Txn: stripReads(procs[i].mops)})
			}
		case !t.applied:
			switch x := rng.Float64(); {
			case x < s.pFail:
				complete(i, history.Fail)
			case x < s.pFail+s.pInfo:
				if rng.IntN(2) == 0 {
					zombies = append(zombies, t)
				}
				complete(i, history.Info)
			default:
				apply(t, false)
			}
		default:
			if rng.Float64() < s.pInfo && !t.buggy {
				complete(i, history.Info)
			} else {
				complete(i, history.OK)
			}
		}
		if len(zombies) > 0 && rng.IntN(10) == 0 {
			z := rng.IntN(len(zombies))
			apply(zombies[z], true)
			zombies = slices.Delete(zombies, z, z+1)
		}
	}
	return ops
}

func stripReads(mops []history.MicroOp) []history.MicroOp {
	out := slices.Clone(mops)
	for i := range out {
		if out[i].F == "r" {
			out[i].Value = nil
		}
	}
	return out
}

var small = sim{txns: 2000, keys: 20, procs: 5, pFail: 0.03, pInfo: 0.05}

func TestRandomSerialValid(t *testing.T) {
	for seed := range uint64(4) {
		ops := small.run(seed)
		for _, model := range []string{"", Serializable} {
			res := check(t, ops, model)
			if !res.Valid {
				t.Fatalf("seed %d model %q: %v\n%s", seed, model, res.Counts, dump(res))
			}
			st := res.Stats
			if st.Txns != 2000 || st.OKTxns == 0 || st.InfoTxns == 0 || st.FailTxns == 0 || st.Edges < st.OKTxns {
				t.Fatalf("seed %d: stats %+v", seed, st)
			}
		}
	}
}

func TestRandomLostAppend(t *testing.T) {
	s := small
	s.bug = "lost-append"
	for seed := range uint64(4) {
		res := check(t, s.run(seed), "")
		wantTypes(t, res, LostAppend)
		if res.Counts[LostAppend] != 1 {
			t.Fatalf("seed %d: %d lost appends, want 1\n%s", seed, res.Counts[LostAppend], dump(res))
		}
	}
}

func TestRandomDuplicate(t *testing.T) {
	s := small
	s.bug = "duplicate"
	res := check(t, s.run(7), "")
	wantTypes(t, res, DuplicateElements)
}

// Reads that sometimes miss the latest append produce anti-dependency
// cycles; besides, a later read of the same key in the txn is a
// non-repeatable read (internal), and a missed append that was its
// txn's second to the key makes the stale read an intermediate one
// (G1b), and a stale read that was the key's last read hides an
// acknowledged append from every read (lost-append). Nothing else may be
// reported.
func TestRandomStaleRead(t *testing.T) {
	s := small
	s.bug, s.bugEvery = "stale-read", 100
	for seed := range uint64(4) {
		ops := s.run(seed)
		res := check(t, ops, "")
		if res.Counts[GSingle+RealtimeSuffix]+res.Counts[GSingle] == 0 {
			t.Fatalf("seed %d: no G-single found: %v\n%s", seed, res.Counts, dump(res))
		}
		for typ := range res.Counts {
			if !isCycleType(typ) && typ != Internal && typ != G1b && typ != LostAppend {
				t.Fatalf("seed %d: unexpected %s\n%s", seed, typ, dump(res))
			}
		}
		for typ, as := range res.Anomalies {
			for _, a := range as {
				if isCycleType(typ) && len(a.Ops) < 2 {
					t.Fatalf("cycle %+v", a)
				}
			}
		}
	}
}

// The real-time reduction keeps exactly the real-time order: T1 reaches
// T2 through rt edges iff T1 completed before T2 was invoked.
func TestRealtimeReduction(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n, procs = 300, 6
	c := &checker{strict: true, res: &Result{}}
	busyUntil := make([]int, procs)
	at := 0
	for len(c.txns) < n {
		p := rng.IntN(procs)
		at++
		if busyUntil[p] > at {
			continue
		}
		inv := at
		cmp := at + 1 + rng.IntN(30)
		busyUntil[p] = cmp + 1
		if rng.IntN(20) == 0 {
			cmp = never // info: never completes; a new process takes the slot
		}
		c.txns = append(c.txns, txn{typ: history.OK, inv: inv, cmp: cmp, inGraph: true})
	}
	// Positions must be unique: spread them out.
	for i := range c.txns {
		c.txns[i].inv = c.txns[i].inv*2*n + i
		if c.txns[i].cmp != never {
			c.txns[i].cmp = c.txns[i].cmp*2*n + n + i
		}
	}
	c.g = newGraph(n)
	c.realtimeEdges()
	if len(c.g.edges) > n*procs {
		t.Fatalf("%d rt edges for %d txns of concurrency %d", len(c.g.edges), n, procs)
	}
	c.initScratch()
	for a := range int32(n) {
		c.bfs(a, -1, kRT, func(int32) bool { return true }, nil)
		for b := range int32(n) {
			want := c.txns[a].cmp < c.txns[b].inv
			if got := a != b && c.reached(b); got != want {
				t.Fatalf("T%d [%d,%d] reaches T%d [%d,%d]: %v, want %v", a, c.txns[a].inv, c.txns[a].cmp, b, c.txns[b].inv, c.txns[b].cmp, got, want)
			}
		}
	}
}

var big = sim{txns: 10000, keys: 20, procs: 10, maxAppends: 200, pFail: 0.03, pInfo: 0.05}

// 10^4 txns check in well under a few seconds (less than 1 s without the
// race detector on a 2-core machine), valid or riddled with cycles.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	buggy := big
	buggy.bug, buggy.bugEvery = "stale-read", 10
	for _, s := range []sim{big, buggy} {
		ops := s.run(1)
		start := time.Now()
		res := check(t, ops, "")
		took := time.Since(start)
		t.Logf("bug %q: %d txns, %d edges, %d SCCs, %v in %v", s.bug, res.Stats.Txns, res.Stats.Edges, res.Stats.SCCs, res.Counts, took)
		if res.Valid != (s.bug == "") {
			t.Fatalf("bug %q: valid=%v\n%s", s.bug, res.Valid, dump(res))
		}
		if took > 10*time.Second {
			t.Fatalf("check took %v", took)
		}
	}
}

func BenchmarkCheck10k(b *testing.B) {
	ops := big.run(1)
	b.ResetTimer()
	for b.Loop() {
		if res, err := Check(ops, Options{}); err != nil || !res.Valid {
			b.Fatal(err, res.Counts)
		}
	}
}

// A component holding both a write skew (0 <-rw-> 1) and a G-single
// (1 -rw-> 2 -ww-> 1) whose ww/wr part is acyclic: only the budgeted
// search across ww/wr components finds the G-single; without budget it
// is missed and a note says so.
func TestGSingleAcrossComponents(t *testing.T) {
	build := func(budget int) Result {
		res := Result{Anomalies: map[string][]Anomaly{}, Counts: map[string]int{}}
		c := &checker{opt: Options{MaxCycles: 8, MaxExamples: 8}, res: &res, seenCyc: map[string]bool{}, budget: budget}
		c.keys = []*key{{name: "x"}}
		for i := range 3 {
			c.txns = append(c.txns, txn{typ: history.OK, op: 10 * (i + 1), inGraph: true})
		}
		c.g = newGraph(3)
		c.g.add(0, 1, kRW, why{})
		c.g.add(1, 0, kRW, why{})
		c.g.add(1, 2, kRW, why{})
		c.g.add(2, 1, kWW, why{})
		c.findCycles()
		return res
	}
	res := build(searchBudget)
	wantTypes(t, res, G2, GSingle)
	if a := res.Anomalies[GSingle][0]; !slices.Equal(a.Ops, []int{20, 30}) || len(res.Notes) != 0 {
		t.Fatalf("%+v %v", a, res.Notes)
	}
	res = build(0)
	wantTypes(t, res, G2)
	if len(res.Notes) != 1 {
		t.Fatalf("notes %v", res.Notes)
	}
}

// Histories survive the harness's JSON lines format: an empty read is
// written as an absent value, and reads as nil in ok completions mean [].
func TestJSONRoundTrip(t *testing.T) {
	for _, s := range []sim{small, {txns: 300, keys: 3, procs: 3, pFail: 0.1, pInfo: 0.1, bug: "lost-append"}} {
		ops := s.run(11)
		var buf bytes.Buffer
		if err := history.Write(&buf, ops); err != nil {
			t.Fatal(err)
		}
		back, err := history.Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		a, b := check(t, ops, ""), check(t, back, "")
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("results differ after a JSON round trip:\n%v\n%v", a.Counts, b.Counts)
		}
		if a.Valid != (s.bug == "") {
			t.Fatalf("bug %q: %v", s.bug, a.Counts)
		}
	}
}

// An adversarial component: two ww chains of 5000 txns joined by random
// rw edges has many G2 cycles but no G-single, so the G-single search
// cannot stop early. It must end within its budget and say so.
func TestAdversarialBudget(t *testing.T) {
	const half = 5000
	res := Result{Anomalies: map[string][]Anomaly{}, Counts: map[string]int{}}
	c := &checker{opt: Options{MaxCycles: 8, MaxExamples: 8}, res: &res, seenCyc: map[string]bool{}, budget: searchBudget, strict: true}
	c.keys = []*key{{name: "x"}}
	for i := range 2 * half {
		c.txns = append(c.txns, txn{typ: history.OK, op: i, inGraph: true})
	}
	c.g = newGraph(2 * half)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range int32(half - 1) {
		c.g.add(i, i+1, kWW, why{})
		c.g.add(half+i, half+i+1, kWW, why{})
	}
	for range 3 * half {
		a, b := int32(rng.IntN(half)), int32(half+rng.IntN(half))
		if rng.IntN(2) == 0 {
			a, b = b, a
		}
		c.g.add(a, b, kRW, why{})
	}
	start := time.Now()
	c.findCycles()
	took := time.Since(start)
	t.Logf("%v: %v %v", took, res.Counts, res.Notes)
	wantTypes(t, res, G2)
	if len(res.Notes) != 1 || res.Stats.SCCs != 1 {
		t.Fatalf("notes %v, %d SCCs", res.Notes, res.Stats.SCCs)
	}
	if took > 10*time.Second {
		t.Fatalf("took %v", took)
	}
}
