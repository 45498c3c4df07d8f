package slots

import (
	"math/rand/v2"
	"testing"
)

// crc16Bitwise is an independent, bit-at-a-time implementation of the
// XMODEM CRC used to check the table-driven one.
func crc16Bitwise(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c ^= uint16(x) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func TestCRC16Vector(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("CRC16(%q) = %#04x, want 0x31c3", "123456789", got)
	}
	if got := CRC16(nil); got != 0 {
		t.Fatalf("CRC16(nil) = %#04x, want 0", got)
	}
}

func TestCRC16MatchesBitwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := make([]byte, rng.IntN(64))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if got, want := CRC16(b), crc16Bitwise(b); got != want {
			t.Fatalf("case %d: CRC16(%x) = %#04x, bitwise %#04x", i, b, got, want)
		}
	}
}

// referenceSlot restates Redis's keyHashSlot (cluster.c) with explicit
// substrings, independently of hashSlot's index arithmetic.
func referenceSlot(key string) int {
	s := 0
	for s < len(key) && key[s] != '{' {
		s++
	}
	if s == len(key) {
		return int(crc16Bitwise([]byte(key)) & 0x3FFF)
	}
	e := s + 1
	for e < len(key) && key[e] != '}' {
		e++
	}
	if e == len(key) || e == s+1 {
		return int(crc16Bitwise([]byte(key)) & 0x3FFF)
	}
	return int(crc16Bitwise([]byte(key[s+1:e])) & 0x3FFF)
}

func TestSlotHashTags(t *testing.T) {
	whole := func(k string) int { return int(CRC16([]byte(k)) % Count) }
	cases := []struct {
		key  string
		want int
	}{
		{"123456789", 12739},
		{"", 0},
		{"foo{}{bar}", whole("foo{}{bar}")}, // empty first tag: whole key
		{"foo{{bar}}zap", whole("{bar")},    // tag runs from the first '{'
		{"foo{bar}{zap}", whole("bar")},     // only the first tag counts
		{"{user1000}.following", whole("user1000")},
		{"{", whole("{")},   // no closing brace
		{"}{", whole("}{")}, // '}' before '{' does not close it
		{"a{b", whole("a{b")},
		{"{}", whole("{}")},
		{"{a}", whole("a")},
		{"x}y{z}", whole("z")},
	}
	for _, c := range cases {
		if got := SlotString(c.key); got != c.want {
			t.Errorf("SlotString(%q) = %d, want %d", c.key, got, c.want)
		}
		if got := Slot([]byte(c.key)); got != c.want {
			t.Errorf("Slot(%q) = %d, want %d", c.key, got, c.want)
		}
	}
	if a, b := SlotString("{user1000}.following"), SlotString("{user1000}.followers"); a != b {
		t.Errorf("hash tag ignored: %d != %d", a, b)
	}
}

// TestSlotRedisKeyslot checks values printed by a real Redis server's
// CLUSTER KEYSLOT.
func TestSlotRedisKeyslot(t *testing.T) {
	cases := map[string]int{
		"foo":       12182,
		"bar":       5061,
		"hello":     866,
		"a":         15495,
		"123456789": 12739,
	}
	for key, want := range cases {
		if got := SlotString(key); got != want {
			t.Errorf("SlotString(%q) = %d, Redis says %d", key, got, want)
		}
	}
}

func TestSlotMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// A small alphabet rich in braces exercises every tag branch.
	alphabet := []byte("{}ab")
	for range 20000 {
		k := make([]byte, rng.IntN(8))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want := referenceSlot(string(k))
		if got := Slot(k); got != want {
			t.Fatalf("Slot(%q) = %d, reference %d", k, got, want)
		}
		if got := SlotString(string(k)); got != want {
			t.Fatalf("SlotString(%q) = %d, reference %d", k, got, want)
		}
	}
}

func TestSlotDoesNotAllocate(t *testing.T) {
	kb, ks := []byte("{user1000}.following"), "{user1000}.followers"
	sink := 0
	if n := testing.AllocsPerRun(100, func() { sink += Slot(kb) + SlotString(ks) }); n != 0 {
		t.Fatalf("Slot/SlotString allocate %v times per call", n)
	}
	_ = sink
}

var benchSink int

func BenchmarkSlot(b *testing.B) {
	for _, bc := range []struct{ name, key string }{
		{"short", "foo"},
		{"tagged", "{user1000}.following"},
		{"long", "session:0123456789abcdef0123456789abcdef:profile"},
	} {
		key := []byte(bc.key)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(key)))
			for b.Loop() {
				benchSink += Slot(key)
			}
		})
		b.Run(bc.name+"/string", func(b *testing.B) {
			b.SetBytes(int64(len(bc.key)))
			for b.Loop() {
				benchSink += SlotString(bc.key)
			}
		})
	}
}
