package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/slots"
)

func TestClusterFormsAndServes(t *testing.T) {
	c := newTestCluster(t, 3, 6, 3)
	live := c.live()
	// Leaders spread over every node.
	c.waitFor(30*time.Second, "leaders balanced", func() error {
		counts := map[string]int{}
		for _, gi := range live[0].Config().Groups {
			counts[live[0].leaderOf(gi.ID)]++
		}
		for _, n := range live {
			if counts[n.ID()] != 2 {
				return fmt.Errorf("leaders per node %v", counts)
			}
		}
		return nil
	})
	// The meta group has 3 voters.
	c.waitFor(20*time.Second, "meta voters", func() error {
		for _, n := range live {
			if _, ok := n.meta.ready(); ok {
				if v, _ := votersOf(n.meta.raft); len(v) != 3 {
					return fmt.Errorf("meta voters %v", v)
				}
				return nil
			}
		}
		return fmt.Errorf("no meta leader")
	})
	// CLUSTER SLOTS agrees everywhere and covers all slots.
	c.waitFor(10*time.Second, "CLUSTER SLOTS agrees", func() error {
		var first string
		for _, n := range live {
			r := n.Cluster(context.Background(), [][]byte{[]byte("CLUSTER"), []byte("SLOTS")})
			s := fmt.Sprint(r)
			covered := 0
			for _, e := range r.Arr {
				covered += int(e.Arr[1].Int-e.Arr[0].Int) + 1
				if len(e.Arr) != 5 {
					return fmt.Errorf("range %v has %d nodes", e.Arr[:2], len(e.Arr)-2)
				}
			}
			if covered != slots.Count {
				return fmt.Errorf("covered %d slots", covered)
			}
			if first == "" {
				first = s
			} else if s != first {
				return fmt.Errorf("CLUSTER SLOTS differs between nodes")
			}
		}
		return nil
	})
	// Keys across all groups, written through MOVED, read from anywhere.
	for i := 0; i < 300; i++ {
		if r := c.client(10*time.Second, "SET", fmt.Sprintf("key:%d", i), fmt.Sprint(i)); r.Str != "OK" {
			t.Fatalf("SET key:%d: %+v", i, r)
		}
	}
	for i := 0; i < 300; i++ {
		if r := c.client(10*time.Second, "GET", fmt.Sprintf("key:%d", i)); r.Str != fmt.Sprint(i) {
			t.Fatalf("GET key:%d: %+v", i, r)
		}
	}
	// A node that does not lead the key's group answers MOVED to the one
	// that does.
	slot := slots.SlotString("key:7")
	gid := uint32(live[0].Config().Slots.Group(slot))
	leader := live[0].leaderOf(gid)
	for _, n := range live {
		r := do(t, n, "GET", "key:7")
		if n.ID() == leader {
			if r.Str != "7" {
				t.Fatalf("leader GET: %+v", r)
			}
			continue
		}
		ln, _ := n.Config().Node(leader)
		if r.Code != fsm.CodeMoved || r.Str != ln.Addr() || r.Int != int64(slot) {
			t.Fatalf("follower reply %+v, want MOVED %d %s", r, slot, ln.Addr())
		}
	}
	// Replicas converge: equal digests at equal applied index.
	c.waitFor(10*time.Second, "replicas converge", func() error { return c.converged() })
}

func TestClusterFailoverKeepsAcknowledgedWrites(t *testing.T) {
	c := newTestCluster(t, 3, 4, 3)
	acked := map[string]string{}
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("a:%d", i)
		if r := c.client(10*time.Second, "SET", k, "v"+k); r.Str == "OK" {
			acked[k] = "v" + k
		}
	}
	victim := c.mostLeading()
	c.stop(victim)
	// Writes resume through MOVED once the survivors elect leaders.
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("b:%d", i)
		if r := c.client(20*time.Second, "SET", k, "v"+k); r.Str == "OK" {
			acked[k] = "v" + k
		} else {
			t.Fatalf("write after failover: %+v", r)
		}
	}
	for k, v := range acked {
		if r := c.client(10*time.Second, "GET", k); r.Str != v {
			t.Fatalf("acknowledged %s lost: %+v", k, r)
		}
	}
	// The node restarts on its directory, rejoins and catches up.
	c.start(victim)
	c.waitFor(30*time.Second, "rejoined", func() error { return c.settled(3) })
	c.waitFor(20*time.Second, "caught up", func() error { return c.converged() })
}

