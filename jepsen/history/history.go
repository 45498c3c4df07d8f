package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Type is the kind of an event.
type Type string

const (
	// Invoke: a process starts an operation.
	Invoke Type = "invoke"
	// OK: the operation completed and took effect.
	OK Type = "ok"
	// Fail: the operation certainly did not take effect.
	Fail Type = "fail"
	// Info: the outcome is unknown (timeout, connection lost, leadership
	// lost after proposing): it may or may not have taken effect, now or
	// later. Never treat it as a failure.
	Info Type = "info"
)

// MicroOp is one step of a transaction: f is "append" or "r" (read), on
// key; Value is the appended element, or the list read (nil when the
// read's result is unknown, e.g. in an invoke).
type MicroOp struct {
	F   string `json:"f"`
	Key string `json:"k"`
	// Not omitempty: an ok read of an empty list is [] while an unknown
	// one is null, and JSON must keep them apart.
	Value []int64 `json:"v"`
	// Elem is the element of an append.
	Elem int64 `json:"e,omitempty"`
}

// Op is one event. Index is its position in the history; Time is
// nanoseconds since the test started (monotonic); Process identifies the
// logical client (a process that gets an info result is retired and
// replaced by a new process number, as in Jepsen).
type Op struct {
	Index   int    `json:"index"`
	Type    Type   `json:"type"`
	Process int    `json:"process"`
	Time    int64  `json:"time"`
	F       string `json:"f"`
	// Key and Value carry single-key operations (register: "read",
	// "write", "cas"; counter: "add", "read"; set: "add", "read").
	Key   string `json:"key,omitempty"`
	Value any    `json:"value,omitempty"`
	// Txn carries list-append transactions (F "txn").
	Txn []MicroOp `json:"txn,omitempty"`
	// Error describes a fail or info outcome.
	Error string `json:"error,omitempty"`
}

// Write writes ops as JSON lines.
func Write(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range ops {
		if err := enc.Encode(&ops[i]); err != nil {
			return fmt.Errorf("history: write op %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// Read reads JSON lines written by Write.
func Read(r io.Reader) ([]Op, error) {
	var ops []Op
	dec := json.NewDecoder(r)
	for {
		var op Op
		err := dec.Decode(&op)
		if err == io.EOF {
			return ops, nil
		}
		if err != nil {
			return nil, fmt.Errorf("history: read op %d: %w", len(ops), err)
		}
		ops = append(ops, op)
	}
}

// Pair is an invocation with its completion (Complete is nil when the
// history ended before the operation completed: treat it as info).
type Pair struct {
	Invoke   Op
	Complete *Op
}

// Pairs matches every invoke with the next completion of the same process.
// A completion without an invoke, or a second invoke by a process whose
// operation has not completed, is an error (a malformed history).
func Pairs(ops []Op) ([]Pair, error) {
	open := map[int]int{} // process -> index in out
	var out []Pair
	for _, op := range ops {
		switch op.Type {
		case Invoke:
			if _, busy := open[op.Process]; busy {
				return nil, fmt.Errorf("history: process %d invokes op %d before its previous op completed", op.Process, op.Index)
			}
			open[op.Process] = len(out)
			out = append(out, Pair{Invoke: op})
		case OK, Fail, Info:
			i, ok := open[op.Process]
			if !ok {
				return nil, fmt.Errorf("history: op %d completes nothing for process %d", op.Index, op.Process)
			}
			c := op
			out[i].Complete = &c
			delete(open, op.Process)
		default:
			return nil, fmt.Errorf("history: op %d has unknown type %q", op.Index, op.Type)
		}
	}
	return out, nil
}

// NemesisProcess is the Process of nemesis events. They are Info ops
// with no invocation: F is "start-<fault>" or "stop-<fault>" (e.g.
// "start-partition", "stop-partition", "start-kill"), Value a string
// describing what was done (e.g. "n1 n2 | n3 n4 n5 (all)"), Error set when
// injecting the fault failed.
const NemesisProcess = -1

// Client returns the ops of client processes only (nemesis events left
// out), as checkers and Pairs expect them.
func Client(ops []Op) []Op {
	out := make([]Op, 0, len(ops))
	for _, op := range ops {
		if op.Process != NemesisProcess {
			out = append(out, op)
		}
	}
	return out
}

// Window is the time span of one fault, from its start-<fault> event to
// the matching stop-<fault> (or the end of the history).
type Window struct {
	Fault string // e.g. "partition"
	Desc  string // the start event's Value
	Start int64  // ns since the test started
	End   int64
}

// Windows pairs nemesis start-/stop- events into fault windows, in start
// order. A start without a stop lasts until end.
func Windows(ops []Op, end int64) []Window {
	var out []Window
	open := map[string][]int{} // fault -> indexes in out still open
	for _, op := range ops {
		if op.Process != NemesisProcess {
			continue
		}
		switch {
		case len(op.F) > 6 && op.F[:6] == "start-":
			f := op.F[6:]
			desc, _ := op.Value.(string)
			open[f] = append(open[f], len(out))
			out = append(out, Window{Fault: f, Desc: desc, Start: op.Time, End: end})
		case len(op.F) > 5 && op.F[:5] == "stop-":
			f := op.F[5:]
			if q := open[f]; len(q) > 0 {
				out[q[0]].End = op.Time
				open[f] = q[1:]
			}
		}
	}
	return out
}
