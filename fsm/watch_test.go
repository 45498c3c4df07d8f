package fsm

import (
	"bytes"
	"testing"

	"github.com/troika-db/troika/slots"
)

func TestWatchVersionsMoveOnWritesAndSurviveSnapshots(t *testing.T) {
	h := newHarness(t)
	s := slots.SlotString("{w}a")
	v0 := h.db.SlotVersion(s)
	h.do("GET", "{w}a")
	if h.db.SlotVersion(s) != v0 {
		t.Fatal("a read moved the version")
	}
	h.do("INCR", "{w}a")
	v1 := h.db.SlotVersion(s)
	if v1 == v0 {
		t.Fatal("a write did not move the version")
	}
	h.do("INCR", "notthatslot")
	if h.db.SlotVersion(s) != v1 {
		t.Fatal("a write to another slot moved the version")
	}
	h.do("SET", "{w}a", "x", "EX", "0") // refused: nothing changed
	if h.db.SlotVersion(s) != v1 {
		t.Fatal("a refused write moved the version")
	}
	h.do("FLUSHALL")
	v2 := h.db.SlotVersion(s)
	if v2 <= v1 {
		t.Fatal("FLUSHALL did not move every version")
	}
	h.do("SET", "{w}b", "1")
	var buf bytes.Buffer
	if err := h.db.Snapshot().WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"{w}a", "notthatslot", "zzz"} {
		sl := slots.SlotString(k)
		if back.SlotVersion(sl) != h.db.SlotVersion(sl) {
			t.Fatalf("slot %d: version %d after restore, %d before", sl, back.SlotVersion(sl), h.db.SlotVersion(sl))
		}
	}
	if back.wseq != h.db.wseq {
		t.Fatalf("counter %d after restore, %d before", back.wseq, h.db.wseq)
	}
}

func TestWatchGuardSkipsItsTransaction(t *testing.T) {
	db := NewDB()
	s := slots.SlotString("{g}k")
	guard := WatchGuardArgs(2, map[int]uint64{s: db.SlotVersion(s)})
	entry := func(g [][]byte) *Entry {
		e := &Entry{Now: 1}
		e.Cmds = append(e.Cmds, EntryCmd{Op: OpWatchGuard, Args: g[1:]})
		e.Cmds = append(e.Cmds, EntryCmd{Op: OpSet, Args: toArgs([]string{"{g}k", "1"})})
		e.Cmds = append(e.Cmds, EntryCmd{Op: OpIncr, Args: toArgs([]string{"{g}k"})})
		// Another client's command in the same entry is not skipped.
		e.Cmds = append(e.Cmds, EntryCmd{Op: OpSet, Args: toArgs([]string{"{g}other", "x"})})
		return e
	}
	rs, err := db.ApplyEntry(entry(guard))
	if err != nil || rs[0].Int != 1 || rs[2].Int != 2 {
		t.Fatalf("guard holding: %+v %v", rs, err)
	}
	// The same guard again: the slot moved, so the block is skipped.
	rs, err = db.ApplyEntry(entry(guard))
	if err != nil || rs[0].Int != 0 || rs[1].Kind != KindNilArray || rs[2].Kind != KindNilArray || rs[3].Kind != KindStatus {
		t.Fatalf("guard failing: %+v %v", rs, err)
	}
}