func TestClusterPartitionedLeader(t *testing.T) {
	c := newTestCluster(t, 3, 3, 3)
	for i := 0; i < 30; i++ {
		c.client(10*time.Second, "SET", fmt.Sprintf("p:%d", i), "before")
	}
	victim := c.mostLeading()
	vn := c.live()[victim]
	var led []uint32
	for _, g := range vn.localGroups() {
		if g.host.raft.State() == raft.Leader {
			led = append(led, g.id)
		}
	}
	if len(led) == 0 {
		t.Fatal("victim leads nothing")
	}
	c.isolate(victim, true)
	// The majority elects new leaders for the victim's groups.
	c.waitFor(20*time.Second, "majority elects", func() error {
		for _, n := range c.live() {
			if n == vn {
				continue
			}
			for _, gid := range led {
				if l := n.leaderOf(gid); l == "" || l == vn.ID() {
					return fmt.Errorf("group %d leader %q", gid, l)
				}
			}
		}
		return nil
	})
	// The isolated node no longer acknowledges writes for those groups.
	cfg := vn.Config()
	var key string
	for i := 0; key == ""; i++ {
		k := fmt.Sprintf("iso:%d", i)
		if uint32(cfg.Slots.Group(slots.SlotString(k))) == led[0] {
			key = k
		}
	}
	c.waitFor(10*time.Second, "minority stops acknowledging", func() error {
		r := do(t, vn, "SET", key, "minority")
		if r.Kind == fsm.KindStatus {
			return fmt.Errorf("minority acknowledged a write")
		}
		return nil
	})
	// The majority serves the same key.
	var okReply fsm.Reply
	for _, n := range c.live() {
		if n == vn {
			continue
		}
		r := do(t, n, "SET", key, "majority")
		if r.Code == fsm.CodeMoved {
			if m := c.byAddr(r.Str); m != nil && m != vn {
				r = do(t, m, "SET", key, "majority")
			}
		}
		if r.Kind == fsm.KindStatus {
			okReply = r
			break
		}
	}
	if okReply.Str != "OK" {
		t.Fatal("majority did not accept the write")
	}
	c.isolate(victim, false)
	c.waitFor(30*time.Second, "healed and converged", func() error {
		if err := c.settled(3); err != nil {
			return err
		}
		return c.converged()
	})
	if r := c.client(10*time.Second, "GET", key); r.Str != "majority" {
		t.Fatalf("after heal: %+v", r)
	}
	for i := 0; i < 30; i++ {
		if r := c.client(10*time.Second, "GET", fmt.Sprintf("p:%d", i)); r.Str != "before" {
			t.Fatalf("p:%d lost: %+v", i, r)
		}
	}
}

