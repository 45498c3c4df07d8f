package node

import (
	"slices"
	"sort"
)

// placementInput is what the meta leader knows when it plans replica
// placement. planPlacement is a pure function of it (unit-tested).
type placementInput struct {
	cfg *ClusterConfig
	// eligible: nodes that may hold replicas (alive, or dead for less
	// than the node timeout, and not being drained).
	eligible map[string]bool
	// alive: nodes gossip currently sees alive (leader preference).
	alive map[string]bool
	// voters: per group, the voters of its raft configuration as its
	// leader reports them; missing when unknown (no change that depends
	// on it is planned then).
	voters map[uint32]map[string]bool
	// maxMoving bounds the groups in transition (a replica being added or
	// removed) at a time, so catch-up traffic stays moderate.
	maxMoving int
}

// planPlacement returns the groups whose replica set or preferred leader
// should change, at most one replica change per group. Changes follow one
// discipline: add first (the group temporarily has one replica more), and
// remove a replica only once every remaining replica is a voter, so a
// group's redundancy never drops below what it had.
func planPlacement(in placementInput) []GroupInfo {
	cfg := in.cfg
	want := cfg.Replicas
	if want <= 0 {
		want = 3
	}
	nEligible := 0
	for _, ni := range cfg.Nodes {
		if in.eligible[ni.ID] {
			nEligible++
		}
	}
	target := min(want, nEligible)
	if target == 0 {
		return nil
	}
	load := map[string]int{}
	for _, g := range cfg.Groups {
		for _, r := range g.Replicas {
			load[r]++
		}
	}
	groups := make([]GroupInfo, len(cfg.Groups))
	for i, g := range cfg.Groups {
		groups[i] = GroupInfo{ID: g.ID, Replicas: slices.Clone(g.Replicas), Leader: g.Leader}
	}
	moving := 0
	settled := func(g GroupInfo) bool {
		v := in.voters[g.ID]
		if v == nil {
			return false
		}
		for _, r := range g.Replicas {
			if !v[r] {
				return false
			}
		}
		return len(g.Replicas) == target
	}
	for _, g := range groups {
		if !settled(g) {
			moving++
		}
	}
	changed := map[uint32]bool{}
	// Pass 1: repair (too few eligible replicas) and trim (too many).
	for i := range groups {
		g := &groups[i]
		keep := 0
		for _, r := range g.Replicas {
			if in.eligible[r] {
				keep++
			}
		}
		switch {
		case keep < target:
			if moving >= in.maxMoving && settled(*g) {
				continue
			}
			if c := pickNode(cfg, in.eligible, load, g.Replicas, false); c != "" {
				g.Replicas = append(g.Replicas, c)
				load[c]++
				changed[g.ID] = true
				if settled(cfg.Groups[i]) {
					moving++
				}
			}
		case len(g.Replicas) > target:
			v := in.voters[g.ID]
			if v == nil {
				continue
			}
			victim := pickVictim(g.Replicas, in.eligible, load)
			rest := without(g.Replicas, victim)
			ok := true
			for _, r := range rest {
				if in.eligible[r] && !v[r] {
					ok = false
				}
			}
			if ok {
				g.Replicas = rest
				load[victim]--
				changed[g.ID] = true
			}
		}
	}
	// Pass 2: rebalance settled groups onto under-loaded nodes.
	for i := range groups {
		g := &groups[i]
		if moving >= in.maxMoving {
			break
		}
		if changed[g.ID] || !settled(*g) {
			continue
		}
		low := pickNode(cfg, in.eligible, load, g.Replicas, false)
		if low == "" {
			continue
		}
		high := ""
		for _, r := range g.Replicas {
			if high == "" || load[r] > load[high] || (load[r] == load[high] && r > high) {
				high = r
			}
		}
		if high != "" && load[high]-load[low] >= 2 {
			g.Replicas = append(g.Replicas, low)
			load[low]++
			changed[g.ID] = true
			moving++
		}
	}
	// Pass 3: preferred leaders, balanced over alive replicas.
	leads := map[string]int{}
	for _, g := range groups {
		if g.Leader != "" && validLeader(g, g.Leader, in) {
			leads[g.Leader]++
		}
	}
	for i := range groups {
		g := &groups[i]
		cur := g.Leader
		valid := cur != "" && validLeader(*g, cur, in)
		best := ""
		for _, r := range g.Replicas {
			if !validLeader(*g, r, in) {
				continue
			}
			if best == "" || leads[r] < leads[best] || (leads[r] == leads[best] && r < best) {
				best = r
			}
		}
		if best == "" {
			continue
		}
		if !valid || leads[cur]-leads[best] >= 2 {
			if valid {
				leads[cur]--
			}
			leads[best]++
			g.Leader = best
			changed[g.ID] = true
		}
	}
	// Greedy moves stop at a local optimum (a node leading nothing may
	// share no group with the busiest one): shift leaderships along a
	// chain of groups instead, which moves one leadership from the busiest
	// node to the idlest and leaves every node in between unchanged.
	for range len(groups) {
		if !balanceLeadersAlongPath(groups, leads, in, changed) {
			break
		}
	}
	var out []GroupInfo
	for _, g := range groups {
		if changed[g.ID] {
			out = append(out, g)
		}
	}
	return out
}

