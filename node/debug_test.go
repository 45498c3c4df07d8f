package node

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/node/raftstore"
)

func TestBugsRequireDebugUnsafe(t *testing.T) {
	if _, err := New(Config{Dir: t.TempDir(), Bugs: Bugs{FollowerReads: true}}); err != errUnsafe {
		t.Fatalf("New with a bug and without DebugUnsafe: %v", err)
	}
	n := startNode(t, t.TempDir(), 1, RaftTuning{})
	defer n.Close()
	if err := n.SetBugs(Bugs{RetryProposals: true}); err != errUnsafe {
		t.Fatalf("SetBugs without DebugUnsafe: %v", err)
	}
	if err := n.SetBugs(Bugs{}); err != nil {
		t.Fatalf("SetBugs(none): %v", err)
	}
}

// unverified-leader-reads: the leader serves GET without any VerifyLeader
// round; without the bug every GET costs one.
func TestPlantedUnverifiedLeaderReads(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), 1, RaftTuning{}, func(c *Config) { c.DebugUnsafe = true })
	defer n.Close()
	g := n.localGroups()[0]
	do(t, n, "SET", "k", "v")
	before := g.reads.verifies.Load()
	for i := 0; i < 5; i++ {
		if r := do(t, n, "GET", "k"); r.Str != "v" {
			t.Fatalf("GET: %+v", r)
		}
	}
	if got := g.reads.verifies.Load() - before; got < 5 {
		t.Fatalf("without the bug 5 GETs ran %d leadership checks, want >= 5", got)
	}
	if err := n.SetBugs(Bugs{UnverifiedLeaderReads: true}); err != nil {
		t.Fatal(err)
	}
	before = g.reads.verifies.Load()
	for i := 0; i < 5; i++ {
		if r := do(t, n, "GET", "k"); r.Str != "v" {
			t.Fatalf("GET under the bug: %+v", r)
		}
	}
	if got := g.reads.verifies.Load() - before; got != 0 {
		t.Fatalf("under unverified-leader-reads 5 GETs ran %d leadership checks, want 0", got)
	}
	// Nor does it wait for the term's barrier: a leader not (yet) ready
	// serves reads.
	g.host.readyTerm.Store(0)
	if r := do(t, n, "GET", "k"); r.Str != "v" {
		t.Fatalf("GET on a leader whose barrier is pending: %+v", r)
	}
}

// apply-time-ttl: the leader proposes relative expiries unconverted, and
// two replicas with different clocks applying the same entry store
// different deadlines.
func TestPlantedApplyTimeTTL(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), 1, RaftTuning{}, func(c *Config) { c.DebugUnsafe = true })
	defer n.Close()
	set := fsm.Commands.Lookup([]byte("set"))
	args := cmdOf("SET", "k", "v", "EX", "100").Args
	const leaderNow = 1_700_000_000_000
	out, err := n.prepare(set, args, leaderNow)
	if err != nil || len(out) != 5 || string(out[3]) != "PXAT" || string(out[4]) != fmt.Sprint(leaderNow+100_000) {
		t.Fatalf("prepare without the bug: %q %v", out, err)
	}
	if err := n.SetBugs(Bugs{ApplyTimeTTL: true}); err != nil {
		t.Fatal(err)
	}
	out, err = n.prepare(set, args, leaderNow)
	if err != nil || len(out) != 5 || string(out[3]) != "EX" || string(out[4]) != "100" {
		t.Fatalf("prepare under the bug: %q %v", out, err)
	}
	if _, err := n.prepare(set, cmdOf("SET", "k", "v", "EX", "0").Args, leaderNow); err == nil {
		t.Fatal("an invalid expire is no longer refused at the leader")
	}
	// The same log entry, applied by two replicas whose clocks differ.
	buf := fsm.AppendEntryHeader(nil, fsm.EntryBatch, leaderNow, 1)
	buf = fsm.AppendEntryCmd(buf, fsm.OpSet, out)
	entry := &raft.Log{Index: 7, Type: raft.LogCommand, Data: buf}
	replica := func(clock int64) int64 {
		f := newDataFSM(dataFSMConfig{Group: 1, Log: quietLogger(), Clock: func() int64 { return clock }, ApplyTimeTTL: func() bool { return true }})
		res := f.ApplyBatch([]*raft.Log{entry})[0].(*applyResult)
		if res.err != nil || res.replies[0].Str != "OK" {
			t.Fatalf("apply: %+v", res)
		}
		var exp int64
		f.read(func(db *fsm.DB) { exp, _ = db.Expire("k") })
		return exp
	}
	a, b := replica(leaderNow+3_000), replica(leaderNow-2_000)
	if a != leaderNow+103_000 || b != leaderNow+98_000 {
		t.Fatalf("deadlines on the two replicas: %d and %d", a, b)
	}
	// End to end: a write through the node is stamped by the apply clock.
	r := do(t, n, "SET", "e", "v", "PX", "60000")
	if r.Str != "OK" {
		t.Fatalf("SET: %+v", r)
	}
	if pt := do(t, n, "PTTL", "e"); pt.Int <= 0 || pt.Int > 60_000 {
		t.Fatalf("PTTL: %+v", pt)
	}
}

