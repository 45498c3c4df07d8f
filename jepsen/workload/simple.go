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

// verdict turns a checker.Result into a Verdict.
func verdict(name string, res checker.Result) Verdict {
	v := Verdict{Checker: name, Valid: res.Valid, Summary: res.Summary(), Result: res}
	seen := map[string]bool{}
	for _, a := range res.Anomalies {
		if !seen[a.Type] {
			seen[a.Type] = true
			v.Anomalies = append(v.Anomalies, a.Type)
		}
	}
	return v
}

// readInt runs GET key and returns its integer value (0 when absent).
func readInt(ctx context.Context, r *client.Router, op history.Op) (int64, history.Op, bool) {
	reps, err := r.Exec(ctx, slots.SlotString(op.Key), [][]string{{"GET", op.Key}})
	if err != nil {
		return 0, failed(op, err), false
	}
	if reps[0].IsErr() {
		return 0, errReply(op, reps[0]), false
	}
	if reps[0].Nil {
		return 0, op, true
	}
	v, err := strconv.ParseInt(reps[0].Str, 10, 64)
	if err != nil {
		return 0, complete(op, client.Info, "GET: "+err.Error()), false
	}
	return v, op, true
}

// counter: INCRBY of small positive deltas on one key, and reads.
type counter struct{ key string }

func newCounter() *counter { return &counter{key: "{jepsen-counter}"} }

func (w *counter) Name() string { return "counter" }

func (w *counter) Prepare(ctx context.Context, r *client.Router) error {
	return needCommands(ctx, r, w.Name(), "INCRBY", "GET")
}

func (w *counter) Next(rng *rand.Rand) history.Op {
	if rng.Intn(2) == 0 {
		return history.Op{F: "read", Key: w.key}
	}
	return history.Op{F: "add", Key: w.key, Value: int64(1 + rng.Intn(5))}
}

func (w *counter) Invoke(ctx context.Context, r *client.Router, op history.Op) history.Op {
	if op.F == "read" {
		v, c, ok := readInt(ctx, r, op)
		if !ok {
			return c
		}
		c = complete(op, client.OK, "")
		c.Value = v
		return c
	}
	reps, err := r.Exec(ctx, slots.SlotString(w.key), [][]string{{"INCRBY", w.key, strconv.FormatInt(op.Value.(int64), 10)}})
	if err != nil {
		return failed(op, err)
	}
	if reps[0].IsErr() {
		return errReply(op, reps[0])
	}
	return complete(op, client.OK, "")
}

func (w *counter) Final() []history.Op { return []history.Op{{F: "read", Key: w.key}} }

func (w *counter) Check(ops []history.Op, dir string) (Verdict, error) {
	res, err := checker.CheckCounter(ops)
	if err != nil {
		return Verdict{}, fmt.Errorf("counter checker: %w", err)
	}
	return verdict("counter bounds", res), nil
}

// set: SADD of unique elements to one key, SMEMBERS reads during the test
// and after healing.
type set struct {
	key  string
	mu   sync.Mutex
	next int64
}

func newSet() *set { return &set{key: "{jepsen-set}"} }

func (w *set) Name() string { return "set" }

func (w *set) Prepare(ctx context.Context, r *client.Router) error {
	return needCommands(ctx, r, w.Name(), "SADD", "SMEMBERS")
}

func (w *set) Next(rng *rand.Rand) history.Op {
	if rng.Intn(4) == 0 {
		return history.Op{F: "read", Key: w.key}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next++
	return history.Op{F: "add", Key: w.key, Value: w.next}
}

func (w *set) Invoke(ctx context.Context, r *client.Router, op history.Op) history.Op {
	cmd := []string{"SMEMBERS", w.key}
	if op.F == "add" {
		cmd = []string{"SADD", w.key, strconv.FormatInt(op.Value.(int64), 10)}
	}
	reps, err := r.Exec(ctx, slots.SlotString(w.key), [][]string{cmd})
	if err != nil {
		return failed(op, err)
	}
	if reps[0].IsErr() {
		return errReply(op, reps[0])
	}
	c := complete(op, client.OK, "")
	if op.F == "read" {
		vals, err := parseInts(reps[0].Array)
		if err != nil {
			return complete(op, client.Info, "SMEMBERS: "+err.Error())
		}
		c.Value = vals
	}
	return c
}

func (w *set) Final() []history.Op { return []history.Op{{F: "read", Key: w.key}} }

func (w *set) Check(ops []history.Op, dir string) (Verdict, error) {
	res, err := checker.CheckSet(ops)
	if err != nil {
		return Verdict{}, fmt.Errorf("set checker: %w", err)
	}
	return verdict("set (lost, phantom, stale)", res), nil
}
