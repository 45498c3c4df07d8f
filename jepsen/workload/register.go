package workload

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/jepsen/register"
	"github.com/troika-db/troika/slots"
)

// registerW: single-key reads (GET), writes (SET) and compare-and-set
// (WATCH, GET, MULTI SET EXEC on the same connection) of small integers;
// checked per key for linearizability by porcupine.
type registerW struct {
	opt  Options
	tags []string

	mu   sync.Mutex
	keys []rKey // one active key per tag
	gen  int
}

type rKey struct {
	name string
	ops  int
}

// registerValues is the range of values written: small, so that
// compare-and-set often succeeds and reads constrain the order.
const registerValues = 5

// CheckTimeout bounds porcupine's search; a check that runs out is
// reported as unknown, not valid.
var registerCheckTimeout = 2 * time.Minute

func newRegister(opt Options) *registerW {
	if opt.KeyOps <= 0 {
		opt.KeyOps = 150
	}
	w := &registerW{opt: opt, tags: tagKeys("rg", opt.Tags)}
	w.keys = make([]rKey, len(w.tags))
	for t := range w.keys {
		w.keys[t] = w.newKey(t)
	}
	return w
}

func (w *registerW) newKey(t int) rKey {
	w.gen++
	return rKey{name: w.tags[t] + ":" + strconv.Itoa(w.gen)}
}

func (w *registerW) Name() string { return "register" }

func (w *registerW) Prepare(ctx context.Context, r *client.Router) error {
	return needCommands(ctx, r, w.Name(), "GET", "SET", "WATCH", "MULTI", "EXEC", "UNWATCH")
}

func (w *registerW) Next(rng *rand.Rand) history.Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := rng.Intn(len(w.tags))
	k := &w.keys[t]
	op := history.Op{Key: k.name}
	if k.ops++; k.ops >= w.opt.KeyOps {
		w.keys[t] = w.newKey(t)
	}
	switch rng.Intn(4) {
	case 0, 1:
		op.F = register.Read
	case 2:
		op.F, op.Value = register.Write, int64(rng.Intn(registerValues))
	default:
		op.F, op.Value = register.CAS, []any{int64(rng.Intn(registerValues)), int64(rng.Intn(registerValues))}
	}
	return op
}

func (w *registerW) Invoke(ctx context.Context, r *client.Router, op history.Op) history.Op {
	slot := slots.SlotString(op.Key)
	switch op.F {
	case register.Read:
		reps, err := r.Exec(ctx, slot, [][]string{{"GET", op.Key}})
		if err != nil {
			return failed(op, err)
		}
		if reps[0].IsErr() {
			return errReply(op, reps[0])
		}
		c := complete(op, client.OK, "")
		c.Value = nil
		if !reps[0].Nil {
			v, err := strconv.ParseInt(reps[0].Str, 10, 64)
			if err != nil {
				return complete(op, client.Info, "GET: "+err.Error())
			}
			c.Value = v
		}
		return c
	case register.Write:
		reps, err := r.Exec(ctx, slot, [][]string{{"SET", op.Key, strconv.FormatInt(op.Value.(int64), 10)}})
		if err != nil {
			return failed(op, err)
		}
		if reps[0].IsErr() {
			return errReply(op, reps[0])
		}
		return complete(op, client.OK, "")
	default:
		return w.cas(ctx, r, slot, op)
	}
}

func (w *registerW) cas(ctx context.Context, r *client.Router, slot int, op history.Op) history.Op {
	pair := op.Value.([]any)
	from, to := pair[0].(int64), pair[1].(int64)
	reps, err := r.Exec(ctx, slot, [][]string{{"WATCH", op.Key}, {"GET", op.Key}})
	if err != nil {
		// WATCH and GET change nothing: the cas certainly did not apply.
		return complete(op, client.Fail, err.Error())
	}
	for _, rep := range reps {
		if rep.IsErr() {
			return complete(op, client.Fail, rep.Str)
		}
	}
	addr := r.LastAddr()
	if reps[1].Nil || reps[1].Str != strconv.FormatInt(from, 10) {
		r.ExecSame(addr, [][]string{{"UNWATCH"}})
		return complete(op, client.Fail, fmt.Sprintf("value is %s, not %d", reps[1], from))
	}
	reps, err = r.ExecSame(addr, [][]string{{"MULTI"}, {"SET", op.Key, strconv.FormatInt(to, 10)}, {"EXEC"}})
	if err != nil {
		return failed(op, err)
	}
	exec := reps[2]
	switch {
	case exec.IsErr():
		return errReply(op, exec)
	case exec.Nil:
		return complete(op, client.Fail, "EXEC aborted: the key changed since WATCH")
	}
	return complete(op, client.OK, "")
}

func (w *registerW) Final() []history.Op { return nil }

func (w *registerW) Check(ops []history.Op, dir string) (Verdict, error) {
	res, err := register.Check(ops, registerCheckTimeout)
	if err != nil {
		return Verdict{}, fmt.Errorf("register checker: %w", err)
	}
	v := Verdict{Checker: "porcupine linearizability (per key)", Valid: res.Valid && !res.Unknown, Unknown: res.Unknown,
		Result: map[string]any{"valid": res.Valid, "unknown": res.Unknown, "ops": res.Ops}}
	switch {
	case res.Unknown:
		v.Summary = fmt.Sprintf("unknown: porcupine gave up after %s on %d ops", registerCheckTimeout, res.Ops)
	case res.Valid:
		v.Summary = fmt.Sprintf("valid: %d operations linearizable", res.Ops)
	default:
		v.Anomalies = []string{"nonlinearizable"}
		v.Summary = fmt.Sprintf("INVALID: not linearizable (%d operations checked); see linearizability.html", res.Ops)
		for _, k := range res.Keys {
			v.Summary += fmt.Sprintf("\n  key %s: %d operations between %.3fs and %.3fs are not linearizable", k.Key, k.Ops, float64(k.From)/1e9, float64(k.To)/1e9)
		}
		v.Result = map[string]any{"valid": false, "ops": res.Ops, "keys": res.Keys}
		if dir != "" {
			f, err := os.Create(filepath.Join(dir, "linearizability.html"))
			if err != nil {
				return v, fmt.Errorf("register: visualization: %w", err)
			}
			defer f.Close()
			if err := res.Visualize(f); err != nil {
				return v, fmt.Errorf("register: visualization: %w", err)
			}
		}
	}
	return v, nil
}
