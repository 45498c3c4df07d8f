package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/slots"
)

// Workload is one kind of test. Next and Invoke are called concurrently by
// the workers; implementations lock their own state.
type Workload interface {
	Name() string
	// Prepare runs once before the test (e.g. initial balances, a check
	// that the server implements the commands the workload needs).
	Prepare(ctx context.Context, r *client.Router) error
	// Next returns the next operation to invoke (F, Key, Value, Txn).
	Next(rng *rand.Rand) history.Op
	// Invoke performs op and returns its completion: Type (OK, Fail or
	// Info) and the result in Value or Txn, Error for fail and info.
	Invoke(ctx context.Context, r *client.Router, op history.Op) history.Op
	// Final returns the operations to run once the faults have healed
	// (final reads); nil when none are needed.
	Final() []history.Op
	// Check checks a finished history (client operations only). dir is
	// the results folder, for checker artefacts such as a visualization.
	Check(ops []history.Op, dir string) (Verdict, error)
}

// Verdict is a checker's conclusion.
type Verdict struct {
	Checker string `json:"checker"`
	Valid   bool   `json:"valid"`
	// Unknown: the checker ran out of budget before deciding.
	Unknown bool   `json:"unknown,omitempty"`
	Summary string `json:"summary"`
	// Anomalies lists the anomaly types found (empty when valid).
	Anomalies []string `json:"anomalies,omitempty"`
	// Result is the checker's full result, written to the results folder.
	Result any `json:"result,omitempty"`
}

// Options tune the workloads.
type Options struct {
	// Tags is how many hash tags keys are spread over (default 32).
	Tags int
	// KeyOps is how many operations a key receives before it is retired
	// for a fresh one (keeps reads short and checkers fast; default 64
	// for list-append, 150 for register).
	KeyOps int
}

// ErrUnsupported marks a workload the server cannot run (a command it
// needs is unknown to the server); retrying cannot help.
var ErrUnsupported = errors.New("unsupported by the server")

// Names lists the workloads New accepts.
func Names() []string {
	return []string{"list-append", "register", "set", "counter", "bank", "ttl"}
}

// New returns the named workload.
func New(name string, opt Options) (Workload, error) {
	if opt.Tags <= 0 {
		opt.Tags = 32
	}
	switch name {
	case "list-append":
		return newListAppend(opt), nil
	case "register":
		return newRegister(opt), nil
	case "set":
		return newSet(), nil
	case "counter":
		return newCounter(), nil
	case "bank":
		return newBank(), nil
	case "ttl":
		return newTTL(opt), nil
	}
	return nil, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(Names(), ", "))
}

// complete builds op's completion from an outcome.
func complete(op history.Op, o client.Outcome, msg string) history.Op {
	c := op
	switch o {
	case client.OK:
		c.Type = history.OK
	case client.Fail:
		c.Type, c.Error = history.Fail, msg
	default:
		c.Type, c.Error = history.Info, msg
	}
	return c
}

// failed completes op from an Exec error.
func failed(op history.Op, err error) history.Op {
	return complete(op, client.ErrorOutcome(err), err.Error())
}

// errReply completes op from an error reply.
func errReply(op history.Op, r client.Reply) history.Op {
	return complete(op, client.ReplyOutcome(r), r.Str)
}

// execTxn runs cmds inside MULTI/EXEC on slot and returns EXEC's array, or
// the completion to record when the block did not run (ok false).
func execTxn(ctx context.Context, r *client.Router, slot int, op history.Op, cmds [][]string) ([]client.Reply, history.Op, bool) {
	block := make([][]string, 0, len(cmds)+2)
	block = append(block, []string{"MULTI"})
	block = append(block, cmds...)
	block = append(block, []string{"EXEC"})
	reps, err := r.Exec(ctx, slot, block)
	if err != nil {
		return nil, failed(op, err), false
	}
	exec := reps[len(reps)-1]
	switch {
	case exec.IsErr():
		// EXECABORT (a queued command was refused) or a whole-block error.
		for _, q := range reps[1 : len(reps)-1] {
			if q.IsErr() && exec.ErrPrefix() == "EXECABORT" {
				return nil, complete(op, client.Fail, q.Str), false
			}
		}
		return nil, errReply(op, exec), false
	case exec.Nil:
		return nil, complete(op, client.Fail, "EXEC aborted (watched key changed)"), false
	case len(exec.Array) != len(cmds):
		return nil, complete(op, client.Info, fmt.Sprintf("EXEC returned %d replies for %d commands", len(exec.Array), len(cmds))), false
	}
	for _, e := range exec.Array {
		if e.IsErr() {
			// A command failed at run time inside the block: the others
			// ran. Workload commands are chosen never to do that, so the
			// outcome is reported as unknown rather than guessed.
			return nil, complete(op, client.Info, "in EXEC: "+e.Str), false
		}
	}
	return exec.Array, op, true
}

// needCommands fails when the server does not know one of cmds (COMMAND
// INFO answers a null for unknown commands).
func needCommands(ctx context.Context, r *client.Router, workload string, cmds ...string) error {
	args := append([]string{"COMMAND", "INFO"}, cmds...)
	reps, err := r.Exec(ctx, 0, [][]string{args})
	if err != nil {
		return fmt.Errorf("%s: COMMAND INFO: %w", workload, err)
	}
	rep := reps[0]
	if rep.IsErr() || len(rep.Array) != len(cmds) {
		return fmt.Errorf("%s: COMMAND INFO answered %s", workload, rep)
	}
	var missing []string
	for i, e := range rep.Array {
		if e.Nil || e.Kind != '*' {
			missing = append(missing, cmds[i])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("workload %s needs %s, which the server under test does not implement: %w", workload, strings.Join(missing, ", "), ErrUnsupported)
	}
	return nil
}

// tagKeys returns n key prefixes "{<prefix><i>}" whose slots are spread
// evenly: the i-th tag is the first candidate hashing into the i-th n-th
// of the slot space, so every group gets keys whatever the slot map.
func tagKeys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		lo, hi := i*client.NumSlots/n, (i+1)*client.NumSlots/n
		for c := 0; ; c++ {
			tag := prefix + strconv.Itoa(i) + "-" + strconv.Itoa(c)
			if s := slots.SlotString(tag); s >= lo && s < hi {
				out[i] = "{" + tag + "}"
				break
			}
		}
	}
	return out
}

func parseInts(reps []client.Reply) ([]int64, error) {
	out := make([]int64, 0, len(reps))
	for _, e := range reps {
		v, err := strconv.ParseInt(e.Str, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not an integer element: %s", e)
		}
		out = append(out, v)
	}
	return out, nil
}
