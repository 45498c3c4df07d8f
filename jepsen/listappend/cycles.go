package listappend

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// scratch is reusable per-node state for Tarjan and BFS; entries are
// valid only when their stamp matches, so nothing is cleared between
// runs.
type scratch struct {
	tStamp   []int32 // Tarjan: visited in run tCur
	tCur     int32
	idx, low []int32
	onStack  []bool
	sub      []int32 // sub-component id (unique across searches)
	nextSub  int32
	bStamp   []int32 // BFS: reached in run bCur
	bCur     int32
	parent   []int32 // BFS: edge id that reached the node
	comp     []int32 // full-graph SCC id, -1 if none
}

func (c *checker) initScratch() {
	n := len(c.txns)
	s := &c.scratch
	s.tStamp, s.idx, s.low, s.onStack = make([]int32, n), make([]int32, n), make([]int32, n), make([]bool, n)
	s.sub, s.bStamp, s.parent, s.comp = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	for i := range s.comp {
		s.comp[i], s.sub[i] = -1, -1
	}
}

// tarjan returns the strongly connected components with two or more
// nodes of the subgraph induced by member (starting from roots, which
// must be members) over edges whose kinds intersect mask. Iterative, so
// deep graphs do not grow the goroutine stack.
func (c *checker) tarjan(roots []int32, member func(int32) bool, mask uint8) [][]int32 {
	s := &c.scratch
	s.tCur++
	cur := s.tCur
	var counter int32
	var stack []int32
	type frame struct {
		v  int32
		ei int
	}
	var call []frame
	var comps [][]int32
	visit := func(v int32) {
		s.tStamp[v] = cur
		s.idx[v], s.low[v] = counter, counter
		counter++
		stack = append(stack, v)
		s.onStack[v] = true
		call = append(call, frame{v: v})
	}
	for _, root := range roots {
		if s.tStamp[root] == cur {
			continue
		}
		visit(root)
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.ei < len(c.g.out[v]) {
				e := &c.g.edges[c.g.out[v][f.ei]]
				f.ei++
				if e.kinds&mask == 0 || !member(e.to) {
					continue
				}
				if w := e.to; s.tStamp[w] != cur {
					visit(w)
				} else if s.onStack[w] {
					s.low[v] = min(s.low[v], s.idx[w])
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				s.low[p] = min(s.low[p], s.low[v])
			}
			if s.low[v] != s.idx[v] {
				continue
			}
			i := len(stack) - 1
			for stack[i] != v {
				i--
			}
			for _, w := range stack[i:] {
				s.onStack[w] = false
			}
			if len(stack)-i > 1 {
				comp := slices.Clone(stack[i:])
				slices.Sort(comp)
				comps = append(comps, comp)
			}
			stack = stack[:i]
		}
	}
	return comps
}

// bfs explores breadth-first from `from` along edges of mask inside
// member until it reaches `to` (to < 0: everything reachable). Each edge
// visit costs one unit of *budget when budget is not nil; it returns
// false when the budget ran out.
func (c *checker) bfs(from, to int32, mask uint8, member func(int32) bool, budget *int) bool {
	s := &c.scratch
	s.bCur++
	s.bStamp[from] = s.bCur
	queue := []int32{from}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if v == to {
			return true
		}
		for _, ei := range c.g.out[v] {
			if budget != nil {
				if *budget <= 0 {
					return false
				}
				*budget--
			}
			e := &c.g.edges[ei]
			if e.kinds&mask == 0 || s.bStamp[e.to] == s.bCur || !member(e.to) {
				continue
			}
			s.bStamp[e.to] = s.bCur
			s.parent[e.to] = ei
			queue = append(queue, e.to)
		}
	}
	return true
}

func (c *checker) reached(v int32) bool { return c.scratch.bStamp[v] == c.scratch.bCur }

// pathTo returns the edge ids of the BFS path from `from` to `to`, which
// the last bfs from `from` reached.
func (c *checker) pathTo(from, to int32) []int32 {
	var path []int32
	for v := to; v != from; {
		ei := c.scratch.parent[v]
		path = append(path, ei)
		v = c.g.edges[ei].from
	}
	slices.Reverse(path)
	return path
}