func TestClusterCoverageModes(t *testing.T) {
	// Two replicas per group on three nodes: stopping one node leaves the
	// groups that had a replica there without quorum, the others intact.
	c := newTestCluster(t, 3, 6, 2)
	for i := 0; i < 200; i++ {
		c.client(10*time.Second, "SET", fmt.Sprintf("c:%d", i), "v")
	}
	// The placement must be final when the victim stops: a replica move
	// still in flight would let the group keep a quorum without it.
	c.waitFor(30*time.Second, "placement settled", func() error { return c.settled(3) })
	victim := 2
	vid := c.nodes[victim].ID()
	cfg := c.nodes[0].Config()
	c.stop(victim)
	var downKey, upKey string
	var downGroup uint32
	for i := 0; i < 200 && (downKey == "" || upKey == ""); i++ {
		k := fmt.Sprintf("c:%d", i)
		gi, _ := cfg.Group(uint32(cfg.Slots.Group(slots.SlotString(k))))
		if strings.Contains(strings.Join(gi.Replicas, ","), vid) {
			if downKey == "" {
				downKey, downGroup = k, gi.ID
			}
		} else if upKey == "" {
			upKey = k
		}
	}
	if downKey == "" || upKey == "" {
		t.Fatalf("placement left no up/down group: %+v", cfg.Groups)
	}
	// The survivor placed to hold the down group (another node may still
	// host a stale replica it is about to drop).
	var host *Node
	gi, _ := cfg.Group(downGroup)
	for _, n := range c.live() {
		if slices.Contains(gi.Replicas, n.ID()) && n.group(downGroup) != nil {
			host = n
		}
	}
	if host == nil {
		t.Fatalf("no survivor holds group %d (%v)", downGroup, gi.Replicas)
	}
	n := host
	c.waitFor(20*time.Second, "group seen down", func() error {
		n.updateCoverage(n.Config())
		if cv := n.coverageView(); !cv.down[downGroup] || !cv.anyDown {
			m, _ := n.gossip.Member(vid)
			l, srv := "", []raft.Server(nil)
			if g := n.group(downGroup); g != nil {
				_, l = g.host.leaderAddr()
				srv, _ = raftServers(g.host.raft)
			}
			return fmt.Errorf("group %d not down (for longer than downGrace) yet: victim %s since %v, raft leader %q, hint %q, servers %v, cfg %v",
				downGroup, m.State, time.Since(m.Since).Round(time.Millisecond), l, n.hintedLeader(downGroup), srv, n.Config().Groups)
		}
		return nil
	})
	// The directives are per node, as in Redis: set them everywhere.
	setAll := func(full, reads bool) {
		for _, m := range c.live() {
			m.SetCoverage(full, reads)
		}
	}
	// CP, full coverage required: everything is refused.
	setAll(true, false)
	if r := do(t, n, "GET", upKey); r.Code != fsm.CodeClusterDown {
		t.Fatalf("CP full coverage, healthy slot: %+v", r)
	}
	// Coverage not required: only the down group's slots fail.
	setAll(false, false)
	if r := c.client(10*time.Second, "GET", upKey); r.Str != "v" {
		t.Fatalf("healthy slot: %+v", r)
	}
	if r := do(t, n, "GET", downKey); r.Code != fsm.CodeSlotNotServed {
		t.Fatalf("down slot: %+v", r)
	}
	// Reads allowed while down: stale local reads, writes refused.
	setAll(true, true)
	if r := do(t, n, "GET", downKey); r.Str != "v" {
		for _, m := range c.live() {
			if g := m.group(downGroup); g != nil {
				srv, _ := raftServers(g.host.raft)
				_, l := g.host.leaderAddr()
				t.Logf("node %d: state %v leader %s servers %v hint %q", m.cfg.Port, g.host.raft.State(), l, srv, m.hintedLeader(downGroup))
			}
		}
		t.Logf("victim %s, cfg now %+v", vid, n.Config().Groups)
		t.Fatalf("read while down: %+v", r)
	}
	if r := do(t, n, "SET", downKey, "x"); r.Code != fsm.CodeClusterDownRO {
		t.Fatalf("write while down: %+v", r)
	}
	// AP mode, committed through the meta group, turns both on everywhere.
	setAll(true, false)
	// The victim may have led the meta group: retry until a new meta
	// leader commits the mode (SetMode fails definitely without one).
	c.waitFor(15*time.Second, "ap mode committed", func() error { return n.SetMode("ap") })
	c.waitFor(10*time.Second, "ap everywhere", func() error {
		for _, m := range c.live() {
			if m.Mode() != "ap" {
				return fmt.Errorf("mode %s", m.Mode())
			}
		}
		return nil
	})
	if r := do(t, n, "GET", downKey); r.Str != "v" {
		t.Fatalf("AP read while down: %+v", r)
	}
	if r := do(t, n, "SET", downKey, "x"); r.Code != fsm.CodeClusterDownRO {
		t.Fatalf("AP write while down: %+v", r)
	}
}