// retry-proposals: each proposal is proposed twice and both copies apply.
func TestPlantedRetryProposals(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), 2, RaftTuning{}, func(c *Config) {
		c.DebugUnsafe = true
		c.Bugs = Bugs{RetryProposals: true}
		c.retryNow = true // re-propose at once instead of after 5 ms
	})
	defer n.Close()
	r := do(t, n, "INCR", "counter")
	if r.Kind != fsm.KindInt || (r.Int != 1 && r.Int != 2) {
		t.Fatalf("INCR: %+v", r)
	}
	// The second copy is applied once it has committed; a write to the
	// same group after it is ordered after it.
	do(t, n, "SET", "{counter}x", "y")
	if got := do(t, n, "GET", "counter"); got.Str != "2" {
		t.Fatalf("after one INCR the counter is %+v, want 2 (applied twice)", got)
	}
	do(t, n, "RPUSH", "{counter}list", "a")
	do(t, n, "SET", "{counter}x", "y")
	if got := do(t, n, "LRANGE", "{counter}list", "0", "-1"); len(got.Arr) != 2 {
		t.Fatalf("after one RPUSH the list is %+v, want the element twice", got)
	}
	// Switched off, writes apply once.
	if err := n.SetBugs(Bugs{}); err != nil {
		t.Fatal(err)
	}
	do(t, n, "INCR", "counter")
	if got := do(t, n, "GET", "counter"); got.Str != "3" {
		t.Fatalf("with the bug off: %+v, want 3", got)
	}
}

// The data clock (Config.Clock) stamps deadlines and decides expiry.
func TestDataClockShiftsTTLs(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	offset.Store(int64(time.Hour))
	n := startNodeWith(t, t.TempDir(), 1, RaftTuning{}, func(c *Config) { c.Clock = clock })
	defer n.Close()
	if r := do(t, n, "SET", "k", "v", "EX", "100"); r.Str != "OK" {
		t.Fatalf("SET: %+v", r)
	}
	deadline := do(t, n, "PEXPIRETIME", "k").Int
	if want := time.Now().Add(time.Hour + 100*time.Second).UnixMilli(); deadline < want-60_000 || deadline > want+60_000 {
		t.Fatalf("deadline %d, want about %d (an hour ahead)", deadline, want)
	}
	if r := do(t, n, "GET", "k"); r.Str != "v" {
		t.Fatalf("GET: %+v", r)
	}
	offset.Add(int64(200 * time.Second)) // the node's clock passes the deadline
	if r := do(t, n, "GET", "k"); r.Kind != fsm.KindNil {
		t.Fatalf("GET after the data clock passed the deadline: %+v", r)
	}
}

