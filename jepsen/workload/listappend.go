package workload

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"sync"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/jepsen/listappend"
	"github.com/troika-db/troika/slots"
)

// listAppend: transactions of 1-4 appends (RPUSH) and reads (LRANGE) on
// the keys of one hash tag, run as MULTI/EXEC.
type listAppend struct {
	opt  Options
	tags []string

	mu   sync.Mutex
	keys [][]laKey // per tag: the active keys
	used [][]string
	next int64 // the next element (unique across the test)
	gen  int   // key generation counter
}

type laKey struct {
	name    string
	appends int
}

const laActive = 3 // active keys per tag

func newListAppend(opt Options) *listAppend {
	if opt.KeyOps <= 0 {
		opt.KeyOps = 64
	}
	w := &listAppend{opt: opt, tags: tagKeys("la", opt.Tags)}
	w.keys = make([][]laKey, len(w.tags))
	w.used = make([][]string, len(w.tags))
	for t := range w.tags {
		for i := 0; i < laActive; i++ {
			w.keys[t] = append(w.keys[t], w.newKey(t))
		}
	}
	return w
}

func (w *listAppend) newKey(t int) laKey {
	w.gen++
	name := w.tags[t] + ":" + strconv.Itoa(w.gen)
	w.used[t] = append(w.used[t], name)
	return laKey{name: name}
}

func (w *listAppend) Name() string { return "list-append" }

func (w *listAppend) Prepare(ctx context.Context, r *client.Router) error {
	return needCommands(ctx, r, w.Name(), "MULTI", "EXEC", "RPUSH", "LRANGE")
}

func (w *listAppend) Next(rng *rand.Rand) history.Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := rng.Intn(len(w.tags))
	n := 1 + rng.Intn(4)
	txn := make([]history.MicroOp, 0, n)
	for i := 0; i < n; i++ {
		ki := rng.Intn(laActive)
		k := &w.keys[t][ki]
		if rng.Intn(2) == 0 {
			txn = append(txn, history.MicroOp{F: "r", Key: k.name})
			continue
		}
		w.next++
		txn = append(txn, history.MicroOp{F: "append", Key: k.name, Elem: w.next})
		k.appends++
		if k.appends >= w.opt.KeyOps {
			w.keys[t][ki] = w.newKey(t)
		}
	}
	return history.Op{F: "txn", Txn: txn}
}

func (w *listAppend) Invoke(ctx context.Context, r *client.Router, op history.Op) history.Op {
	cmds := make([][]string, len(op.Txn))
	for i, m := range op.Txn {
		if m.F == "append" {
			cmds[i] = []string{"RPUSH", m.Key, strconv.FormatInt(m.Elem, 10)}
		} else {
			cmds[i] = []string{"LRANGE", m.Key, "0", "-1"}
		}
	}
	reps, c, ok := execTxn(ctx, r, slots.SlotString(op.Txn[0].Key), op, cmds)
	if !ok {
		return c
	}
	c.Type = history.OK
	c.Txn = make([]history.MicroOp, len(op.Txn))
	copy(c.Txn, op.Txn)
	for i, m := range c.Txn {
		if m.F != "r" {
			continue
		}
		vals, err := parseInts(reps[i].Array)
		if err != nil {
			return complete(op, client.Info, fmt.Sprintf("LRANGE %s: %v", m.Key, err))
		}
		c.Txn[i].Value = vals
	}
	return c
}

// Final reads every key ever used, one transaction per tag.
func (w *listAppend) Final() []history.Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []history.Op
	for t := range w.tags {
		if len(w.used[t]) == 0 {
			continue
		}
		txn := make([]history.MicroOp, len(w.used[t]))
		for i, k := range w.used[t] {
			txn[i] = history.MicroOp{F: "r", Key: k}
		}
		out = append(out, history.Op{F: "txn", Txn: txn})
	}
	return out
}

func (w *listAppend) Check(ops []history.Op, dir string) (Verdict, error) {
	res, err := listappend.Check(ops, listappend.Options{})
	if err != nil {
		return Verdict{}, fmt.Errorf("list-append checker: %w", err)
	}
	v := Verdict{Checker: "elle-list-append (strict-serializable)", Valid: res.Valid, Anomalies: res.Types(), Result: res}
	if res.Valid {
		v.Summary = fmt.Sprintf("valid: %d txns (%d ok, %d info, %d fail) over %d keys, %d dependency edges, no anomaly",
			res.Stats.Txns, res.Stats.OKTxns, res.Stats.InfoTxns, res.Stats.FailTxns, res.Stats.Keys, res.Stats.Edges)
	} else {
		v.Summary = "INVALID:"
		for _, t := range res.Types() {
			v.Summary += fmt.Sprintf(" %s×%d", t, res.Counts[t])
		}
		for _, t := range res.Types() {
			if ex := res.Anomalies[t]; len(ex) > 0 {
				v.Summary += "\n  e.g. " + t + ": " + firstLine(ex[0].Explanation)
			}
		}
	}
	return v, nil
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
