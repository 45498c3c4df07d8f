package slots

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestEven(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 7, 100, Count} {
		m := Even(n)
		runs := m.Ranges()
		if len(runs) != n {
			t.Fatalf("Even(%d): %d runs, want %d", n, len(runs), n)
		}
		minLen, maxLen := Count, 0
		for i, gr := range runs {
			want := Range{i * Count / n, (i+1)*Count/n - 1}
			if gr.Group != i || gr.Range != want {
				t.Fatalf("Even(%d) run %d = %v, want %v:%d", n, i, gr, want, i)
			}
			minLen, maxLen = min(minLen, gr.Len()), max(maxLen, gr.Len())
		}
		if maxLen-minLen > 1 {
			t.Errorf("Even(%d): run lengths %d..%d differ by more than one", n, minLen, maxLen)
		}
	}
	m := Even(3)
	if got := m.Ranges(); got[0].Range != (Range{0, 5460}) || got[1].Range != (Range{5461, 10921}) || got[2].Range != (Range{10922, 16383}) {
		t.Errorf("Even(3) = %v, want Redis's usual 0-5460, 5461-10921, 10922-16383", got)
	}
}

func TestEvenPanics(t *testing.T) {
	for _, n := range []int{0, -1, Count + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Even(%d) did not panic", n)
				}
			}()
			Even(n)
		}()
	}
}

func TestMapSetAndQueries(t *testing.T) {
	var m Map // zero value: everything in group 0
	if got := m.Ranges(); len(got) != 1 || got[0] != (GroupRange{Range{0, Count - 1}, 0}) {
		t.Fatalf("zero Map ranges = %v", got)
	}
	m.Set(Range{100, 199}, 7)
	m.Set(Range{300, 300}, 7)
	m.Set(Range{16000, 16383}, 2)
	if m.Group(99) != 0 || m.Group(100) != 7 || m.Group(199) != 7 || m.Group(200) != 0 || m.Group(16383) != 2 {
		t.Fatalf("Group lookups wrong")
	}
	wantRuns := []GroupRange{
		{Range{0, 99}, 0}, {Range{100, 199}, 7}, {Range{200, 299}, 0},
		{Range{300, 300}, 7}, {Range{301, 15999}, 0}, {Range{16000, 16383}, 2},
	}
	if got := m.Ranges(); !slices.Equal(got, wantRuns) {
		t.Fatalf("Ranges = %v, want %v", got, wantRuns)
	}
	if got, want := m.RangesOf(7), []Range{{100, 199}, {300, 300}}; !slices.Equal(got, want) {
		t.Errorf("RangesOf(7) = %v, want %v", got, want)
	}
	if got := m.RangesOf(9); got != nil {
		t.Errorf("RangesOf(9) = %v, want nil", got)
	}
	if got, want := m.Groups(), []int{0, 2, 7}; !slices.Equal(got, want) {
		t.Errorf("Groups = %v, want %v", got, want)
	}
	// Setting a range back merges runs again.
	m.Set(Range{100, 300}, 0)
	if got := len(m.Ranges()); got != 2 {
		t.Errorf("after merge: %d runs, want 2", got)
	}
}

func TestMapIsValue(t *testing.T) {
	a := Even(4)
	b := a
	if a != b {
		t.Fatal("copy differs")
	}
	b.Set(Range{0, 0}, 3)
	if a == b || a.Group(0) != 0 {
		t.Fatal("mutating a copy changed the original")
	}
}

func TestMapSetPanics(t *testing.T) {
	cases := []struct {
		r     Range
		group int
	}{{Range{-1, 5}, 0}, {Range{5, 4}, 0}, {Range{0, Count}, 0}, {Range{0, 0}, -1}, {Range{0, 0}, MaxGroup + 1}}
	for _, c := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%#v, %d) did not panic", c.r, c.group)
				}
			}()
			var m Map
			m.Set(c.r, c.group)
		}()
	}
}

func randomMap(rng *rand.Rand) Map {
	var m Map
	for range rng.IntN(20) {
		a, b := rng.IntN(Count), rng.IntN(Count)
		m.Set(Range{min(a, b), max(a, b)}, rng.IntN(MaxGroup+1))
	}
	return m
}

func TestMapBinaryRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	maps := []Map{{}, Even(1), Even(3), Even(Count)}
	var alt Map
	for s := 0; s < Count; s += 2 {
		alt.Set(Range{s, s}, MaxGroup)
	}
	maps = append(maps, alt)
	for range 200 {
		maps = append(maps, randomMap(rng))
	}
	for i, m := range maps {
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("map %d: MarshalBinary: %v", i, err)
		}
		var back Map
		back.Set(Range{0, 10}, 99) // must be fully overwritten
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatalf("map %d: UnmarshalBinary: %v", i, err)
		}
		if back != m {
			t.Fatalf("map %d: round trip changed the map", i)
		}
	}
	even3 := Even(3)
	if enc, _ := even3.MarshalBinary(); len(enc) > 16 {
		t.Errorf("Even(3) encodes to %d bytes; run-length encoding should be tiny", len(enc))
	}
}

func TestMapUnmarshalRejects(t *testing.T) {
	even2 := Even(2)
	good, _ := even2.MarshalBinary() // 01 00 80 40 01 80 40
	cases := map[string][]byte{
		"empty":           {},
		"bad version":     append([]byte{2}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"trailing":        append(slices.Clone(good), 0),
		"short cover":     {1, 0, 0x80, 0x40 - 1},
		"over cover":      {1, 0, 0x81, 0x80, 0x01},
		"empty run":       {1, 0, 0, 1, 0x80, 0x80, 0x01},
		"repeated group":  {1, 0, 0x80, 0x20, 0, 0x80, 0x20},
		"group too big":   {1, 0x80, 0x80, 0x04, 0x80, 0x80, 0x01},
		"non-minimal":     {1, 0x80, 0x00, 0x80, 0x80, 0x01},
		"varint overflow": append([]byte{1}, bytes.Repeat([]byte{0xff}, 11)...),
		"only version":    {1},
	}
	for name, data := range cases {
		m := Even(4)
		before := m
		err := m.UnmarshalBinary(data)
		if err == nil {
			t.Errorf("%s: UnmarshalBinary(%x) succeeded", name, data)
			continue
		}
		if !errors.Is(err, errMap) {
			t.Errorf("%s: error %v does not wrap errMap", name, err)
		}
		if m != before {
			t.Errorf("%s: failed UnmarshalBinary modified the map", name)
		}
	}
}

// FuzzMapUnmarshal checks that arbitrary input never panics and that any
// accepted input is canonical: it re-encodes to exactly the same bytes.
func FuzzMapUnmarshal(f *testing.F) {
	for _, m := range []Map{{}, Even(3), Even(16), Even(Count)} {
		enc, _ := m.MarshalBinary()
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0x80, 0x00, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Map
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x (re-encodes to %x)", data, enc)
		}
	})
}
