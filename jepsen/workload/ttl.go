package workload

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"sync"

	"github.com/troika-db/troika/jepsen/checker"
	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/slots"
)

// ttl: SET key v EX <long> and atomic reads of GET + PEXPIRETIME. The
// leader fixes a write's absolute deadline before proposing, so every
// replica must report the same deadline for the same write, whatever the
// nodes' clocks and whoever leads; a store that computes deadlines at
// apply time on each replica diverges after a failover (run it with the
// clock nemesis).
type ttl struct {
	keys []string
	mu   sync.Mutex
	next int64
}

// ttlSeconds is long enough that nothing expires during a test, even on a
// node whose clock the nemesis moved forward.
const ttlSeconds = 1000000

func newTTL(opt Options) *ttl {
	w := &ttl{}
	for _, t := range tagKeys("ttl", opt.Tags) {
		w.keys = append(w.keys, t+":k")
	}
	return w
}

func (w *ttl) Name() string { return "ttl" }

func (w *ttl) Prepare(ctx context.Context, r *client.Router) error {
	return needCommands(ctx, r, w.Name(), "SET", "GET", "PEXPIRETIME", "MULTI", "EXEC")
}

func (w *ttl) Next(rng *rand.Rand) history.Op {
	k := w.keys[rng.Intn(len(w.keys))]
	if rng.Intn(3) == 0 {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.next++
		return history.Op{F: "write", Key: k, Value: w.next}
	}
	return history.Op{F: "read", Key: k}
}

func (w *ttl) Invoke(ctx context.Context, r *client.Router, op history.Op) history.Op {
	slot := slots.SlotString(op.Key)
	if op.F == "write" {
		reps, err := r.Exec(ctx, slot, [][]string{{"SET", op.Key, strconv.FormatInt(op.Value.(int64), 10), "EX", strconv.Itoa(ttlSeconds)}})
		if err != nil {
			return failed(op, err)
		}
		if reps[0].IsErr() {
			return errReply(op, reps[0])
		}
		return complete(op, client.OK, "")
	}
	reps, c, ok := execTxn(ctx, r, slot, op, [][]string{{"GET", op.Key}, {"PEXPIRETIME", op.Key}})
	if !ok {
		return c
	}
	c = complete(op, client.OK, "")
	if reps[0].Nil {
		c.Value = nil
		return c
	}
	v, err := strconv.ParseInt(reps[0].Str, 10, 64)
	if err != nil {
		return complete(op, client.Info, "GET: "+err.Error())
	}
	c.Value = []int64{v, reps[1].Int}
	return c
}

func (w *ttl) Final() []history.Op {
	out := make([]history.Op, len(w.keys))
	for i, k := range w.keys {
		out[i] = history.Op{F: "read", Key: k}
	}
	return out
}

func (w *ttl) Check(ops []history.Op, dir string) (Verdict, error) {
	res, err := checker.CheckTTL(ops)
	if err != nil {
		return Verdict{}, fmt.Errorf("ttl checker: %w", err)
	}
	return verdict("ttl (replicas agree on deadlines)", res), nil
}
