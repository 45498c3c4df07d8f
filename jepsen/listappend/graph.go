package listappend

import (
	"cmp"
	"slices"

	"github.com/troika-db/troika/jepsen/history"
)

// Edge kinds, as bits: an edge between two txns may have several.
const (
	kWW  uint8 = 1 << iota // write-write: from's append directly precedes to's in a key's version order
	kWR                    // write-read: to read a version ending in from's append
	kRW                    // read-write (anti-dependency): to appended the element after the version from read
	kRT                    // real time: from completed before to was invoked
	kAll = kWW | kWR | kRW | kRT
)

// why records the evidence for one kind of an edge: the key and, for ww
// the two adjacent elements (a then b), for wr the element read last
// (a), for rw the last element read (a, unless empty) and the next one
// appended (b).
type why struct {
	key   int32
	empty bool // rw: the read was empty
	a, b  int64
}

type edge struct {
	from, to int32
	kinds    uint8
	why      [3]why // by kind index: ww, wr, rw
}

// graph is the dependency graph over txn ids. Nodes not in the graph
// simply have no edges.
type graph struct {
	out   [][]int32 // node -> edge ids
	edges []edge
	index map[uint64]int32 // from<<32|to -> edge id
}

func newGraph(n int) *graph {
	// Healthy histories have a few data edges and up to the concurrency
	// of rt edges per txn.
	return &graph{out: make([][]int32, n), edges: make([]edge, 0, 4*n), index: make(map[uint64]int32, 4*n)}
}

func (g *graph) add(from, to int32, kind uint8, w why) {
	id := uint64(uint32(from))<<32 | uint64(uint32(to))
	ei, ok := g.index[id]
	if !ok {
		ei = int32(len(g.edges))
		g.index[id] = ei
		g.edges = append(g.edges, edge{from: from, to: to})
		g.out[from] = append(g.out[from], ei)
	}
	e := &g.edges[ei]
	if e.kinds&kind != 0 {
		return // keep the first evidence
	}
	e.kinds |= kind
	switch kind {
	case kWW:
		e.why[0] = w
	case kWR:
		e.why[1] = w
	case kRW:
		e.why[2] = w
	}
}

// edge adds a dependency between two distinct graph txns.
func (c *checker) edge(from, to int32, kind uint8, w why) {
	if from == to || !c.txns[from].inGraph || !c.txns[to].inGraph {
		return
	}
	c.g.add(from, to, kind, w)
}

// buildGraph builds the dependency graph over ok txns and info txns
// whose appends some ok read observed: ww, wr and rw edges from the
// version orders, and, for strict serializability, real-time edges.
func (c *checker) buildGraph() {
	c.g = newGraph(len(c.txns))
	for i := range c.txns {
		t := &c.txns[i]
		t.inGraph = t.typ == history.OK || (t.typ == history.Info && t.observed)
		if t.inGraph {
			c.res.Stats.Nodes++
		}
	}
	for kid, k := range c.keys {
		kid := int32(kid)
		writer := func(e int64) int32 {
			if w, ok := k.writer[e]; ok {
				return w
			}
			return -1
		}
		// ww: adjacent elements of the version order.
		for p := 1; p < len(k.order); p++ {
			a, b := writer(k.order[p-1]), writer(k.order[p])
			if a >= 0 && b >= 0 {
				c.edge(a, b, kWW, why{key: kid, a: k.order[p-1], b: k.order[p]})
			}
		}
		for i, r := range k.reads {
			v := c.readValue(r)
			// wr: the writer of the last element read.
			if len(v) > 0 {
				if w := writer(v[len(v)-1]); w >= 0 {
					c.edge(w, r.t, kWR, why{key: kid, a: v[len(v)-1]})
				}
			}
			// rw: the writer of the element after the version read. Only
			// for reads consistent with the order: an incompatible read
			// has no place in it.
			if !k.compat[i] {
				continue
			}
			n := len(k.dedup[i])
			if n >= len(k.order) {
				continue
			}
			if w := writer(k.order[n]); w >= 0 {
				wy := why{key: kid, empty: n == 0, b: k.order[n]}
				if n > 0 {
					wy.a = k.order[n-1]
				}
				c.edge(r.t, w, kRW, wy)
			}
		}
	}
	if c.strict {
		c.realtimeEdges()
	}
	c.res.Stats.Edges = len(c.g.edges)
}

// realtimeEdges adds T1 -rt-> T2 whenever T1 completed before T2 was
// invoked, but only a transitive reduction's worth of them: walking the
// history, the frontier holds completed txns not yet known to precede
// another completed txn. An invocation gets edges from the whole
// frontier; a completion replaces, in the frontier, the txns that
// preceded its own invocation. Frontier members overlap in time
// pairwise, so the frontier is at most the concurrency and the edges
// O(n * concurrency); every real-time precedence is a path (DESIGN.md).
func (c *checker) realtimeEdges() {
	type event struct {
		at       int
		t        int32
		complete bool
	}
	var evs []event
	for i := range c.txns {
		t := &c.txns[i]
		if !t.inGraph {
			continue
		}
		evs = append(evs, event{t.inv, int32(i), false})
		if t.cmp != never {
			evs = append(evs, event{t.cmp, int32(i), true})
		}
	}
	slices.SortFunc(evs, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	preds := map[int32][]int32{}
	var frontier []int32
	inPreds := map[int32]bool{}
	for _, ev := range evs {
		if !ev.complete {
			if len(frontier) > 0 {
				preds[ev.t] = append([]int32(nil), frontier...)
				for _, f := range frontier {
					c.g.add(f, ev.t, kRT, why{})
				}
			}
			continue
		}
		clear(inPreds)
		for _, p := range preds[ev.t] {
			inPreds[p] = true
		}
		delete(preds, ev.t)
		kept := frontier[:0]
		for _, f := range frontier {
			if !inPreds[f] {
				kept = append(kept, f)
			}
		}
		frontier = append(kept, ev.t)
	}
}
