package node

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troika-db/troika/fsm"
)

// roundTimeout bounds one read-index round and one expiry proposal.
const roundTimeout = 5 * time.Second

// dataGroup is one replicated shard of the keyspace hosted on this node.
type dataGroup struct {
	id     uint32
	host   *raftHost
	fsm    *dataFSM
	prop   *proposer
	reads  *readIndexer
	log    *slog.Logger
	lastTS atomic.Int64 // last timestamp handed out by clock()
	now    func() int64 // the node's data clock (unix ms)

	hz   atomic.Int64 // active expiry cycles per second
	stop chan struct{}
	wg   sync.WaitGroup

	// transferMu is held while a leadership transfer of this group runs
	// (handOver): the cluster loop and CLUSTER FAILOVER requests never
	// start two at once.
	transferMu sync.Mutex
	// bgMu guards closing, so that spawn never adds to wg once close waits.
	bgMu    sync.Mutex
	closing bool
}

// spawn runs fn on a goroutine that close waits for; false (fn not run)
// once the group is closing.
func (g *dataGroup) spawn(fn func()) bool {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn()
	}()
	return true
}

// clock returns the leader's data clock in unix ms, never going backwards
// within the group (also not behind the newest applied entry), so that entry
// timestamps are monotonic in the log even across leader changes with
// reasonably synchronised clocks.
func (g *dataGroup) clock() int64 {
	now := g.now()
	if t := g.fsm.lastTime.Load(); t > now {
		now = t
	}
	for {
		last := g.lastTS.Load()
		if now <= last {
			return last
		}
		if g.lastTS.CompareAndSwap(last, now) {
			return now
		}
	}
}

// expiryLoop is the active expiry cycle (Redis's activeExpireCycle): on the
// leader, hz times a second, it collects keys whose deadline has passed and
// proposes their deletion as a log entry, in batches, until a batch comes
// back short or the cycle's time budget (25% of the period, as Redis) is
// spent. Redis samples random keys with a TTL; Troika keeps keys ordered by
// deadline, so it finds exactly the expired ones.
func (g *dataGroup) expiryLoop() {
	defer g.wg.Done()
	const batch = 200
	for {
		hz := g.hz.Load()
		if hz <= 0 {
			hz = 10
		}
		period := time.Second / time.Duration(hz)
		select {
		case <-g.stop:
			return
		case <-time.After(period):
		}
		if _, ok := g.host.ready(); !ok {
			continue
		}
		deadline := time.Now().Add(period / 4)
		for time.Now().Before(deadline) {
			now := g.clock()
			var keys []string
			g.fsm.read(func(db *fsm.DB) { keys = db.ExpiredKeys(now, batch) })
			if len(keys) == 0 {
				break
			}
			args := make([][]byte, 0, len(keys)+1)
			args = append(args, []byte("__expiredel"))
			for _, k := range keys {
				args = append(args, []byte(k))
			}
			res := g.prop.propose([]prepared{{op: fsm.OpExpireDel, args: args}})
			if res.err != nil {
				g.log.Debug("expiry proposal failed", "err", res.err)
				break
			}
			if len(keys) < batch {
				break
			}
		}
	}
}

// linearize waits until a linearizable read may be served locally.
func (g *dataGroup) linearize(ctx context.Context) error { return g.reads.barrier(ctx) }

func (g *dataGroup) close() {
	g.bgMu.Lock()
	if g.closing {
		g.bgMu.Unlock()
		return
	}
	g.closing = true
	g.bgMu.Unlock()
	close(g.stop)
	g.wg.Wait()
	g.reads.close()
	// Shut raft down before the proposer: in-flight futures then complete
	// (as indeterminate) instead of waiting for a quorum that may be gone.
	if err := g.host.close(); err != nil {
		g.log.Warn("raft shutdown", "err", err)
	}
	g.prop.close()
}
