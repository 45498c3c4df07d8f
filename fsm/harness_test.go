package fsm

import (
	"testing"
)

// harness drives commands through the same path the node uses: writes are
// prepared at "the leader" with its clock, encoded into a log entry, decoded
// and applied; reads run through Read with the reader's clock.
type harness struct {
	t   *testing.T
	db  *DB
	now int64 // the leader's clock (unix ms); tests advance it explicitly
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{t: t, db: NewDB(), now: 1_700_000_000_000}
}

func toArgs(args []string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// do runs one command and returns its reply. Unknown commands fail the test.
func (h *harness) do(args ...string) Reply {
	h.t.Helper()
	cmd := Commands.Lookup([]byte(args[0]))
	if cmd == nil {
		h.t.Fatalf("unknown command %q", args[0])
	}
	a := toArgs(args)
	if !cmd.Write {
		return h.db.Read(cmd, a, h.now)
	}
	prepared, err := cmd.Prepare(a, h.now)
	if err != nil {
		return ErrReply(err)
	}
	target := Commands.Lookup(prepared[0])
	if target == nil {
		h.t.Fatalf("Prepare of %q produced unknown command %q", args[0], prepared[0])
	}
	buf := AppendEntryHeader(nil, EntryBatch, h.now, 1)
	buf = AppendEntryCmd(buf, target.Op, prepared)
	e, err := DecodeEntry(buf)
	if err != nil {
		h.t.Fatalf("decode: %v", err)
	}
	replies, err := h.db.ApplyEntry(e)
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	return replies[0]
}

// Reply matchers used by the command tests.

func (h *harness) wantStatus(r Reply, s string) {
	h.t.Helper()
	if r.Kind != KindStatus || r.Str != s {
		h.t.Fatalf("want status %q, got %+v", s, r)
	}
}

func (h *harness) wantBulk(r Reply, s string) {
	h.t.Helper()
	if r.Kind != KindBulk || r.Str != s {
		h.t.Fatalf("want bulk %q, got %+v", s, r)
	}
}

func (h *harness) wantNil(r Reply) {
	h.t.Helper()
	if r.Kind != KindNil {
		h.t.Fatalf("want nil, got %+v", r)
	}
}

func (h *harness) wantInt(r Reply, n int64) {
	h.t.Helper()
	if r.Kind != KindInt || r.Int != n {
		h.t.Fatalf("want int %d, got %+v", n, r)
	}
}

func (h *harness) wantErr(r Reply, c Code) {
	h.t.Helper()
	if r.Kind != KindError || r.Code != c {
		h.t.Fatalf("want error code %d, got %+v", c, r)
	}
}
