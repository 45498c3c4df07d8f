package gossip

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestJoinThroughOneSeed(t *testing.T) {
	for _, count := range []int{3, 5} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			nodes := startCluster(t, count, nil)
			waitFor(t, "everyone alive with meta", func() string { return allSee(nodes, nodes) })

			// Members: self included, sorted by name, nothing else.
			for _, n := range nodes {
				ms := n.g.Members()
				var names []string
				for _, m := range ms {
					names = append(names, m.Name)
				}
				want := make([]string, 0, count)
				for _, o := range nodes {
					want = append(want, o.name)
				}
				slices.Sort(want)
				if !slices.Equal(names, want) {
					t.Fatalf("%s Members = %v, want %v", n.name[:6], names, want)
				}
				for _, m := range ms {
					if m.Since.IsZero() {
						t.Fatalf("%s: member %s has no Since", n.name[:6], m.Name[:6])
					}
				}
			}
			// The first event of a node is its own join.
			if evs := nodes[1].log.of(nodes[1].name); len(evs) == 0 || evs[0].Kind != EventJoin {
				t.Fatalf("own events = %v, want a join first", evs)
			}
			waitFor(t, "join events", func() string {
				for _, o := range nodes {
					for _, m := range nodes {
						if evs := o.log.of(m.name); len(evs) == 0 || evs[0].Kind != EventJoin {
							return fmt.Sprintf("%s got %v about %s", o.name[:6], evs, m.name[:6])
						}
					}
				}
				return ""
			})
		})
	}
}

func TestUpdateMetaPropagates(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	waitFor(t, "cluster", func() string { return allSee(nodes, nodes) })

	nodes[1].setMeta([]byte("leader-of:1,4,7"))
	if err := nodes[1].g.UpdateMeta(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "new meta everywhere", func() string { return allSee(nodes, nodes) })
	for _, o := range []*testNode{nodes[0], nodes[2]} {
		waitFor(t, "update event", func() string {
			evs := o.log.of(nodes[1].name)
			last := evs[len(evs)-1]
			if last.Kind != EventUpdate || string(last.Member.Meta) != "leader-of:1,4,7" {
				return fmt.Sprintf("last event %v", last)
			}
			return ""
		})
	}
}

func TestMetaTooLarge(t *testing.T) {
	big := make([]byte, MaxMetaSize+1)
	_, err := New(Config{
		Name:     newName(t),
		BindAddr: "127.0.0.1:0",
		Meta:     func() []byte { return big },
		Dial:     func(string, time.Duration) (net.Conn, error) { return nil, errors.New("unused") },
		Logger:   testLogger(),
	})
	if !errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "513 bytes") {
		t.Fatalf("New with %d-byte meta: err = %v, want ErrMetaTooLarge naming the size", len(big), err)
	}

	// At the limit it works; growing past it later is refused and the
	// published metadata stays the previous one.
	n := startNode(t, nodeOpts{meta: make([]byte, MaxMetaSize)})
	n.setMeta(big)
	if err := n.g.UpdateMeta(time.Second); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("UpdateMeta with %d bytes: err = %v, want ErrMetaTooLarge", len(big), err)
	}
	if m, _ := n.g.Member(n.name); len(m.Meta) != MaxMetaSize {
		t.Fatalf("own meta is %d bytes after a refused update, want %d", len(m.Meta), MaxMetaSize)
	}
}

// sawSuspectThenLeave checks the events an observer got about name: after
// the last join, an update to suspect, then a leave in state want.
func sawSuspectThenLeave(evs []Event, want State) string {
	start := 0
	for i, e := range evs {
		if e.Kind == EventJoin {
			start = i
		}
	}
	evs = evs[start:]
	suspect := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventUpdate && e.Member.State == StateSuspect })
	leave := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventLeave })
	switch {
	case suspect < 0:
		return fmt.Sprintf("no suspect update in %v", evs)
	case leave < suspect:
		return fmt.Sprintf("no leave after the suspect update in %v", evs)
	case evs[leave].Member.State != want:
		return fmt.Sprintf("leave event in state %s, want %s", evs[leave].Member.State, want)
	}
	return ""
}

func TestCrashIsDetected(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	waitFor(t, "cluster", func() string { return allSee(nodes, nodes) })

	victim := nodes[2]
	victim.close() // no Leave
	for _, o := range nodes[:2] {
		waitFor(t, "dead", func() string { return stateOf(o, victim, StateDead) })
		waitFor(t, "suspect then leave events", func() string {
			return sawSuspectThenLeave(o.log.of(victim.name), StateDead)
		})
		m, _ := o.g.Member(victim.name)
		if m.Addr != victim.addr() || string(m.Meta) != "meta-2" {
			t.Fatalf("dead member = %+v, want its last address and meta", m)
		}
	}
	// The survivors still see each other alive.
	if msg := allSee(nodes[:2], nodes[:2]); msg != "" {
		t.Fatal(msg)
	}
}

