package workload

import (
	"math/rand"
	"testing"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/slots"
)

// Tags land in distinct, evenly spread slot ranges, so that keys reach
// every group whatever the slot map.
func TestTagKeysSpreadOverSlots(t *testing.T) {
	tags := tagKeys("x", 16)
	for i, tag := range tags {
		s := slots.SlotString(tag)
		lo, hi := i*client.NumSlots/16, (i+1)*client.NumSlots/16
		if s < lo || s >= hi {
			t.Fatalf("tag %d %q in slot %d, want [%d,%d)", i, tag, s, lo, hi)
		}
	}
}

// List-append elements are unique, a txn's keys share one slot, and keys
// are retired after KeyOps appends.
func TestListAppendGenerator(t *testing.T) {
	w := newListAppend(Options{Tags: 4, KeyOps: 5})
	rng := rand.New(rand.NewSource(1))
	seen := map[int64]bool{}
	appends := map[string]int{}
	for i := 0; i < 2000; i++ {
		op := w.Next(rng)
		slot := slots.SlotString(op.Txn[0].Key)
		for _, m := range op.Txn {
			if slots.SlotString(m.Key) != slot {
				t.Fatalf("txn spans slots: %+v", op.Txn)
			}
			if m.F == "append" {
				if seen[m.Elem] {
					t.Fatalf("element %d appended twice", m.Elem)
				}
				seen[m.Elem] = true
				appends[m.Key]++
			}
		}
	}
	for k, n := range appends {
		if n > 5 {
			t.Fatalf("key %s got %d appends, KeyOps is 5", k, n)
		}
	}
}

// The same seed gives the same operations.
func TestGeneratorsAreSeeded(t *testing.T) {
	for _, name := range Names() {
		a, _ := New(name, Options{})
		b, _ := New(name, Options{})
		ra, rb := rand.New(rand.NewSource(3)), rand.New(rand.NewSource(3))
		for i := 0; i < 200; i++ {
			x, y := a.Next(ra), b.Next(rb)
			if x.F != y.F || x.Key != y.Key || len(x.Txn) != len(y.Txn) {
				t.Fatalf("%s: op %d differs: %+v vs %+v", name, i, x, y)
			}
		}
	}
}
