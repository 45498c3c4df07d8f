package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/slots"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startNode(t *testing.T, dir string, groups int, tune RaftTuning) *Node {
	t.Helper()
	return startNodeWith(t, dir, groups, tune, nil)
}

// startNodeWith starts a one-node cluster; configure, optional, adjusts
// its Config first.
func startNodeWith(t *testing.T, dir string, groups int, tune RaftTuning, configure func(*Config)) *Node {
	t.Helper()
	if tune.HeartbeatTimeout == 0 {
		tune.HeartbeatTimeout, tune.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: dir, Port: 7000, ClusterListener: ln, Groups: groups, Logger: quietLogger(),
		Tune: tune, Hz: 50}
	if configure != nil {
		configure(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		n.Close()
		t.Fatal(err)
	}
	return n
}

func cmdOf(args ...string) Cmd {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	c := Cmd{Args: b, Slot: -1}
	if len(args) > 1 {
		c.Slot = slots.SlotString(args[1])
	}
	if cmd := fsm.Commands.Lookup(b[0]); cmd != nil {
		c.Write = cmd.Write
	}
	return c
}

func do(t *testing.T, n *Node, args ...string) fsm.Reply {
	t.Helper()
	return n.Exec(context.Background(), []Cmd{cmdOf(args...)})[0]
}

func TestSingleNodeSetGetAcrossGroups(t *testing.T) {
	n := startNode(t, t.TempDir(), 4, RaftTuning{})
	defer n.Close()
	// One pipeline spanning every group: writes then reads.
	var pipe []Cmd
	for i := 0; i < 200; i++ {
		pipe = append(pipe, cmdOf("SET", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)))
	}
	for i := 0; i < 200; i++ {
		pipe = append(pipe, cmdOf("GET", fmt.Sprintf("k%d", i)))
	}
	replies := n.Exec(context.Background(), pipe)
	for i := 0; i < 200; i++ {
		if r := replies[i]; r.Kind != fsm.KindStatus || r.Str != "OK" {
			t.Fatalf("SET %d: %+v", i, r)
		}
		if r := replies[200+i]; r.Kind != fsm.KindBulk || r.Str != fmt.Sprintf("v%d", i) {
			t.Fatalf("GET %d: %+v", i, r)
		}
	}
	if r := n.Exec(context.Background(), []Cmd{cmdOf("DBSIZE")})[0]; r.Int != 200 {
		t.Fatalf("DBSIZE = %+v", r)
	}
	// A read after a write in the same pipeline sees it.
	rs := n.Exec(context.Background(), []Cmd{cmdOf("SET", "x", "1"), cmdOf("GET", "x"), cmdOf("SET", "x", "2"), cmdOf("GET", "x")})
	if rs[1].Str != "1" || rs[3].Str != "2" {
		t.Fatalf("pipeline order broken: %+v", rs)
	}
}

