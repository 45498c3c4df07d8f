package runner

import (
	"sync"
	"time"

	"github.com/troika-db/troika/jepsen/history"
)

// recorder appends events to the history with their index and time since
// the test started. Safe for concurrent use.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []history.Op
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) add(op history.Op) history.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Time = time.Since(r.start).Nanoseconds()
	op.Index = len(r.ops)
	r.ops = append(r.ops, op)
	return op
}

func (r *recorder) nemesis(f, desc string, err error) {
	op := history.Op{Type: history.Info, Process: history.NemesisProcess, F: f, Value: desc}
	if err != nil {
		op.Error = err.Error()
	}
	r.add(op)
}

func (r *recorder) snapshot() []history.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]history.Op(nil), r.ops...)
}

func (r *recorder) now() int64 { return time.Since(r.start).Nanoseconds() }
