package raftstore

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/node/raftlog"
)

// listFSM records every command it applies.
type listFSM struct {
	mu      sync.Mutex
	applied []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, string(l.Data))
	return len(f.applied)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, fmt.Errorf("listFSM: snapshots not supported")
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	_ = rc.Close()
	return fmt.Errorf("listFSM: restore not supported")
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.applied...)
}

type raftNode struct {
	r     *raft.Raft
	fsm   *listFSM
	trans *raft.InmemTransport
}

func startRaft(t *testing.T, g *GroupStore, snaps raft.SnapshotStore, bootstrap bool) *raftNode {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1 << 30
	conf.SnapshotInterval = time.Hour
	conf.Logger = raftlog.New(slog.New(slog.NewTextHandler(io.Discard, nil)), fmt.Sprintf("raft-g%d", g.ID()))
	_, trans := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("g%d", g.ID())))
	fsm := &listFSM{}
	r, err := raft.NewRaft(conf, fsm, g, g, snaps, trans)
	if err != nil {
		t.Fatalf("group %d: new raft: %v", g.ID(), err)
	}
	if bootstrap {
		cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: trans.LocalAddr()}}}
		if err := r.BootstrapCluster(cfg).Error(); err != nil {
			t.Fatalf("group %d: bootstrap: %v", g.ID(), err)
		}
	}
	return &raftNode{r: r, fsm: fsm, trans: trans}
}

// waitFor polls cond; the deadline only bounds a failing test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRealRaftOnSharedStore(t *testing.T) {
	const (
		groups  = 3
		entries = 1000
	)
	path := filepath.Join(t.TempDir(), "raft.db")
	// NoSync keeps this test fast on a loaded machine; it checks raft
	// semantics and recovery after a clean Close, which do not depend on
	// fsync. Durability under group commit is TestConcurrentGroups' job.
	open := func() *Store {
		s, err := Open(Config{Path: path, NoSync: true, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	snaps := make([]raft.SnapshotStore, groups+1)
	nodes := make([]*raftNode, groups+1)
	for id := 1; id <= groups; id++ {
		snaps[id] = raft.NewInmemSnapshotStore()
		nodes[id] = startRaft(t, s.Group(uint32(id)), snaps[id], true)
	}
	want := func(id int) []string {
		out := make([]string, entries)
		for i := range out {
			out[i] = "g" + strconv.Itoa(id) + "-" + strconv.Itoa(i)
		}
		return out
	}

	// All groups apply concurrently so their log writes share commits.
	var wg sync.WaitGroup
	errc := make(chan error, groups)
	for id := 1; id <= groups; id++ {
		n := nodes[id]
		waitFor(t, fmt.Sprintf("group %d leadership", id), func() bool { return n.r.State() == raft.Leader })
		wg.Add(1)
		go func(id int, n *raftNode) {
			defer wg.Done()
			futures := make([]raft.ApplyFuture, 0, entries)
			for _, cmd := range want(id) {
				futures = append(futures, n.r.Apply([]byte(cmd), 10*time.Second))
			}
			for i, f := range futures {
				if err := f.Error(); err != nil {
					errc <- fmt.Errorf("group %d apply %d: %w", id, i, err)
					return
				}
			}
		}(id, n)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for id := 1; id <= groups; id++ {
		if got := nodes[id].fsm.list(); !equalStrings(got, want(id)) {
			t.Fatalf("group %d FSM has %d entries, want the %d applied in order", id, len(got), entries)
		}
	}
	st := s.Stats()
	t.Logf("raft run: %d log/stable writes in %d commits", st.Requests, st.Commits)

	lastBefore := make([]uint64, groups+1)
	for id := 1; id <= groups; id++ {
		if err := nodes[id].r.Shutdown().Error(); err != nil {
			t.Fatal(err)
		}
		_ = nodes[id].trans.Close()
		lastBefore[id], _ = s.Group(uint32(id)).LastIndex()
		if lastBefore[id] < entries {
			t.Fatalf("group %d LastIndex %d < %d", id, lastBefore[id], entries)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart from the same file: raft must find existing state, become
	// leader again and replay every entry into a fresh FSM.
	s = open()
	defer s.Close()
	for id := 1; id <= groups; id++ {
		g := s.Group(uint32(id))
		if last, _ := g.LastIndex(); last != lastBefore[id] {
			t.Fatalf("group %d LastIndex after reopen = %d, want %d", id, last, lastBefore[id])
		}
		has, err := raft.HasExistingState(g, g, snaps[id])
		if err != nil || !has {
			t.Fatalf("group %d HasExistingState = %v, %v", id, has, err)
		}
		nodes[id] = startRaft(t, g, snaps[id], false)
	}
	for id := 1; id <= groups; id++ {
		n := nodes[id]
		waitFor(t, fmt.Sprintf("group %d replay", id), func() bool { return len(n.fsm.list()) >= entries })
		if got := n.fsm.list(); !equalStrings(got, want(id)) {
			t.Fatalf("group %d replayed %d entries, want the original %d in order", id, len(got), entries)
		}
		if err := n.r.Apply([]byte("after-restart"), 10*time.Second).Error(); err != nil {
			t.Fatalf("group %d apply after restart: %v", id, err)
		}
		if err := n.r.Shutdown().Error(); err != nil {
			t.Fatal(err)
		}
		_ = n.trans.Close()
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
