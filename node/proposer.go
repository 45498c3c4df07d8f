package node

import (
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/troika-db/troika/fsm"
)

// proposal is a set of prepared commands from one client pipeline for one
// group. done receives exactly one result.
type proposal struct {
	cmds []prepared
	done chan proposalResult
}

type prepared struct {
	op   fsm.Op
	args [][]byte
}

type proposalResult struct {
	replies []fsm.Reply
	err     error // nil, or an error classified by classifyApplyErr
}

// proposer is a group's batching proposer. Clients enqueue proposals; one
// goroutine drains everything queued, packs it into a single log entry
// stamped with the leader clock, and hands it to raft without waiting for
// the previous entry to commit (raft pipelines them and the shared log store
// fsyncs many groups' entries at once). A second goroutine completes the
// futures in order and splits the replies among the waiting clients.
type proposer struct {
	r       *raft.Raft
	clock   func() int64 // monotonic leader clock for this group (unix ms)
	in      chan *proposal
	pending chan inflight
	stop    chan struct{}
	wg      sync.WaitGroup
	maxCmds int
	maxSize int
}

type inflight struct {
	f     raft.ApplyFuture
	props []*proposal
	err   error
}

func newProposer(r *raft.Raft, clock func() int64) *proposer {
	p := &proposer{
		r:       r,
		clock:   clock,
		in:      make(chan *proposal, 4096),
		pending: make(chan inflight, 1024),
		stop:    make(chan struct{}),
		maxCmds: 4096,
		maxSize: 4 << 20,
	}
	p.wg.Add(2)
	go p.run()
	go p.complete()
	return p
}

// errProposerClosed is returned for proposals made after close.
var errProposerClosed = errors.New("proposer closed")

// submit enqueues a proposal; the result arrives on the returned channel.
func (p *proposer) submit(cmds []prepared) chan proposalResult {
	pr := &proposal{cmds: cmds, done: make(chan proposalResult, 1)}
	select {
	case p.in <- pr:
	case <-p.stop:
		pr.done <- proposalResult{err: errProposerClosed}
	}
	return pr.done
}

func (p *proposer) run() {
	defer p.wg.Done()
	defer close(p.pending)
	var batch []*proposal
	buf := make([]byte, 0, 64<<10)
	for {
		batch = batch[:0]
		select {
		case <-p.stop:
			p.drainClosed()
			return
		case pr := <-p.in:
			batch = append(batch, pr)
		}
		n, size := len(batch[0].cmds), 0
	fill:
		for n < p.maxCmds && size < p.maxSize {
			select {
			case pr := <-p.in:
				batch = append(batch, pr)
				n += len(pr.cmds)
				for _, c := range pr.cmds {
					for _, a := range c.args {
						size += len(a)
					}
				}
			default:
				break fill
			}
		}
		buf = fsm.AppendEntryHeader(buf[:0], fsm.EntryBatch, p.clock(), n)
		for _, pr := range batch {
			for _, c := range pr.cmds {
				buf = fsm.AppendEntryCmd(buf, c.op, c.args)
			}
		}
		data := make([]byte, len(buf))
		copy(data, buf)
		f := p.r.Apply(data, 10*time.Second)
		props := make([]*proposal, len(batch))
		copy(props, batch)
		p.pending <- inflight{f: f, props: props}
	}
}

func (p *proposer) drainClosed() {
	for {
		select {
		case pr := <-p.in:
			pr.done <- proposalResult{err: errProposerClosed}
		default:
			return
		}
	}
}

func (p *proposer) complete() {
	defer p.wg.Done()
	for in := range p.pending {
		err := in.f.Error()
		var replies []fsm.Reply
		if err == nil {
			res, _ := in.f.Response().(applyResult)
			if res.err != nil {
				err = res.err
			} else {
				replies = res.replies
			}
		}
		off := 0
		for _, pr := range in.props {
			if err != nil {
				pr.done <- proposalResult{err: err}
				continue
			}
			n := len(pr.cmds)
			if off+n > len(replies) {
				pr.done <- proposalResult{err: errors.New("reply count mismatch")}
				continue
			}
			pr.done <- proposalResult{replies: replies[off : off+n : off+n]}
			off += n
		}
	}
}

// close stops accepting proposals and waits for in-flight ones to finish
// (raft must still be running, or shut down, so that futures complete).
func (p *proposer) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.wg.Wait()
}
