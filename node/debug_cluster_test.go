package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// follower-reads: a replica that does not lead the key's group answers GET
// from its local state instead of MOVED, stale when it is cut off; writes
// are still redirected.
func TestPlantedFollowerReads(t *testing.T) {
	c := newTestClusterWith(t, 3, 2, 3, func(_ int, cfg *Config) { cfg.DebugUnsafe = true })
	if r := c.client(20*time.Second, "SET", "fr", "v1"); r.Str != "OK" {
		t.Fatalf("SET: %+v", r)
	}
	live := c.live()
	cfg := live[0].Config()
	gid := uint32(cfg.Slots.Group(cmdOf("GET", "fr").Slot))
	var leader, follower *Node
	for _, n := range live {
		if g := n.group(gid); g != nil && g.host.raft.State() == raft.Leader {
			leader = n
		}
	}
	for _, n := range live {
		if n != leader && n.group(gid) != nil {
			follower = n
		}
	}
	if leader == nil || follower == nil {
		t.Fatal("no leader or follower for the key's group")
	}
	if r := do(t, follower, "GET", "fr"); r.Code != fsm.CodeMoved {
		t.Fatalf("follower GET without the bug: %+v, want MOVED", r)
	}
	if err := follower.SetBugs(Bugs{FollowerReads: true}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(20*time.Second, "follower applied v1", func() error {
		if r := do(t, follower, "GET", "fr"); r.Str != "v1" {
			return fmt.Errorf("follower GET: %+v", r)
		}
		return nil
	})
	// Cut the follower off; the leader and the third replica go on.
	idx := -1
	for i, n := range c.live() {
		if n == follower {
			idx = i
		}
	}
	c.isolate(idx, true)
	defer c.isolate(idx, false)
	c.waitFor(20*time.Second, "majority writes v2", func() error {
		if r := do(t, leader, "SET", "fr", "v2"); r.Str != "OK" {
			return fmt.Errorf("SET on the leader: %+v", r)
		}
		return nil
	})
	if r := do(t, leader, "GET", "fr"); r.Str != "v2" {
		t.Fatalf("leader GET: %+v", r)
	}
	if r := do(t, follower, "GET", "fr"); r.Str != "v1" {
		t.Fatalf("cut-off follower GET: %+v, want its stale local v1", r)
	}
	if r := do(t, follower, "SET", "fr", "v3"); r.Kind != fsm.KindError {
		t.Fatalf("follower SET under follower-reads: %+v, want an error (MOVED or CLUSTERDOWN)", r)
	}
}

// retry-proposals with its real 5 ms delay, through a 3-node cluster with
// fsync on: under ordinary sequential INCRs some are applied twice.
func TestPlantedRetryProposalsInCluster(t *testing.T) {
	c := newTestClusterWith(t, 3, 2, 3, func(_ int, cfg *Config) {
		cfg.DebugUnsafe = true
		cfg.Bugs = Bugs{RetryProposals: true}
	})
	var acked int64
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		r := c.client(20*time.Second, "INCR", "dup")
		if r.Kind != fsm.KindInt {
			continue // indeterminate (TIMEOUT ...): the count is unknown now
		}
		acked++
		if r.Int > acked {
			t.Logf("INCR #%d answered %d: a proposal was applied twice", acked, r.Int)
			return
		}
	}
	t.Fatalf("no duplicated INCR in %d acknowledged INCRs", acked)
}

// CLUSTER FAILOVER: the node asks every group it votes in to hand it the
// leadership; it ends up leading them, keeps them (the automatic balancing
// respects a manual failover for a while), and is then told to send
// CLUSTER FAILOVER to a replica.
func TestClusterFailoverCommand(t *testing.T) {
	c := newTestCluster(t, 3, 3, 3)
	live := c.live()
	c.waitFor(60*time.Second, "leaders balanced", func() error {
		counts := map[string]int{}
		for _, gi := range live[0].Config().Groups {
			counts[live[0].leaderOf(gi.ID)]++
		}
		for _, n := range live {
			if counts[n.ID()] != 1 {
				return fmt.Errorf("leaders per node %v", counts)
			}
		}
		return nil
	})
	x := live[1]
	ledBefore := map[uint32]bool{}
	for _, g := range x.localGroups() {
		ledBefore[g.id] = g.host.raft.State() == raft.Leader
	}
	failover := func() fsm.Reply {
		return x.Cluster(context.Background(), [][]byte{[]byte("CLUSTER"), []byte("FAILOVER")})
	}
	if r := failover(); r.Kind != fsm.KindStatus || r.Str != "OK" {
		t.Fatalf("CLUSTER FAILOVER: %+v", r)
	}
	c.waitFor(60*time.Second, "the node leads every group", func() error {
		for _, g := range x.localGroups() {
			if g.host.raft.State() != raft.Leader {
				return fmt.Errorf("group %d not led (led before: %v)", g.id, ledBefore[g.id])
			}
		}
		return nil
	})
	if r := failover(); r.Code != fsm.CodeFailoverMaster {
		t.Fatalf("CLUSTER FAILOVER on a node leading everything: %+v", r)
	}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("after-failover:%d", i)
		if r := c.client(20*time.Second, "SET", k, "v"); r.Str != "OK" {
			t.Fatalf("SET %s: %+v", k, r)
		}
	}
}
