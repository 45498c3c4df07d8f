package node

import (
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// prepared is one validated, time-stamped write ready for the log.
type prepared struct {
	op   fsm.Op
	args [][]byte
}

// proposal is a set of prepared commands from one client pipeline for one
// group.
type proposal struct {
	cmds  []prepared
	ready chan struct{} // closed once f and off are set, or flusher is true
	f     *sharedFuture
	off   int  // index of this proposal's first reply in the entry
	flush bool // woken to take over flushing instead
	err   error
}

type proposalResult struct {
	replies []fsm.Reply
	err     error // nil, or an error classified by writeErrReply
}

// proposer is a group's batching proposer. Writers queue proposals; the
// first writer that finds nobody flushing becomes the flusher: it drains
// everything queued (other clients' proposals too) into a single log entry
// stamped with the leader clock and hands it to raft without waiting for
// earlier entries to commit (raft pipelines them, and the shared log store
// fsyncs many groups' entries at once). Each writer then waits on the raft
// future itself and takes its slice of the replies. There is no proposer
// goroutine: a write costs no hand-off beyond raft's own.
type proposer struct {
	r       *raft.Raft
	clock   func() int64 // monotonic leader clock for this group (unix ms)
	maxCmds int
	maxSize int

	mu       sync.Mutex
	queue    []*proposal
	flushing bool
	closed   bool
	buf      []byte
	// paused refuses new proposals (errProposerPaused) while a planned
	// leadership transfer waits for the ones in flight (inFlight) to
	// complete, so that no write's outcome becomes unknown because of it.
	paused   bool
	inFlight int
	drained  chan struct{} // closed when inFlight reaches 0 while paused

	// retry reports whether the retry-proposals planted bug is on (nil:
	// never); retryAfter is its delay, retryNow (tests) re-proposes at once.
	retry      func() bool
	retryAfter time.Duration
	retryNow   bool
}

func newProposer(r *raft.Raft, clock func() int64) *proposer {
	return &proposer{r: r, clock: clock, maxCmds: 4096, maxSize: 4 << 20}
}

// errProposerClosed is returned for proposals made after close.
var errProposerClosed = errors.New("proposer closed")

// errProposerPaused is returned for proposals made while a planned
// leadership transfer drains the group: nothing was proposed (retry).
var errProposerPaused = errors.New("leadership transfer in progress")

// propose appends cmds to the log and returns their replies.
func (p *proposer) propose(cmds []prepared) proposalResult {
	return p.wait(p.start(cmds))
}

// start queues cmds and, if nobody is flushing, flushes the queue (raft.Apply
// only enqueues, so this returns quickly). A pipeline spanning several
// groups starts all of them before waiting on any.
func (p *proposer) start(cmds []prepared) *proposal {
	pr := &proposal{cmds: cmds, ready: make(chan struct{})}
	p.mu.Lock()
	if p.closed || p.paused {
		pr.err = errProposerClosed
		if !p.closed {
			pr.err = errProposerPaused
		}
		p.mu.Unlock()
		close(pr.ready)
		return pr
	}
	p.inFlight++
	p.queue = append(p.queue, pr)
	lead := !p.flushing
	p.flushing = true
	p.mu.Unlock()
	if lead {
		p.flushUntil(pr)
	}
	return pr
}

// wait returns the replies of a started proposal.
func (p *proposer) wait(pr *proposal) proposalResult {
	res := p.wait1(pr)
	if pr.err != errProposerClosed && pr.err != errProposerPaused {
		p.mu.Lock()
		p.inFlight--
		if p.inFlight == 0 && p.drained != nil {
			close(p.drained)
			p.drained = nil
		}
		p.mu.Unlock()
	}
	return res
}

// pause refuses new proposals and waits (up to timeout) until every
// proposal in flight has completed; resume undoes it. A planned
// leadership transfer runs between the two.
func (p *proposer) pause(timeout time.Duration) bool {
	p.mu.Lock()
	p.paused = true
	if p.inFlight == 0 {
		p.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	p.drained = ch
	p.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (p *proposer) resume() {
	p.mu.Lock()
	p.paused = false
	p.drained = nil
	p.mu.Unlock()
}

func (p *proposer) wait1(pr *proposal) proposalResult {
	for {
		<-pr.ready
		if !pr.flush {
			break
		}
		// The previous flusher handed the role to us; our proposal is
		// still queued.
		pr.flush, pr.ready = false, make(chan struct{})
		p.flushUntil(pr)
	}
	if pr.err != nil {
		return proposalResult{err: pr.err}
	}
	resp, err := pr.f.wait()
	if err != nil {
		return proposalResult{err: err}
	}
	res, _ := resp.(*applyResult)
	switch {
	case res == nil:
		return proposalResult{err: errors.New("no apply result")}
	case res.err != nil:
		return proposalResult{err: res.err}
	}
	n := len(pr.cmds)
	if pr.off+n > len(res.replies) {
		return proposalResult{err: errors.New("reply count mismatch")}
	}
	return proposalResult{replies: res.replies[pr.off : pr.off+n : pr.off+n]}
}

// flushUntil flushes batches until own has been proposed, then passes the
// flusher role to the oldest queued proposal (if any).
func (p *proposer) flushUntil(own *proposal) {
	for {
		p.mu.Lock()
		batch := p.take()
		p.mu.Unlock()
		mine := false
		for _, pr := range batch {
			if pr == own {
				mine = true
			}
		}
		p.propose1(batch)
		if mine {
			p.mu.Lock()
			if len(p.queue) == 0 {
				p.flushing = false
			} else {
				next := p.queue[0]
				next.flush = true
				close(next.ready)
			}
			p.mu.Unlock()
			return
		}
	}
}

// take removes up to maxCmds commands' worth of proposals from the queue.
func (p *proposer) take() []*proposal {
	n, size, i := 0, 0, 0
	for ; i < len(p.queue); i++ {
		c := p.queue[i].cmds
		if i > 0 && (n+len(c) > p.maxCmds || size > p.maxSize) {
			break
		}
		n += len(c)
		for _, cmd := range c {
			for _, a := range cmd.args {
				size += len(a)
			}
		}
	}
	batch := make([]*proposal, i)
	copy(batch, p.queue[:i])
	rest := copy(p.queue, p.queue[i:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	return batch
}

// propose1 encodes batch into one entry and hands it to raft.
func (p *proposer) propose1(batch []*proposal) {
	n := 0
	for _, pr := range batch {
		n += len(pr.cmds)
	}
	buf := fsm.AppendEntryHeader(p.buf[:0], fsm.EntryBatch, p.clock(), n)
	off := 0
	for _, pr := range batch {
		pr.off = off
		off += len(pr.cmds)
		for _, c := range pr.cmds {
			buf = fsm.AppendEntryCmd(buf, c.op, c.args)
		}
	}
	data := make([]byte, len(buf))
	copy(data, buf)
	if cap(buf) <= 1<<20 {
		p.buf = buf
	}
	var f *sharedFuture
	if p.retry != nil && p.retry() {
		f = p.proposeTwice(data)
	} else {
		f = &sharedFuture{f: p.r.Apply(data, 10*time.Second)}
	}
	for _, pr := range batch {
		pr.f = f
		close(pr.ready)
	}
}

// close makes later proposals fail with errProposerClosed. Proposals already
// handed to raft complete through their futures (raft answers them, with
// ErrRaftShutdown at the latest).
func (p *proposer) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// sharedFuture lets every proposal of one entry wait on its raft future.
// raft's futures are single-consumer: Error receives the result from a
// one-slot channel, so a second concurrent caller would block forever.
type sharedFuture struct {
	f    raft.ApplyFuture
	once sync.Once
	resp interface{}
	err  error
	// done, when non-nil, is closed once resp and err are set by another
	// goroutine (proposeTwice); f is then unused.
	done chan struct{}
}

func (s *sharedFuture) wait() (interface{}, error) {
	if s.done != nil {
		<-s.done
		return s.resp, s.err
	}
	s.once.Do(func() {
		if s.err = s.f.Error(); s.err == nil {
			s.resp = s.f.Response()
		}
	})
	return s.resp, s.err
}

// proposeTwice is the retry-proposals planted bug (test-only, see
// DESIGN.md): it proposes data, and if that entry is not applied within
// retryAfter (or raft fails it: leadership lost, timeout), proposes the
// same bytes once more, without any deduplication. The writers get the
// first successful outcome; both copies apply (an INCR counts twice).
func (p *proposer) proposeTwice(data []byte) *sharedFuture {
	s := &sharedFuture{done: make(chan struct{})}
	first := p.r.Apply(data, 10*time.Second)
	type outcome struct {
		resp interface{}
		err  error
	}
	results := make(chan outcome, 2) // never blocks: at most two senders
	await := func(f raft.ApplyFuture) {
		err := f.Error()
		var resp interface{}
		if err == nil {
			resp = f.Response()
		}
		results <- outcome{resp, err}
	}
	go await(first)
	go func() {
		pending := 1
		if !p.retryNow {
			t := time.NewTimer(p.retryAfter)
			select {
			case o := <-results:
				t.Stop()
				pending--
				if o.err == nil {
					s.resp, s.err = o.resp, nil
					close(s.done)
					return
				}
			case <-t.C:
			}
		}
		go await(p.r.Apply(data, 10*time.Second))
		pending++
		var o outcome
		for ; pending > 0; pending-- {
			if o = <-results; o.err == nil {
				break
			}
		}
		s.resp, s.err = o.resp, o.err
		close(s.done)
	}()
	return s
}