// The lazy log store of skip-fsync: command entries are acknowledged but
// reach the durable store only when flushed; anything else flushes first;
// a crash loses what is pending.
func TestLazyLogStore(t *testing.T) {
	s, err := raftstore.Open(raftstore.Config{Path: filepath.Join(t.TempDir(), "raft.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := s.Group(1)
	var on atomic.Bool
	on.Store(true)
	l := newLazyLog(base, on.Load, time.Hour, quietLogger())
	entry := func(i uint64, typ raft.LogType) *raft.Log {
		return &raft.Log{Index: i, Term: 1, Type: typ, Data: []byte(fmt.Sprint("e", i))}
	}
	if err := l.StoreLogs([]*raft.Log{entry(1, raft.LogConfiguration)}); err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs([]*raft.Log{entry(2, raft.LogCommand), entry(3, raft.LogCommand)}); err != nil {
		t.Fatal(err)
	}
	if last, _ := base.LastIndex(); last != 1 {
		t.Fatalf("durable last index %d, want 1 (commands pending)", last)
	}
	if last, _ := l.LastIndex(); last != 3 {
		t.Fatalf("lazy last index %d, want 3", last)
	}
	var got raft.Log
	if err := l.GetLog(3, &got); err != nil || string(got.Data) != "e3" {
		t.Fatalf("GetLog(3): %v %q", err, got.Data)
	}
	// A non-command entry writes the pending ones first, in order.
	if err := l.StoreLogs([]*raft.Log{entry(4, raft.LogNoop)}); err != nil {
		t.Fatal(err)
	}
	if last, _ := base.LastIndex(); last != 4 {
		t.Fatalf("durable last index %d, want 4", last)
	}
	// The background write (here: an explicit flush).
	l.StoreLogs([]*raft.Log{entry(5, raft.LogCommand), entry(6, raft.LogCommand)})
	if err := l.flush(); err != nil {
		t.Fatal(err)
	}
	if last, _ := base.LastIndex(); last != 6 || l.npending.Load() != 0 {
		t.Fatalf("after flush: durable last %d, pending %d", last, l.npending.Load())
	}
	// A suffix deletion (conflicting entries) removes pending ones too.
	l.StoreLogs([]*raft.Log{entry(7, raft.LogCommand), entry(8, raft.LogCommand)})
	if err := l.DeleteRange(6, 8); err != nil {
		t.Fatal(err)
	}
	if last, _ := l.LastIndex(); last != 5 {
		t.Fatalf("after DeleteRange(6, 8): last %d, want 5", last)
	}
	// With the bug off, appends go straight to the durable store.
	on.Store(false)
	l.StoreLogs([]*raft.Log{entry(6, raft.LogCommand)})
	if last, _ := base.LastIndex(); last != 6 {
		t.Fatalf("bug off: durable last %d, want 6", last)
	}
	// A crash loses what is pending; the durable log stays a prefix.
	on.Store(true)
	l.StoreLogs([]*raft.Log{entry(7, raft.LogCommand)})
	l.crash()
	l.StoreLogs([]*raft.Log{entry(8, raft.LogBarrier)})
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if last, _ := base.LastIndex(); last != 6 {
		t.Fatalf("after crash: durable last %d, want 6", last)
	}
}

// skip-fsync end to end: acknowledged writes are lost when the node
// "loses power" before the background write, and the node restarts.
func TestPlantedSkipFsyncLosesAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	n := startNodeWith(t, dir, 2, RaftTuning{}, func(c *Config) {
		c.DebugUnsafe = true
		c.skipFsyncEvery = time.Hour // no background write during the test
	})
	if r := do(t, n, "SET", "durable", "yes"); r.Str != "OK" {
		t.Fatalf("SET: %+v", r)
	}
	if err := n.SetBugs(Bugs{SkipFsync: true}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if r := do(t, n, "SET", fmt.Sprint("lost", i), "v"); r.Str != "OK" {
			t.Fatalf("SET: %+v", r)
		}
	}
	if r := do(t, n, "GET", "lost7"); r.Str != "v" {
		t.Fatalf("GET before the crash: %+v", r)
	}
	for _, g := range n.localGroups() {
		g.host.lazy.crash() // power loss: nothing pending reaches the file
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, dir, 2, RaftTuning{})
	defer n2.Close()
	if r := do(t, n2, "GET", "durable"); r.Str != "yes" {
		t.Fatalf("write from before the bug: %+v", r)
	}
	for i := 0; i < 50; i++ {
		if r := do(t, n2, "GET", fmt.Sprint("lost", i)); r.Kind != fsm.KindNil {
			t.Fatalf("lost%d survived the crash: %+v", i, r)
		}
	}
	if r := do(t, n2, "SET", "after", "restart"); r.Str != "OK" {
		t.Fatalf("write after restart: %+v", r)
	}
}

// With skip-fsync on, a clean shutdown writes everything out.
func TestPlantedSkipFsyncCleanCloseKeepsWrites(t *testing.T) {
	dir := t.TempDir()
	n := startNodeWith(t, dir, 1, RaftTuning{}, func(c *Config) {
		c.DebugUnsafe = true
		c.Bugs = Bugs{SkipFsync: true}
		c.skipFsyncEvery = time.Hour
	})
	for i := 0; i < 20; i++ {
		do(t, n, "SET", fmt.Sprint("k", i), "v")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, dir, 1, RaftTuning{})
	defer n2.Close()
	for i := 0; i < 20; i++ {
		if r := do(t, n2, "GET", fmt.Sprint("k", i)); r.Str != "v" {
			t.Fatalf("k%d after a clean restart: %+v", i, r)
		}
	}
}

// CLUSTER FAILOVER on a node that leads every group it replicates, and
// with bad options.
func TestClusterFailoverReplies(t *testing.T) {
	n := startNode(t, t.TempDir(), 2, RaftTuning{})
	defer n.Close()
	cluster := func(args ...string) fsm.Reply {
		a := [][]byte{[]byte("CLUSTER")}
		for _, s := range args {
			a = append(a, []byte(s))
		}
		return n.Cluster(context.Background(), a)
	}
	for _, opts := range [][]string{{"FAILOVER"}, {"failover", "force"}, {"FAILOVER", "TAKEOVER"}} {
		if r := cluster(opts...); r.Code != fsm.CodeFailoverMaster {
			t.Errorf("%v: %+v, want the master error", opts, r)
		}
	}
	if r := cluster("FAILOVER", "bogus"); r.Code != fsm.CodeSyntax {
		t.Errorf("bad option: %+v", r)
	}
	if r := cluster("FAILOVER", "FORCE", "TAKEOVER"); r.Code != fsm.CodeUnknownSubArity || r.Str != "cluster|FAILOVER" {
		t.Errorf("two options: %+v", r)
	}
}