func TestLeaveIsSeenAsLeft(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	waitFor(t, "cluster", func() string { return allSee(nodes, nodes) })

	leaver := nodes[2]
	if err := leaver.g.Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if msg := stateOf(leaver, leaver, StateLeft); msg != "" {
		t.Fatal(msg)
	}
	for _, o := range nodes[:2] {
		waitFor(t, "left", func() string { return stateOf(o, leaver, StateLeft) })
	}
	leaver.close()
	for _, o := range nodes[:2] {
		evs := o.log.of(leaver.name)
		if last := evs[len(evs)-1]; last.Member.State != StateLeft {
			t.Fatalf("%s: last event about the leaver %v, want state left", o.name[:6], last)
		}
		if !slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == EventLeave }) {
			t.Fatalf("%s: no leave event in %v", o.name[:6], evs)
		}
	}
	// Left stays left after the process is gone (no probe turns it dead).
	time.Sleep(3 * FastTuning().ProbeInterval)
	for _, o := range nodes[:2] {
		if msg := stateOf(o, leaver, StateLeft); msg != "" {
			t.Fatal(msg)
		}
	}
	if err := leaver.g.Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("Leave after Close: %v, want ErrClosed", err)
	}
}

func TestPartitionHeals(t *testing.T) {
	t.Run("short", func(t *testing.T) {
		// Long enough for every queued broadcast to be sent: memberlist
		// alone would leave both sides dead to each other from then on;
		// the rejoin loop reconnects them through the dead members.
		testPartition(t, nil, func(cut *testNode, others []*testNode) {
			time.Sleep(time.Second)
		})
	})
	t.Run("outlives retention", func(t *testing.T) {
		// Both sides forget each other; only the remembered seeds (the cut
		// node joined through nodes[0]) can reconnect them.
		tune := func(tu *Tuning) { tu.DeadRetention = 1500 * time.Millisecond }
		testPartition(t, tune, func(cut *testNode, others []*testNode) {
			for _, o := range others {
				waitFor(t, "forgotten", func() string {
					if _, ok := o.g.Member(cut.name); ok {
						return fmt.Sprintf("%s still lists %s", o.name[:6], cut.name[:6])
					}
					if _, ok := cut.g.Member(o.name); ok {
						return fmt.Sprintf("%s still lists %s", cut.name[:6], o.name[:6])
					}
					return ""
				})
			}
		})
	})
}

func testPartition(t *testing.T, tune func(*Tuning), during func(cut *testNode, others []*testNode)) {
	l := &links{}
	nodes := startClusterTuned(t, 3, l, tune)
	waitFor(t, "cluster", func() string { return allSee(nodes, nodes) })

	cut, others := nodes[2], nodes[:2]
	l.isolate(cut.addr(), true)
	// Dead, or already forgotten with a short retention.
	gone := func(observer, member *testNode) func() string {
		return func() string {
			if _, ok := observer.g.Member(member.name); !ok && tune != nil {
				return ""
			}
			return stateOf(observer, member, StateDead)
		}
	}
	for _, o := range others {
		waitFor(t, "isolated node dead", gone(o, cut))
		waitFor(t, "isolated node sees the others dead", gone(cut, o))
	}
	if msg := allSee(others, others); msg != "" {
		t.Fatal(msg)
	}
	during(cut, others)

	l.isolate(cut.addr(), false)
	waitFor(t, "healed", func() string { return allSee(nodes, nodes) })
	for _, o := range others {
		evs := o.log.of(cut.name)
		if last := evs[len(evs)-1]; last.Kind != EventJoin {
			t.Fatalf("%s: last event about the healed node %v, want a join", o.name[:6], last)
		}
	}
}

func TestRestartWithSameNameAndAddress(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	waitFor(t, "cluster", func() string { return allSee(nodes, nodes) })

	// Crash and restart at once, before anyone notices: peers know the
	// old incarnation alive; the new process refutes it.
	old := nodes[2]
	addr := old.addr()
	old.close()
	restarted := startNode(t, nodeOpts{name: old.name, addr: addr, meta: []byte("meta-2-restarted")})
	if _, err := restarted.g.Join([]string{nodes[0].addr()}); err != nil {
		t.Fatal(err)
	}
	all := []*testNode{nodes[0], nodes[1], restarted}
	waitFor(t, "restarted node alive with its new meta", func() string { return allSee(all, all) })
}

func TestJoinRetriesSeeds(t *testing.T) {
	// Reserve an address for the seed, which starts after the joiner.
	probe := startNode(t, nodeOpts{})
	seedAddr := probe.addr()
	probe.close()

	joiner := startNode(t, nodeOpts{meta: []byte("joiner")})
	if n, err := joiner.g.Join([]string{seedAddr}); err == nil || n != 0 {
		t.Fatalf("Join to a seed that is down: n=%d err=%v, want an error", n, err)
	}
	seed := startNode(t, nodeOpts{addr: seedAddr, meta: []byte("seed")})
	both := []*testNode{joiner, seed}
	waitFor(t, "rejoin loop reaches the seed", func() string { return allSee(both, both) })
}

func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = startNode(t, nodeOpts{})
	}
	for _, n := range nodes[1:] {
		if _, err := n.g.Join([]string{nodes[0].addr()}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "cluster", func() string { return allSee(nodes, nodes) })
	for _, n := range nodes {
		n.close()
		if err := n.g.Close(); err != nil { // idempotent
			t.Fatalf("second Close: %v", err)
		}
		if _, err := n.g.Join([]string{nodes[0].addr()}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Join after Close: %v, want ErrClosed", err)
		}
	}
	// Close waits for the goroutines of the package; memberlist's own exit
	// on its shutdown channel right after, so the count comes back.
	waitFor(t, "goroutines to exit", func() string {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Sprintf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return ""
	})
}