func TestClusterGrowsAndShrinks(t *testing.T) {
	c := newTestCluster(t, 3, 6, 3)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	acked := map[string]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("g:%d", i)
			r := c.client(20*time.Second, "SET", k, "v")
			mu.Lock()
			if r.Str == "OK" {
				acked[k] = true
			} else {
				failures = append(failures, fmt.Sprintf("%s: %+v", k, r))
			}
			mu.Unlock()
		}
	}()
	i4 := c.add()
	c.waitFor(60*time.Second, "4th node gets replicas and leaders", func() error {
		if err := c.settled(4); err != nil {
			return err
		}
		n4 := c.nodes[i4]
		cfg := n4.Config()
		reps, leads := 0, 0
		for _, gi := range cfg.Groups {
			for _, r := range gi.Replicas {
				if r == n4.ID() {
					reps++
				}
			}
			if n4.leaderOf(gi.ID) == n4.ID() {
				leads++
			}
		}
		if reps < 4 || leads < 1 {
			return fmt.Errorf("4th node holds %d replicas, leads %d", reps, leads)
		}
		return nil
	})
	// Graceful removal of the 4th node: its replicas move away.
	n4 := c.nodes[i4]
	if r := c.nodes[0].Cluster(context.Background(), [][]byte{[]byte("CLUSTER"), []byte("FORGET"), []byte(n4.ID())}); r.Str != "OK" {
		t.Fatalf("CLUSTER FORGET: %+v", r)
	}
	c.waitFor(60*time.Second, "4th node drained", func() error {
		cfg := c.nodes[0].Config()
		for _, gi := range cfg.Groups {
			for _, r := range gi.Replicas {
				if r == n4.ID() {
					return fmt.Errorf("group %d still on the 4th node", gi.ID)
				}
			}
		}
		if _, ok := cfg.Node(n4.ID()); ok {
			return fmt.Errorf("4th node not forgotten yet")
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d client requests failed, first: %s", len(failures), failures[0])
	}
	for k := range acked {
		if r := c.client(10*time.Second, "GET", k); r.Str != "v" {
			t.Fatalf("%s lost: %+v", k, r)
		}
	}
}

func TestClusterFiveNodes(t *testing.T) {
	c := newTestCluster(t, 5, 5, 3)
	live := c.live()
	c.waitFor(30*time.Second, "meta voters and leaders", func() error {
		for _, n := range live {
			if _, ok := n.meta.ready(); ok {
				if v, _ := votersOf(n.meta.raft); len(v) != 5 {
					return fmt.Errorf("meta voters %d", len(v))
				}
			}
		}
		counts := map[string]int{}
		for _, gi := range live[0].Config().Groups {
			counts[live[0].leaderOf(gi.ID)]++
		}
		if len(counts) != 5 {
			return fmt.Errorf("leaders on %d nodes: %v", len(counts), counts)
		}
		return nil
	})
	for i := 0; i < 100; i++ {
		if r := c.client(10*time.Second, "SET", fmt.Sprintf("f:%d", i), "v"); r.Str != "OK" {
			t.Fatalf("SET: %+v", r)
		}
	}
}

func TestClusterReadOnlyFollowerReads(t *testing.T) {
	c := newTestCluster(t, 3, 2, 3)
	live := c.live()
	key := "ro:key"
	gid := uint32(live[0].Config().Slots.Group(slots.SlotString(key)))
	var follower *Node
	leader := live[0].leaderOf(gid)
	for _, n := range live {
		if n.ID() != leader {
			follower = n
		}
	}
	roGet := func(n *Node) fsm.Reply {
		cmd := cmdOf("GET", key)
		cmd.ReadOnly = true
		return n.Exec(context.Background(), []Cmd{cmd})[0]
	}
	// Without READONLY a follower redirects; with it, a write acknowledged
	// by the leader is visible at once (follower read index).
	for i := 0; i < 20; i++ {
		v := fmt.Sprint(i)
		if r := c.client(10*time.Second, "SET", key, v); r.Str != "OK" {
			t.Fatalf("SET: %+v", r)
		}
		if r := roGet(follower); r.Str != v {
			t.Fatalf("READONLY follower read %d: %+v", i, r)
		}
	}
	if r := do(t, follower, "GET", key); r.Code != fsm.CodeMoved {
		t.Fatalf("plain read on follower: %+v", r)
	}
	// Cut the follower off: CP follower reads stop (no read index), AP
	// serves the possibly stale local value.
	idx := -1
	for i, n := range c.nodes {
		if n == follower {
			idx = i
		}
	}
	c.isolate(idx, true)
	c.waitFor(10*time.Second, "isolated follower refuses CP reads", func() error {
		if r := roGet(follower); r.Kind != fsm.KindError {
			return fmt.Errorf("served %+v", r)
		}
		return nil
	})
	if err := live[0].SetMode("ap"); err != nil && live[0] != follower {
		// The meta leader may be the isolated node; try another.
		for _, n := range live {
			if n != follower && n.SetMode("ap") == nil {
				break
			}
		}
	}
	c.isolate(idx, false)
	c.waitFor(10*time.Second, "ap mode reaches the follower", func() error {
		if follower.Mode() != "ap" {
			return fmt.Errorf("mode %s", follower.Mode())
		}
		return nil
	})
	c.isolate(idx, true)
	c.waitFor(10*time.Second, "AP stale read", func() error {
		if r := roGet(follower); r.Str != "19" {
			return fmt.Errorf("AP read %+v", r)
		}
		return nil
	})
	c.isolate(idx, false)
}

func TestClusterReplacesDeadNodeAndLeavesGracefully(t *testing.T) {
	c := newTestCluster(t, 4, 4, 3)
	// Graceful leave: the node hands over every leadership first.
	leaver := c.mostLeading()
	ln := c.nodes[leaver]
	if err := ln.Leave(10 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	for _, g := range ln.localGroups() {
		if g.host.raft.State() == raft.Leader {
			t.Fatalf("group %d still led by the leaving node", g.id)
		}
	}
	dead := ln.ID()
	c.stop(leaver)
	// Gone longer than the node timeout: its replicas are placed on the
	// other nodes, every group keeps 3 voters, and no data is lost.
	c.waitFor(90*time.Second, "replicas re-placed", func() error {
		for _, n := range c.live() {
			cfg := n.Config()
			for _, gi := range cfg.Groups {
				for _, r := range gi.Replicas {
					if r == dead {
						l := n.leaderOf(gi.ID)
						var v map[string]bool
						if ln := c.byID(l); ln != nil && ln.group(gi.ID) != nil {
							v, _ = votersOf(ln.group(gi.ID).host.raft)
						}
						return fmt.Errorf("group %d still placed on the dead node: %+v, leader %.6s, voters %v", gi.ID, gi, l, v)
					}
				}
			}
		}
		return nil
	})
	c.waitFor(30*time.Second, "groups whole again", func() error {
		for _, n := range c.live() {
			for _, g := range n.localGroups() {
				if g.host.raft.State() != raft.Leader {
					continue
				}
				v, _ := votersOf(g.host.raft)
				if len(v) != 3 || v[dead] {
					return fmt.Errorf("group %d voters %v", g.id, v)
				}
			}
		}
		return nil
	})
	for i := 0; i < 50; i++ {
		if r := c.client(10*time.Second, "SET", fmt.Sprintf("d:%d", i), "v"); r.Str != "OK" {
			t.Fatalf("SET after re-placement: %+v", r)
		}
	}
}