// search looks for cycles made of one start edge (a kind in start)
// closed by a path of edges in path. When start ⊆ path (exact), any such
// cycle lies inside one SCC of the path subgraph, so trying one start
// edge per such SCC finds one whenever one exists. Otherwise (G-single:
// one rw edge closed by ww/wr paths) the cycle may span several of those
// SCCs, and a budgeted search over the whole component follows.
type search struct {
	start, path uint8
	exact       bool
}

var (
	dataSearches = []search{
		{kWW, kWW, true},             // G0
		{kWR, kWW | kWR, true},       // G1c
		{kRW, kWW | kWR, false},      // G-single
		{kRW, kWW | kWR | kRW, true}, // G2
	}
	realtimeSearches = []search{
		{kRT, kWW | kRT, true},        // G0-realtime
		{kRT, kWW | kWR | kRT, true},  // G1c-realtime
		{kRW, kWW | kWR | kRT, false}, // G-single-realtime
		{kRT, kAll, true},             // G2-realtime
	}
)

// findCycles finds the SCCs of the dependency graph and, in each, runs
// every search, reporting each distinct cycle found under the type its
// own edges give it.
func (c *checker) findCycles() {
	c.initScratch()
	var nodes []int32
	for i := range c.txns {
		if c.txns[i].inGraph {
			nodes = append(nodes, int32(i))
		}
	}
	comps := c.tarjan(nodes, func(v int32) bool { return c.txns[v].inGraph }, kAll)
	c.res.Stats.SCCs = len(comps)
	searches := dataSearches
	if c.strict {
		searches = append(slices.Clone(dataSearches), realtimeSearches...)
	}
	for ci, comp := range comps {
		for _, v := range comp {
			c.scratch.comp[v] = int32(ci)
		}
		for _, s := range searches {
			c.searchComp(int32(ci), comp, s)
		}
	}
}

func (c *checker) searchComp(ci int32, nodes []int32, s search) {
	sc := &c.scratch
	inComp := func(v int32) bool { return sc.comp[v] == ci }
	found := false
	for _, sub := range c.tarjan(nodes, inComp, s.path) {
		id := sc.nextSub
		sc.nextSub++
		for _, v := range sub {
			sc.sub[v] = id
		}
		inSub := func(v int32) bool { return sc.sub[v] == id }
	subSearch:
		for _, v := range sub {
			for _, ei := range c.g.out[v] {
				e := &c.g.edges[ei]
				if e.kinds&s.start == 0 || !inSub(e.to) {
					continue
				}
				if c.bfs(e.to, e.from, s.path, inSub, nil) && c.reached(e.from) {
					c.cycle(append([]int32{ei}, c.pathTo(e.to, e.from)...), s)
					found = true
					break subSearch
				}
			}
		}
	}
	if found || s.exact {
		return
	}
	// Start edges crossing path-SCCs: one BFS per distinct target b finds
	// every start edge a -> b whose a it reaches.
	targets := map[int32][]int32{} // b -> start edges into b
	var order []int32
	for _, v := range nodes {
		for _, ei := range c.g.out[v] {
			e := &c.g.edges[ei]
			if e.kinds&s.start == 0 || !inComp(e.to) {
				continue
			}
			if _, ok := targets[e.to]; !ok {
				order = append(order, e.to)
			}
			targets[e.to] = append(targets[e.to], ei)
		}
	}
	for _, b := range order {
		if !c.bfs(b, -1, s.path, inComp, &c.budget) {
			if !c.budgeted {
				c.budgeted = true
				c.res.Notes = append(c.res.Notes, fmt.Sprintf(
					"cycle search budget (%d edge visits) exhausted in a component of %d txns: some cycles with one rw edge may be reported as G2 or not at all; components were still all reported", searchBudget, len(nodes)))
			}
			return
		}
		for _, ei := range targets[b] {
			if a := c.g.edges[ei].from; c.reached(a) {
				c.cycle(append([]int32{ei}, c.pathTo(b, a)...), s)
				return
			}
		}
	}
}

// Edge labels, in order of preference when an edge has several kinds:
// data dependencies before real time, and the "strongest" anomaly
// (fewest rw) first.
var labelOrder = []uint8{kWW, kWR, kRW, kRT}

