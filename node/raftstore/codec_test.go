package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func sampleLogs() []*raft.Log {
	return []*raft.Log{
		{},
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("cfg")},
		{Index: math.MaxUint64, Term: math.MaxUint64, Type: raft.LogCommand, Data: bytes.Repeat([]byte{0xAB}, 1000),
			Extensions: []byte("ext"), AppendedAt: time.Unix(1_700_000_000, 123456789)},
		{Index: 42, Term: 7, Type: raft.LogNoop, AppendedAt: time.Unix(-5, 1)},
		{Index: 9, Term: 3, Type: raft.LogType(255), Extensions: []byte{0}},
	}
}

func logsEqual(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt) && a.AppendedAt.IsZero() == b.AppendedAt.IsZero()
}

func TestCodecRoundTrip(t *testing.T) {
	for _, l := range sampleLogs() {
		enc := appendLog(nil, l)
		if len(enc) > encodedLen(l) {
			t.Fatalf("encoding of %+v is %d bytes, bound %d", l, len(enc), encodedLen(l))
		}
		var got raft.Log
		if err := decodeLog(enc, &got); err != nil {
			t.Fatalf("decode %+v: %v", l, err)
		}
		if !logsEqual(l, &got) {
			t.Fatalf("round trip: got %+v, want %+v", got, *l)
		}
		// Decoded slices must not alias the input (a reused read buffer).
		if len(got.Data) > 0 {
			enc[bytes.Index(enc, got.Data)] ^= 0xFF
			if got.Data[0] != l.Data[0] {
				t.Fatal("decoded Data aliases the encoded buffer")
			}
		}
	}
}

func TestCodecAppendsToPrefix(t *testing.T) {
	l := sampleLogs()[2]
	enc := appendLog([]byte("prefix"), l)
	var got raft.Log
	if err := decodeLog(enc[len("prefix"):], &got); err != nil || !logsEqual(l, &got) {
		t.Fatalf("decode after prefix: %v %+v", err, got)
	}
}

func TestCodecRejectsMalformed(t *testing.T) {
	for _, l := range sampleLogs() {
		enc := appendLog(nil, l)
		var got raft.Log
		for n := 0; n < len(enc); n++ {
			if err := decodeLog(enc[:n], &got); !errors.Is(err, errCorrupt) {
				t.Fatalf("truncated to %d of %d: err = %v", n, len(enc), err)
			}
		}
		for i := range enc {
			for bit := 0; bit < 8; bit++ {
				mut := append([]byte(nil), enc...)
				mut[i] ^= 1 << bit
				if err := decodeLog(mut, &got); !errors.Is(err, errCorrupt) {
					t.Fatalf("bit flip at byte %d bit %d accepted", i, bit)
				}
			}
		}
		if err := decodeLog(append(append([]byte(nil), enc...), 0), &got); !errors.Is(err, errCorrupt) {
			t.Fatal("trailing byte accepted")
		}
	}
}

// withCRC appends a valid checksum so structural checks are reached.
func withCRC(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, crcTable))
}

func TestCodecRejectsBadStructure(t *testing.T) {
	cases := map[string][]byte{
		"version":        {2, 0, 0, 1, 1, 0, 0},
		"flags":          {1, 0, 2, 1, 1, 0, 0},
		"data too long":  {1, 0, 0, 1, 1, 5, 'a'},
		"missing ext":    {1, 0, 0, 1, 1, 0},
		"trailing":       {1, 0, 0, 1, 1, 0, 0, 9},
		"bad varint":     {1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01},
		"nsec too large": append([]byte{1, 0, 1, 1, 1, 0, 0, 0}, binary.AppendUvarint(nil, uint64(time.Second))...),
		"missing time":   {1, 0, 1, 1, 1, 0, 0},
	}
	for name, body := range cases {
		var got raft.Log
		if err := decodeLog(withCRC(body), &got); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v, want corrupt", name, err)
		}
	}
	var got raft.Log
	if err := decodeLog(withCRC([]byte{1, 0, 0, 1, 1, 0, 0}), &got); err != nil {
		t.Fatalf("minimal valid entry rejected: %v", err)
	}
}

// FuzzDecodeLog checks that the decoder never panics, that everything it
// accepts re-encodes to something it decodes identically, and (by adding a
// valid checksum to the input) that the structural parser is explored too.
func FuzzDecodeLog(f *testing.F) {
	for _, l := range sampleLogs() {
		enc := appendLog(nil, l)
		f.Add(enc)
		f.Add(enc[:len(enc)-crcLen])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 0, 1, 1, 1, 0, 0, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(in []byte) {
			var l raft.Log
			if err := decodeLog(in, &l); err != nil {
				if !errors.Is(err, errCorrupt) {
					t.Fatalf("error does not wrap errCorrupt: %v", err)
				}
				return
			}
			var again raft.Log
			if err := decodeLog(appendLog(nil, &l), &again); err != nil {
				t.Fatalf("re-encoding of accepted entry rejected: %v", err)
			}
			if !logsEqual(&l, &again) {
				t.Fatalf("re-encoding changed entry: %+v vs %+v", l, again)
			}
		}
		check(b)
		check(withCRC(b))
	})
}

// TestCodecRandomGarbage complements the fuzz target in plain `go test`
// runs: pseudo-random inputs, with and without a valid checksum, must never
// panic and must only ever be accepted consistently.
func TestCodecRandomGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	valid := 0
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.IntN(40))
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		if len(b) > 0 && rng.IntN(2) == 0 {
			b[0] = codecVersion
			if len(b) > 2 {
				b[2] &= knownFlags
			}
		}
		for _, in := range [][]byte{b, withCRC(b)} {
			var l raft.Log
			if err := decodeLog(in, &l); err != nil {
				if !errors.Is(err, errCorrupt) {
					t.Fatalf("error does not wrap errCorrupt: %v", err)
				}
				continue
			}
			valid++
			var again raft.Log
			if err := decodeLog(appendLog(nil, &l), &again); err != nil || !logsEqual(&l, &again) {
				t.Fatalf("accepted %x but re-encoding differs: %v", in, err)
			}
		}
	}
	if valid == 0 {
		t.Fatal("generator never produced a valid entry; test is not exercising the parser")
	}
}
