package fsm

import (
	"bytes"
	"fmt"
	"testing"
)

func TestSnapshotRoundTripAndIsolation(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 2000; i++ {
		h.db.Set(fmt.Sprintf("key:%d", i), fmt.Sprintf("val:%d", i), 0)
	}
	h.db.Set("ttl", "x", h.now+60_000)
	snap := h.db.Snapshot()
	// Writes after the snapshot must not show up in it.
	h.db.Set("key:0", "changed", 0)
	h.db.Delete("key:1")
	h.db.Set("new", "after", 0)

	var buf bytes.Buffer
	if err := snap.WriteTo(&buf, 7); err != nil {
		t.Fatal(err)
	}
	db, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if db.Len() != 2001 {
		t.Fatalf("restored %d keys, want 2001", db.Len())
	}
	db.SetNow(h.now)
	if v, _ := db.Get("key:0"); v != "val:0" {
		t.Fatalf("key:0 = %v, want the pre-snapshot value", v)
	}
	if !db.Exists("key:1") || db.Exists("new") {
		t.Fatalf("snapshot not isolated from later writes")
	}
	if exp, ok := db.Expire("ttl"); !ok || exp != h.now+60_000 {
		t.Fatalf("ttl lost: %d %v", exp, ok)
	}
	if db.Expires() != 1 || db.CountInSlot(SlotOf("key:5")) == 0 {
		t.Fatalf("indexes not rebuilt")
	}
}

func TestSnapshotCorruptionRefused(t *testing.T) {
	db := NewDB()
	db.Set("a", "1", 0)
	var buf bytes.Buffer
	if err := db.Snapshot().WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	b[len(b)/2] ^= 0x40
	if _, err := ReadSnapshot(bytes.NewReader(b)); err == nil {
		t.Fatal("corrupt snapshot restored")
	}
}

// SlotOf is a test helper: the slot of key.
func SlotOf(key string) int { return OrdSlot(Ord(key)) }

// OBJECT ENCODING distinctions Redis keeps (raw after APPEND, never int
// after INCRBYFLOAT) survive a snapshot.
func TestSnapshotKeepsStringEncodings(t *testing.T) {
	h := newHarness(t)
	h.do("APPEND", "a", "12")
	h.do("APPEND", "a", "3")
	h.do("INCRBYFLOAT", "f", "3")
	h.do("SET", "i", "42")
	var buf bytes.Buffer
	if err := h.db.Snapshot().WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	db, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	for key, want := range map[string]string{"a": "raw", "f": "embstr", "i": "int"} {
		h.wantBulk(h.do("OBJECT", "ENCODING", key), want)
	}
	h.wantBulk(h.do("GET", "a"), "123")
	h.wantStatus(h.do("TYPE", "f"), "string")
}