// balanceLeadersAlongPath finds, by breadth-first search, a chain
// busiest → … → idlest where each step is a group preferred-led by one
// node that has the next as a valid leader, and moves each step's group
// one node along. It reports whether it moved anything.
func balanceLeadersAlongPath(groups []GroupInfo, leads map[string]int, in placementInput, changed map[uint32]bool) bool {
	var nodes []string
	for _, ni := range in.cfg.Nodes {
		if in.alive[ni.ID] && in.eligible[ni.ID] {
			nodes = append(nodes, ni.ID)
		}
	}
	if len(nodes) < 2 {
		return false
	}
	minLeads := leads[nodes[0]]
	for _, id := range nodes {
		minLeads = min(minLeads, leads[id])
	}
	// BFS from every node with at least minLeads+2 leaderships.
	type step struct {
		from  string
		group int // index in groups
	}
	prev := map[string]step{}
	var queue []string
	for _, id := range nodes {
		if leads[id] >= minLeads+2 {
			prev[id] = step{group: -1}
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for gi := range groups {
			g := groups[gi]
			if g.Leader != a {
				continue
			}
			for _, b := range g.Replicas {
				if _, seen := prev[b]; seen || !validLeader(g, b, in) {
					continue
				}
				prev[b] = step{from: a, group: gi}
				if leads[b] == minLeads {
					// Shift along the path back to a busiest node.
					leads[b]++
					for cur := b; prev[cur].group >= 0; cur = prev[cur].from {
						st := prev[cur]
						groups[st.group].Leader = cur
						changed[groups[st.group].ID] = true
						if prev[st.from].group < 0 {
							leads[st.from]--
						}
					}
					return true
				}
				queue = append(queue, b)
			}
		}
	}
	return false
}

// validLeader: a preferred leader must be a replica that is alive, eligible
// and (when known) a voter of the group.
func validLeader(g GroupInfo, id string, in placementInput) bool {
	if !slices.Contains(g.Replicas, id) || !in.alive[id] || !in.eligible[id] {
		return false
	}
	if v := in.voters[g.ID]; v != nil && !v[id] {
		return false
	}
	return true
}

// pickNode returns the eligible node with the fewest replicas that is not
// in exclude (ties: lowest id), or "".
func pickNode(cfg *ClusterConfig, eligible map[string]bool, load map[string]int, exclude []string, _ bool) string {
	ids := make([]string, 0, len(cfg.Nodes))
	for _, ni := range cfg.Nodes {
		if eligible[ni.ID] && !slices.Contains(exclude, ni.ID) {
			ids = append(ids, ni.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		if load[ids[i]] != load[ids[j]] {
			return load[ids[i]] < load[ids[j]]
		}
		return ids[i] < ids[j]
	})
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// pickVictim chooses the replica to drop from a group with a surplus: an
// ineligible one first, else the one on the most loaded node.
func pickVictim(replicas []string, eligible map[string]bool, load map[string]int) string {
	for _, r := range replicas {
		if !eligible[r] {
			return r
		}
	}
	v := ""
	for _, r := range replicas {
		if v == "" || load[r] > load[v] || (load[r] == load[v] && r > v) {
			v = r
		}
	}
	return v
}

func without(s []string, x string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// metaVoterTarget is how many voters the meta group should have with n
// eligible nodes: 1, then 3 from three nodes, 5 from five.
func metaVoterTarget(n int) int {
	switch {
	case n >= 5:
		return 5
	case n >= 3:
		return 3
	default:
		return 1
	}
}
