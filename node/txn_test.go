package node

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/troika-db/troika/fsm"
)

// Blocks of GET/INCR/GET from concurrent clients never interleave: each
// block sees its own increment and nothing else between its two reads.
func TestExecTxnIsAtomic(t *testing.T) {
	n := startNode(t, t.TempDir(), 2, RaftTuning{})
	defer n.Close()
	const clients, rounds = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				block := []Cmd{cmdOf("GET", "{c}n"), cmdOf("INCR", "{c}n"), cmdOf("SET", "{c}last", "x"), cmdOf("GET", "{c}n")}
				rs, whole := n.ExecTxn(context.Background(), block, nil)
				if whole.Kind == fsm.KindError {
					errs <- fmt.Errorf("EXEC: %+v", whole)
					return
				}
				before, _ := strconv.Atoi(rs[0].Str) // nil before the first: 0
				after, _ := strconv.Atoi(rs[3].Str)
				if rs[1].Int != int64(before+1) || after != before+1 {
					errs <- fmt.Errorf("interleaved: GET %q, INCR %d, GET %q", rs[0].Str, rs[1].Int, rs[3].Str)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if r := do(t, n, "GET", "{c}n"); r.Str != strconv.Itoa(clients*rounds) {
		t.Fatalf("final counter %+v", r)
	}
	// Keys of two slots cannot form one block.
	if _, whole := n.ExecTxn(context.Background(), []Cmd{cmdOf("SET", "{a}x", "1"), cmdOf("SET", "{b}x", "1")}, nil); whole.Code != fsm.CodeCrossSlot {
		t.Fatalf("cross-slot block: %+v", whole)
	}
	// A command refused by Prepare answers in its place; the others run.
	rs, whole := n.ExecTxn(context.Background(), []Cmd{cmdOf("SET", "{c}y", "1", "EX", "0"), cmdOf("SET", "{c}z", "1")}, nil)
	if whole.Kind == fsm.KindError || rs[0].Kind != fsm.KindError || rs[1].Str != "OK" {
		t.Fatalf("prepare error in a block: %+v %+v", rs, whole)
	}
}

// WATCH-based compare-and-set increments from concurrent clients lose no
// update: an EXEC whose watched slot moved runs nothing and answers a null
// array, and the client retries.
func TestWatchCompareAndSet(t *testing.T) {
	n := startNode(t, t.TempDir(), 2, RaftTuning{})
	defer n.Close()
	ctx := context.Background()
	slot := cmdOf("GET", "{w}n").Slot
	// Another write to the slot between WATCH and EXEC aborts the block.
	v, red := n.WatchVersion(ctx, slot)
	if red.Kind == fsm.KindError {
		t.Fatal(red)
	}
	do(t, n, "SET", "{w}other", "x")
	if rs, whole := n.ExecTxn(ctx, []Cmd{cmdOf("SET", "{w}n", "1")}, []Watch{{Slot: slot, Version: v}}); whole.Kind != fsm.KindNilArray || rs != nil {
		t.Fatalf("EXEC after a concurrent write: %+v %+v", rs, whole)
	}
	if r := do(t, n, "GET", "{w}n"); r.Kind != fsm.KindNil {
		t.Fatalf("aborted block ran: %+v", r)
	}
	const clients, incs = 6, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	aborts := 0
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < incs; {
				v, _ := n.WatchVersion(ctx, slot)
				cur := do(t, n, "GET", "{w}n")
				x, _ := strconv.Atoi(cur.Str)
				_, whole := n.ExecTxn(ctx, []Cmd{cmdOf("SET", "{w}n", strconv.Itoa(x+1))}, []Watch{{Slot: slot, Version: v}})
				if whole.Kind == fsm.KindNilArray {
					mu.Lock()
					aborts++
					mu.Unlock()
					continue
				}
				if whole.Kind == fsm.KindError {
					t.Errorf("EXEC: %+v", whole)
					return
				}
				done++
			}
		}()
	}
	wg.Wait()
	if r := do(t, n, "GET", "{w}n"); r.Str != strconv.Itoa(clients*incs) {
		t.Fatalf("lost updates: counter %+v, want %d (%d aborts)", r, clients*incs, aborts)
	}
	t.Logf("%d increments, %d aborted attempts retried", clients*incs, aborts)
}
