package fsm

import "testing"

// TestHasRelativeTimeCoversPrepareRewrites checks that every write whose
// Prepare output depends on the leader clock is listed by HasRelativeTime,
// for the commands and options that take relative times.
func TestHasRelativeTimeCoversPrepareRewrites(t *testing.T) {
	cases := [][]string{
		{"set", "k", "v", "EX", "10"}, {"set", "k", "v", "PX", "10"},
		{"setex", "k", "10", "v"}, {"psetex", "k", "10", "v"},
		{"getex", "k", "EX", "10"}, {"getex", "k", "PX", "10"},
		{"expire", "k", "10"}, {"pexpire", "k", "10"},
	}
	for _, c := range cases {
		cmd := Commands.Lookup([]byte(c[0]))
		a, err1 := cmd.Prepare(toArgs(c), 1000)
		b, err2 := cmd.Prepare(toArgs(c), 2000)
		if err1 != nil || err2 != nil {
			t.Fatalf("%v: %v %v", c, err1, err2)
		}
		if string(a[len(a)-1]) == string(b[len(b)-1]) {
			t.Errorf("%v: Prepare does not depend on the clock", c)
		}
		if !HasRelativeTime(cmd.Op) {
			t.Errorf("%v: not listed by HasRelativeTime", c)
		}
	}
	for _, name := range []string{"expireat", "pexpireat", "incr", "rpush"} {
		if HasRelativeTime(Commands.Lookup([]byte(name)).Op) {
			t.Errorf("%s listed by HasRelativeTime", name)
		}
	}
}

// TestApplyEntryLocalTTL: the same unprepared entry applied by two replicas
// with different local clocks (the apply-time-ttl planted bug) yields
// different deadlines; ApplyEntry resolves it with the entry's time.
func TestApplyEntryLocalTTL(t *testing.T) {
	const entryNow = 1_700_000_000_000
	entry := func(args ...string) *Entry {
		cmd := Commands.Lookup([]byte(args[0]))
		buf := AppendEntryHeader(nil, EntryBatch, entryNow, 1)
		buf = AppendEntryCmd(buf, cmd.Op, toArgs(args))
		e, err := DecodeEntry(buf)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	deadline := func(db *DB, key string) int64 {
		r := db.Read(Commands.Lookup([]byte("pexpiretime")), toArgs([]string{"pexpiretime", key}), entryNow)
		return r.Int
	}
	for _, args := range [][]string{
		{"set", "k", "v", "EX", "100"},
		{"setex", "k", "100", "v"},
		{"psetex", "k", "100000", "v"},
	} {
		a, b, det := NewDB(), NewDB(), NewDB()
		if _, err := a.ApplyEntryLocalTTL(entry(args...), entryNow-5000); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ApplyEntryLocalTTL(entry(args...), entryNow+7000); err != nil {
			t.Fatal(err)
		}
		if _, err := det.ApplyEntry(entry(args...)); err != nil {
			t.Fatal(err)
		}
		da, db, dd := deadline(a, "k"), deadline(b, "k"), deadline(det, "k")
		if da != entryNow-5000+100000 || db != entryNow+7000+100000 || dd != entryNow+100000 {
			t.Errorf("%v: deadlines %d / %d / %d", args, da, db, dd)
		}
	}
	// EXPIRE on an existing key.
	a, b := NewDB(), NewDB()
	for _, db := range []*DB{a, b} {
		if _, err := db.ApplyEntry(entry("set", "k", "v")); err != nil {
			t.Fatal(err)
		}
	}
	a.ApplyEntryLocalTTL(entry("expire", "k", "100"), entryNow+1000)
	b.ApplyEntryLocalTTL(entry("expire", "k", "100"), entryNow+2000)
	if da, db := deadline(a, "k"), deadline(b, "k"); da == db || da != entryNow+101000 {
		t.Errorf("EXPIRE deadlines %d / %d", da, db)
	}
	// The local clock is used only while applying that entry.
	if a.ttlBase() != a.Now() {
		t.Errorf("ttlBase after apply = %d, want %d", a.ttlBase(), a.Now())
	}
}
