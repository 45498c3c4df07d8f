package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// errNotReady means this node is not (yet) a leader that may serve: it is a
// follower, or a new leader whose term barrier has not been applied.
var errNotReady = errors.New("not a ready leader")

// readIndexer coalesces linearizable read barriers of one group. A read joins
// the next round; a round reads CommitIndex, then confirms leadership with a
// single VerifyLeader, then waits until the FSM has applied that index. All
// reads that joined before the round began are released together. Because
// the commit index is sampled after every member of the round arrived, each
// read observes every write acknowledged before it was issued.
//
// The first read that finds no round running becomes the runner: it runs
// rounds on its own goroutine until nobody is waiting (no hand-off to a
// background goroutine on the hot path), delivering each round's result to
// the reads that joined it.
type readIndexer struct {
	h   *raftHost
	fsm *dataFSM

	mu      sync.Mutex
	waiting []chan error
	running bool
	closed  bool

	// verifies counts leadership checks (VerifyLeader calls) issued.
	verifies atomic.Uint64
}

var errClosed = errors.New("group closed")

func newReadIndexer(h *raftHost, f *dataFSM) *readIndexer {
	return &readIndexer{h: h, fsm: f}
}

// errHandoff tells a waiting read to become the runner.
var errHandoff = errors.New("read-index runner handoff")

// barrier blocks until a linearizable read may be served from the local FSM.
func (ri *readIndexer) barrier(ctx context.Context) error {
	ch := make(chan error, 1)
	ri.mu.Lock()
	if ri.closed {
		ri.mu.Unlock()
		return errClosed
	}
	ri.waiting = append(ri.waiting, ch)
	runner := !ri.running
	ri.running = true
	ri.mu.Unlock()
	for {
		if runner {
			ri.runRounds(ch)
		}
		select {
		case err := <-ch:
			if err != errHandoff {
				return err
			}
			// The previous runner finished its own read and passed the
			// remaining reads (ours first) to us.
			ri.mu.Lock()
			ri.waiting = append([]chan error{ch}, ri.waiting...)
			ri.mu.Unlock()
			runner = true
		case <-ctx.Done():
			ri.abandon(ch)
			return ctx.Err()
		}
	}
}

// runRounds serves rounds until the runner's own read (own) has its result,
// then hands the remaining reads to the oldest of them, so no runner serves
// others indefinitely and no background goroutine is needed.
func (ri *readIndexer) runRounds(own chan error) {
	for {
		ri.mu.Lock()
		batch := ri.waiting
		ri.waiting = nil
		ri.mu.Unlock()
		err := ri.round()
		mine := false
		for _, ch := range batch {
			if ch == own {
				mine = true
			}
			ch <- err
		}
		if !mine {
			continue
		}
		ri.mu.Lock()
		ri.handoffLocked()
		ri.mu.Unlock()
		return
	}
}

// handoffLocked passes the runner role to the oldest waiting read. The send
// happens under mu (it cannot block: the channel is buffered and holds no
// result while its read is waiting), so abandon sees it reliably.
func (ri *readIndexer) handoffLocked() {
	if len(ri.waiting) == 0 {
		ri.running = false
		return
	}
	next := ri.waiting[0]
	ri.waiting = ri.waiting[1:]
	next <- errHandoff
}

// abandon withdraws a read whose context ended. If the runner role was
// already handed to it, it is passed on so the remaining reads are served.
func (ri *readIndexer) abandon(ch chan error) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	for i, w := range ri.waiting {
		if w == ch {
			ri.waiting = append(ri.waiting[:i], ri.waiting[i+1:]...)
			return
		}
	}
	select {
	case err := <-ch:
		if err == errHandoff {
			ri.handoffLocked()
		}
	default:
	}
}

// close makes later reads fail; reads in a round finish with its result.
func (ri *readIndexer) close() {
	ri.mu.Lock()
	ri.closed = true
	ri.mu.Unlock()
}

// pendingRound is a read barrier whose leadership check is in flight.
type pendingRound struct {
	term uint64
	idx  uint64
	f    raft.Future
	err  error
}

// start begins an uncoalesced read barrier: sample the commit index and
// send the leadership check without waiting for it. A pipeline reading from
// several groups starts one per group, then finishes them all.
func (ri *readIndexer) start() pendingRound {
	term, ok := ri.h.ready()
	if !ok {
		return pendingRound{err: errNotReady}
	}
	idx := ri.h.raft.CommitIndex()
	ri.verifies.Add(1)
	return pendingRound{term: term, idx: idx, f: ri.h.raft.VerifyLeader()}
}

// finish completes a barrier begun by start.
func (ri *readIndexer) finish(p pendingRound) error {
	if p.err != nil {
		return p.err
	}
	if err := p.f.Error(); err != nil {
		return err
	}
	return ri.applied(p.term, p.idx)
}

// applied checks the term is unchanged and waits for the FSM to reach idx.
func (ri *readIndexer) applied(term, idx uint64) error {
	if t, ok := ri.h.ready(); !ok || t != term {
		return errNotReady
	}
	if ri.fsm.applied.Load() >= idx {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	return ri.fsm.waitApplied(ctx, idx)
}

func (ri *readIndexer) round() error {
	term, ok := ri.h.ready()
	if !ok {
		return errNotReady
	}
	idx := ri.h.raft.CommitIndex()
	ri.verifies.Add(1)
	if err := ri.h.verify(); err != nil {
		return err
	}
	return ri.applied(term, idx)
}

// leaderIndex returns a commit index that covers every write acknowledged
// before the call, after confirming leadership (a follower serving a
// READONLY read waits until it has applied this index).
func (ri *readIndexer) leaderIndex() (uint64, error) {
	p := ri.start()
	if p.err != nil {
		return 0, p.err
	}
	if err := p.f.Error(); err != nil {
		return 0, err
	}
	if err := ri.applied(p.term, p.idx); err != nil {
		return 0, err
	}
	// Every write acknowledged before the call is a command entry at or
	// below p.idx, now applied here: the newest applied command covers
	// them, and a follower's applied index does reach it.
	return ri.fsm.lastCmd.Load(), nil
}
