package node

import (
	"fmt"
	"slices"
	"testing"
)

func placementCfg(nodes []string, replicas int, groups ...GroupInfo) *ClusterConfig {
	c := &ClusterConfig{Replicas: replicas, Groups: groups}
	for _, id := range nodes {
		c.Nodes = append(c.Nodes, NodeInfo{ID: id})
	}
	return c
}

func all(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// settle applies plans to a configuration until nothing changes, treating
// every placed replica as a voter at once (as the group leaders would,
// eventually).
func settle(t *testing.T, cfg *ClusterConfig, eligible, alive map[string]bool) int {
	t.Helper()
	for round := 0; round < 200; round++ {
		in := placementInput{cfg: cfg, eligible: eligible, alive: alive, voters: map[uint32]map[string]bool{}, maxMoving: 2}
		for _, g := range cfg.Groups {
			in.voters[g.ID] = all(g.Replicas...)
		}
		changes := planPlacement(in)
		if len(changes) == 0 {
			return round
		}
		for _, ch := range changes {
			for i := range cfg.Groups {
				if cfg.Groups[i].ID == ch.ID {
					cfg.Groups[i] = ch
				}
			}
		}
	}
	t.Fatal("placement does not converge")
	return 0
}

func loads(cfg *ClusterConfig) (reps, leads map[string]int) {
	reps, leads = map[string]int{}, map[string]int{}
	for _, g := range cfg.Groups {
		for _, r := range g.Replicas {
			reps[r]++
		}
		leads[g.Leader]++
	}
	return
}

func TestPlacementSpreadsOverJoiningNodes(t *testing.T) {
	var groups []GroupInfo
	for i := 1; i <= 16; i++ {
		groups = append(groups, GroupInfo{ID: uint32(i), Replicas: []string{"a"}})
	}
	cfg := placementCfg([]string{"a"}, 3, groups...)
	settle(t, cfg, all("a"), all("a"))
	for _, size := range []int{2, 3, 4, 5, 6} {
		ids := []string{"a", "b", "c", "d", "e", "f"}[:size]
		cfg.Nodes = nil
		for _, id := range ids {
			cfg.Nodes = append(cfg.Nodes, NodeInfo{ID: id})
		}
		settle(t, cfg, all(ids...), all(ids...))
		reps, leads := loads(cfg)
		want := min(3, size)
		for _, g := range cfg.Groups {
			if len(g.Replicas) != want {
				t.Fatalf("%d nodes: group %d replicas %v", size, g.ID, g.Replicas)
			}
			seen := map[string]bool{}
			for _, r := range g.Replicas {
				if seen[r] {
					t.Fatalf("group %d: two replicas on %s", g.ID, r)
				}
				seen[r] = true
			}
			if !slices.Contains(g.Replicas, g.Leader) {
				t.Fatalf("group %d: leader %s not a replica", g.ID, g.Leader)
			}
		}
		lo, hi := 1<<30, 0
		llo, lhi := 1<<30, 0
		for _, id := range ids {
			lo, hi = min(lo, reps[id]), max(hi, reps[id])
			llo, lhi = min(llo, leads[id]), max(lhi, leads[id])
		}
		if hi-lo > 1 || lhi-llo > 1 {
			t.Fatalf("%d nodes: unbalanced replicas %v leaders %v", size, reps, leads)
		}
	}
}

func TestPlacementReplacesDeadNodeAddingBeforeRemoving(t *testing.T) {
	var groups []GroupInfo
	for i := 1; i <= 4; i++ {
		groups = append(groups, GroupInfo{ID: uint32(i), Replicas: []string{"a", "b", "c"}, Leader: []string{"a", "b", "c", "a"}[i-1]})
	}
	cfg := placementCfg([]string{"a", "b", "c", "d"}, 3, groups...)
	eligible := all("a", "b", "d") // c is dead past the node timeout
	in := placementInput{cfg: cfg, eligible: eligible, alive: eligible, maxMoving: 8, voters: map[uint32]map[string]bool{}}
	for _, g := range groups {
		in.voters[g.ID] = all(g.Replicas...)
	}
	first := planPlacement(in)
	for _, g := range first {
		if len(g.Replicas) != 4 || !slices.Contains(g.Replicas, "d") || !slices.Contains(g.Replicas, "c") {
			t.Fatalf("first step must add d and keep c: %+v", g)
		}
		if g.Leader == "c" {
			t.Fatalf("dead node preferred as leader: %+v", g)
		}
	}
	// Until d is a voter, c stays.
	cfg.Groups = first
	in.cfg = cfg
	if again := planPlacement(in); len(again) != 0 {
		for _, g := range again {
			if !slices.Contains(g.Replicas, "c") {
				t.Fatalf("c removed before d became a voter: %+v", g)
			}
		}
	}
	for _, g := range first {
		in.voters[g.ID] = all(g.Replicas...)
	}
	for _, g := range planPlacement(in) {
		if slices.Contains(g.Replicas, "c") || len(g.Replicas) != 3 {
			t.Fatalf("second step must drop c: %+v", g)
		}
	}
}

func TestPlacementDrainAndMetaTargets(t *testing.T) {
	var groups []GroupInfo
	for i := 1; i <= 6; i++ {
		groups = append(groups, GroupInfo{ID: uint32(i), Replicas: []string{"a", "b", "c"}})
	}
	cfg := placementCfg([]string{"a", "b", "c", "d"}, 3, groups...)
	cfg.Nodes[2].Draining = true
	settle(t, cfg, all("a", "b", "d"), all("a", "b", "c", "d"))
	for _, g := range cfg.Groups {
		if slices.Contains(g.Replicas, "c") {
			t.Fatalf("drained node still holds group %d", g.ID)
		}
	}
	for n, want := range map[int]int{0: 1, 1: 1, 2: 1, 3: 3, 4: 3, 5: 5, 9: 5} {
		if got := metaVoterTarget(n); got != want {
			t.Errorf("metaVoterTarget(%d) = %d, want %d", n, got, want)
		}
	}
	_ = fmt.Sprint
}

// One group per node, replica sets arranged so that greedy moves get stuck:
// leaderships still end up one per node.
func TestPlacementBalancesLeadersAlongChains(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	groups := []GroupInfo{
		{ID: 1, Replicas: []string{"a", "b", "c"}, Leader: "a"},
		{ID: 2, Replicas: []string{"a", "b", "d"}, Leader: "a"},
		{ID: 3, Replicas: []string{"b", "c", "e"}, Leader: "b"},
		{ID: 4, Replicas: []string{"c", "d", "e"}, Leader: "c"},
		{ID: 5, Replicas: []string{"c", "d", "e"}, Leader: "d"},
	}
	cfg := placementCfg(ids, 3, groups...)
	settle(t, cfg, all(ids...), all(ids...))
	_, leads := loads(cfg)
	for _, id := range ids {
		if leads[id] != 1 {
			t.Fatalf("leaders per node %v, want one each", leads)
		}
	}
}