func label(kinds uint8) uint8 {
	for _, k := range labelOrder {
		if kinds&k != 0 {
			return k
		}
	}
	return 0
}

// step is one edge of a reported cycle. A run of real-time edges is
// collapsed into one step (e nil): real-time order is transitive, and
// the intermediate txns of the reduced real-time graph explain nothing.
type step struct {
	from, to int32
	l        uint8
	e        *edge
}

// cycle classifies and reports a cycle given as edge ids, unless the
// same cycle was reported already.
func (c *checker) cycle(edges []int32, s search) {
	var steps []step
	for _, ei := range edges {
		e := &c.g.edges[ei]
		steps = append(steps, step{e.from, e.to, label(e.kinds & (s.start | s.path)), e})
	}
	// Start at a data edge (a cycle cannot be all real time), then merge
	// runs of real-time steps.
	if i := slices.IndexFunc(steps, func(st step) bool { return st.l != kRT }); i > 0 {
		steps = slices.Concat(steps[i:], steps[:i])
	}
	merged := steps[:0]
	for _, st := range steps {
		if n := len(merged); n > 0 && st.l == kRT && merged[n-1].l == kRT {
			merged[n-1].to, merged[n-1].e = st.to, nil
			continue
		}
		merged = append(merged, st)
	}
	steps = merged
	// Rotate so the smallest txn comes first: a canonical form.
	m := 0
	for i := range steps {
		if steps[i].from < steps[m].from {
			m = i
		}
	}
	steps = slices.Concat(steps[m:], steps[:m])
	var kb strings.Builder
	for _, st := range steps {
		kb.WriteString(strconv.Itoa(int(st.from)))
		kb.WriteByte(',')
	}
	if c.seenCyc[kb.String()] {
		return
	}
	c.seenCyc[kb.String()] = true

	var wr, rw, rt int
	for _, st := range steps {
		switch st.l {
		case kWR:
			wr++
		case kRW:
			rw++
		case kRT:
			rt++
		}
	}
	typ := G0
	switch {
	case rw >= 2:
		typ = G2
	case rw == 1:
		typ = GSingle
	case wr > 0:
		typ = G1c
	}
	if rt > 0 {
		typ += RealtimeSuffix
	}
	ops := make([]int, len(steps))
	var head, body strings.Builder
	for i, st := range steps {
		ops[i] = c.txns[st.from].op
		fmt.Fprintf(&head, "%s -%s-> ", c.txns[st.from].name(), c.edgeTag(st))
		body.WriteString("\n  ")
		body.WriteString(c.describe(st))
	}
	head.WriteString(c.txns[steps[0].from].name())
	c.report(typ, ops, "%s%s", head.String(), body.String())
}

func (c *checker) edgeTag(st step) string {
	switch st.l {
	case kWW:
		return "ww(" + c.keys[st.e.why[0].key].name + ")"
	case kWR:
		return "wr(" + c.keys[st.e.why[1].key].name + ")"
	case kRW:
		return "rw(" + c.keys[st.e.why[2].key].name + ")"
	}
	return "rt"
}

// describe explains one edge of a cycle.
func (c *checker) describe(st step) string {
	from, to := &c.txns[st.from], &c.txns[st.to]
	prefix := from.name() + " -" + c.edgeTag(st) + "-> " + to.name() + ": "
	switch st.l {
	case kWW:
		w := st.e.why[0]
		return prefix + fmt.Sprintf("%s appended %d to %s right after %s's %d", to.name(), w.b, c.keys[w.key].name, from.name(), w.a)
	case kWR:
		w := st.e.why[1]
		return prefix + fmt.Sprintf("%s read %s ending in %d, appended by %s", to.name(), c.keys[w.key].name, w.a, from.name())
	case kRW:
		w := st.e.why[2]
		read := fmt.Sprintf("read %s ending in %d", c.keys[w.key].name, w.a)
		if w.empty {
			read = fmt.Sprintf("read %s empty", c.keys[w.key].name)
		}
		return prefix + fmt.Sprintf("%s %s and %s appended %d, the next element", from.name(), read, to.name(), w.b)
	}
	return prefix + fmt.Sprintf("%s completed (index %d) before %s was invoked (index %d)", from.name(), from.cmp, to.name(), to.inv)
}