func TestActiveExpiryDeletesThroughTheLog(t *testing.T) {
	n := startNode(t, t.TempDir(), 2, RaftTuning{})
	defer n.Close()
	for i := 0; i < 50; i++ {
		if r := do(t, n, "SET", fmt.Sprintf("e%d", i), "v", "PX", "20"); r.Str != "OK" {
			t.Fatalf("SET: %+v", r)
		}
	}
	do(t, n, "SET", "keep", "v")
	expiredAt := time.Now().Add(20 * time.Millisecond)
	// Expired keys are never returned, even before the cycle deletes them.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r := do(t, n, "DBSIZE"); r.Int == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired keys were not deleted by the active cycle: DBSIZE=%d", do(t, n, "DBSIZE").Int)
		}
		past := time.Now().After(expiredAt)
		if r := do(t, n, "GET", "e7"); past && r.Kind != fsm.KindNil {
			t.Fatalf("expired key readable: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRestartKeepsDataAndIdentity(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir, 3, RaftTuning{TrailingLogs: 16})
	id := n.ID()
	for i := 0; i < 500; i++ {
		if r := do(t, n, "SET", fmt.Sprintf("p%d", i), fmt.Sprintf("%d", i)); r.Str != "OK" {
			t.Fatalf("SET: %+v", r)
		}
	}
	// Snapshot every group (which truncates its log down to TrailingLogs),
	// then write entries that exist only in the log.
	for _, g := range n.localGroups() {
		if err := g.host.raft.Snapshot().Error(); err != nil {
			t.Fatalf("group %d snapshot: %v", g.id, err)
		}
		first, _ := n.store.Group(g.id).FirstIndex()
		if first <= 1 {
			t.Fatalf("group %d: log not truncated after snapshot (first index %d)", g.id, first)
		}
	}
	do(t, n, "SET", "tail", "end")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, dir, 3, RaftTuning{})
	defer n2.Close()
	if n2.ID() != id {
		t.Fatalf("identity changed: %s -> %s", id, n2.ID())
	}
	// Without any write, the FSM's applied index reaches the commit index
	// of every group (the term barrier's index is published), so reads are
	// served rather than waiting for a write that never comes.
	for _, g := range n2.localGroups() {
		deadline := time.Now().Add(10 * time.Second)
		for g.fsm.applied.Load() < g.host.raft.CommitIndex() {
			if time.Now().After(deadline) {
				t.Fatalf("group %d: fsm applied %d < commit %d after restart", g.id, g.fsm.applied.Load(), g.host.raft.CommitIndex())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i := 0; i < 500; i++ {
		if r := do(t, n2, "GET", fmt.Sprintf("p%d", i)); r.Str != fmt.Sprintf("%d", i) {
			t.Fatalf("after restart p%d = %+v", i, r)
		}
	}
	if r := do(t, n2, "GET", "tail"); r.Str != "end" {
		t.Fatalf("tail = %+v", r)
	}
}

func TestClusterReplies(t *testing.T) {
	n := startNode(t, t.TempDir(), 4, RaftTuning{})
	defer n.Close()
	ctx := context.Background()
	arg := func(s ...string) [][]byte { return cmdOf(s...).Args }
	if r := n.Cluster(ctx, arg("CLUSTER", "KEYSLOT", "123456789")); r.Int != 12739 {
		t.Fatalf("KEYSLOT = %+v", r)
	}
	r := n.Cluster(ctx, arg("CLUSTER", "SLOTS"))
	covered := 0
	for _, e := range r.Arr {
		covered += int(e.Arr[1].Int-e.Arr[0].Int) + 1
		if e.Arr[2].Arr[2].Str != n.ID() {
			t.Fatalf("slot range master is not this node: %+v", e)
		}
	}
	if covered != slots.Count {
		t.Fatalf("CLUSTER SLOTS covers %d slots", covered)
	}
	nodes := n.Cluster(ctx, arg("CLUSTER", "NODES")).Str
	want := fmt.Sprintf("%s 127.0.0.1:7000@%d myself,master - 0 0 ", n.ID(), n.cfg.ClusterPort)
	if len(nodes) < len(want) || nodes[:len(want)] != want || nodes[len(nodes)-len(" connected 0-16383\n"):] != " connected 0-16383\n" {
		t.Fatalf("CLUSTER NODES = %q", nodes)
	}
	do(t, n, "SET", "{t}a", "1")
	do(t, n, "SET", "{t}b", "1")
	s := slots.SlotString("t")
	if r := n.Cluster(ctx, arg("CLUSTER", "COUNTKEYSINSLOT", fmt.Sprint(s))); r.Int != 2 {
		t.Fatalf("COUNTKEYSINSLOT = %+v", r)
	}
	if r := n.Cluster(ctx, arg("CLUSTER", "GETKEYSINSLOT", fmt.Sprint(s), "10")); len(r.Arr) != 2 {
		t.Fatalf("GETKEYSINSLOT = %+v", r)
	}
}

// Many concurrent readers, some of which give up early, all get answers and
// no read stays stuck (the read-index runner role is always passed on).
func TestConcurrentReadsWithCancellation(t *testing.T) {
	n := startNode(t, t.TempDir(), 2, RaftTuning{})
	defer n.Close()
	do(t, n, "SET", "r", "v")
	done := make(chan error, 32)
	for w := 0; w < 32; w++ {
		go func(w int) {
			for i := 0; i < 200; i++ {
				ctx := context.Background()
				var cancel context.CancelFunc = func() {}
				if (w+i)%7 == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(i%3)*time.Microsecond)
				}
				r := n.Exec(ctx, []Cmd{cmdOf("GET", "r")})[0]
				cancel()
				if r.Kind == fsm.KindBulk && r.Str == "v" {
					continue
				}
				if r.Kind == fsm.KindError && r.Code == fsm.CodeTryAgain && (w+i)%7 == 0 {
					continue // this reader gave up
				}
				done <- fmt.Errorf("reader %d op %d: %+v", w, i, r)
				return
			}
			done <- nil
		}(w)
	}
	for w := 0; w < 32; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// Many writers to one group: their proposals share log entries, and each
// waiter must get its own replies (raft futures are single-consumer).
func TestConcurrentWritersShareEntries(t *testing.T) {
	n := startNode(t, t.TempDir(), 2, RaftTuning{})
	defer n.Close()
	const writers, each = 32, 100
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for i := 0; i < each; i++ {
				key := fmt.Sprintf("{same}w%d:%d", w, i)
				if r := n.Exec(context.Background(), []Cmd{cmdOf("INCRBY", key, fmt.Sprint(i+1))})[0]; r.Kind != fsm.KindInt || r.Int != int64(i+1) {
					errs <- fmt.Errorf("writer %d op %d: %+v", w, i, r)
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if r := do(t, n, "DBSIZE"); r.Int != writers*each {
		t.Fatalf("DBSIZE = %d, want %d", r.Int, writers*each)
	}
}
