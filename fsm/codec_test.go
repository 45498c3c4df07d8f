package fsm

import (
	"bytes"
	"errors"
	"testing"
)

func sampleEntry() *Entry {
	return &Entry{Kind: EntryBatch, Now: 1_700_000_000_123, Cmds: []EntryCmd{
		{Op: OpSet, Args: [][]byte{[]byte("k"), []byte("v"), []byte("PXAT"), []byte("1700000010123")}},
		{Op: OpDel, Args: [][]byte{[]byte("a"), []byte(""), []byte("c")}},
		{Op: OpGet, Args: nil},
	}}
}

func TestEntryRoundTrip(t *testing.T) {
	e := sampleEntry()
	b := EncodeEntry(e)
	got, err := DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Now != e.Now || got.Kind != e.Kind || len(got.Cmds) != len(e.Cmds) {
		t.Fatalf("header mismatch: %+v", got)
	}
	for i, c := range e.Cmds {
		g := got.Cmds[i]
		if g.Op != c.Op || len(g.Args) != len(c.Args) {
			t.Fatalf("cmd %d: %+v vs %+v", i, g, c)
		}
		for j := range c.Args {
			if !bytes.Equal(g.Args[j], c.Args[j]) {
				t.Fatalf("cmd %d arg %d: %q vs %q", i, j, g.Args[j], c.Args[j])
			}
		}
	}
	// The streaming encoder used by the proposer produces identical bytes.
	buf := AppendEntryHeader(nil, EntryBatch, e.Now, len(e.Cmds))
	for _, c := range e.Cmds {
		buf = AppendEntryCmd(buf, c.Op, append([][]byte{[]byte("name")}, c.Args...))
	}
	if !bytes.Equal(buf, b) {
		t.Fatalf("AppendEntry* differs from EncodeEntry")
	}
}

func TestEntryRejectsTruncationAndGarbage(t *testing.T) {
	b := EncodeEntry(sampleEntry())
	for i := 0; i < len(b); i++ {
		if _, err := DecodeEntry(b[:i]); !errors.Is(err, ErrCorruptEntry) {
			t.Fatalf("truncated at %d: err = %v", i, err)
		}
	}
	if _, err := DecodeEntry(append(append([]byte{}, b...), 0)); !errors.Is(err, ErrCorruptEntry) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
	bad := append([]byte{}, b...)
	bad[0] = 9
	if _, err := DecodeEntry(bad); !errors.Is(err, ErrCorruptEntry) {
		t.Fatalf("bad version accepted: %v", err)
	}
}

func TestApplyUnknownOpStops(t *testing.T) {
	db := NewDB()
	_, err := db.ApplyEntry(&Entry{Kind: EntryBatch, Now: 1, Cmds: []EntryCmd{{Op: 65000}}})
	if !errors.Is(err, ErrUnknownOp) {
		t.Fatalf("want ErrUnknownOp, got %v", err)
	}
}

func TestEveryCommandHasDistinctOpAndName(t *testing.T) {
	seen := map[Op]string{}
	for _, c := range Commands.All() {
		if prev, dup := seen[c.Op]; dup {
			t.Fatalf("opcode %d used by %s and %s", c.Op, prev, c.Name)
		}
		seen[c.Op] = c.Name
		if Commands.ByOp(c.Op) != c || Commands.Lookup([]byte(c.Name)) != c {
			t.Fatalf("table lookup broken for %s", c.Name)
		}
	}
	if len(seen) < 40 {
		t.Fatalf("only %d commands registered", len(seen))
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeEntry(sampleEntry()))
	f.Add([]byte{1, 1, 0, 0})
	f.Add([]byte{1, 1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes (canonical) and
		// apply without panicking.
		if re := EncodeEntry(e); !bytes.Equal(re, b) {
			// Non-minimal varints decode but re-encode shorter; that is fine
			// as long as the re-encoding decodes to the same entry.
			e2, err := DecodeEntry(re)
			if err != nil || len(e2.Cmds) != len(e.Cmds) || e2.Now != e.Now {
				t.Fatalf("re-encoding mismatch")
			}
		}
		db := NewDB()
		_, _ = db.ApplyEntry(e)
	})
}
