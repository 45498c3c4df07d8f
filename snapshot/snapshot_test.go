package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"testing/iotest"
)

// encode writes a snapshot of recs with header h and returns its bytes.
func encode(t testing.TB, h Header, recs []Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for i, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// decode reads a whole snapshot; err is nil only if Next returned io.EOF.
func decode(src io.Reader) (Header, []Record, error) {
	r, err := NewReader(src)
	if err != nil {
		return Header{}, nil, err
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return r.Header(), recs, nil
		}
		if err != nil {
			return r.Header(), recs, err
		}
		recs = append(recs, rec)
	}
}

func sameRecord(a, b Record) bool {
	return a.Type == b.Type && a.Expire == b.Expire && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
}

func sampleRecords(n int, rng *rand.Rand) []Record {
	recs := []Record{
		{},                                   // everything empty
		{Type: 1, Key: []byte{}, Value: nil}, // empty key and value
		{Type: 2, Key: []byte("k"), Expire: -1},
		{Type: 255, Key: []byte("big"), Expire: 1<<63 - 1, Value: bytes.Repeat([]byte{0xAB}, 3*readChunk+17)},
		{Type: 3, Key: []byte("{user}:1"), Expire: 1735689600000, Value: []byte("v")},
	}
	for i := range n {
		v := make([]byte, rng.IntN(40))
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		recs = append(recs, Record{
			Type:   uint8(rng.IntN(8)),
			Key:    fmt.Appendf(nil, "key:%d", i),
			Expire: int64(rng.IntN(3)) * rng.Int64(),
			Value:  v,
		})
	}
	return recs
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	recs := sampleRecords(5000, rng)
	for _, h := range []Header{
		{Kind: KindData, Group: 3},
		{Kind: KindMeta, Group: 1<<32 - 1, Meta: []byte(`{"groups":3}`)},
	} {
		data := encode(t, h, recs)
		// A one-byte-at-a-time source exercises every short-read path.
		gotH, got, err := decode(iotest.OneByteReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if gotH.Kind != h.Kind || gotH.Group != h.Group || !bytes.Equal(gotH.Meta, h.Meta) {
			t.Fatalf("header = %+v, want %+v", gotH, h)
		}
		if len(got) != len(recs) {
			t.Fatalf("read %d records, wrote %d", len(got), len(recs))
		}
		for i := range recs {
			if !sameRecord(got[i], recs[i]) {
				t.Fatalf("record %d = %+v, want %+v", i, got[i], recs[i])
			}
			if got[i].Key == nil || got[i].Value == nil {
				t.Fatalf("record %d: empty fields must be non-nil", i)
			}
			// Appending to Key must not clobber Value.
			_ = append(got[i].Key, bytes.Repeat([]byte{'!'}, 8)...)
			if !bytes.Equal(got[i].Value, recs[i].Value) {
				t.Fatalf("record %d: appending to Key modified Value", i)
			}
		}
	}
}

func TestEmptySnapshot(t *testing.T) {
	data := encode(t, Header{Kind: KindData}, nil)
	h, recs, err := decode(bytes.NewReader(data))
	if err != nil || len(recs) != 0 || h.Kind != KindData {
		t.Fatalf("decode empty snapshot: %+v, %d records, %v", h, len(recs), err)
	}
}

func TestNextReturnsEOFOnce(t *testing.T) {
	data := encode(t, Header{Kind: KindData}, []Record{{Key: []byte("a")}})
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatalf("first Next: %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("second Next = %v, want io.EOF", err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, ErrFinished) {
			t.Fatalf("Next after EOF = %v, want ErrFinished", err)
		}
	}
}

func TestHeaderMetaIsCopied(t *testing.T) {
	data := encode(t, Header{Kind: KindMeta, Meta: []byte("cfg")}, nil)
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r.Header().Meta[0] = 'X'
	if got := string(r.Header().Meta); got != "cfg" {
		t.Fatalf("Header().Meta = %q after caller modified a copy", got)
	}
}

// small is a compact snapshot covering every part of the layout.
func small(t testing.TB) []byte {
	return encode(t, Header{Kind: KindData, Group: 2, Meta: []byte("m")}, []Record{
		{Type: 1, Key: []byte("a"), Value: []byte("xyz"), Expire: 42},
		{Type: 2},
		{Type: 3, Key: []byte("bb"), Value: []byte("1")},
	})
}

// mustFail asserts that reading data never succeeds and reports the error.
func mustFail(t *testing.T, data []byte, what string) error {
	t.Helper()
	_, _, err := decode(bytes.NewReader(data))
	if err == nil {
		t.Fatalf("%s: snapshot accepted", what)
	}
	return err
}

func TestEveryByteFlipDetected(t *testing.T) {
	data := small(t)
	for i := range data {
		for _, mask := range []byte{0x01, 0x80, 0xFF} {
			bad := slices.Clone(data)
			bad[i] ^= mask
			err := mustFail(t, bad, fmt.Sprintf("byte %d ^ %#02x", i, mask))
			// Only the version field may produce something else.
			if !errors.Is(err, ErrCorrupt) && !(i >= 10 && i < 12 && errors.Is(err, ErrVersion)) {
				t.Fatalf("byte %d ^ %#02x: error %v wraps neither ErrCorrupt nor ErrVersion", i, mask, err)
			}
		}
	}
}

func TestEveryTruncationDetected(t *testing.T) {
	data := small(t)
	for n := range len(data) {
		err := mustFail(t, data[:n], fmt.Sprintf("truncated to %d bytes", n))
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated to %d bytes: %v, want ErrCorrupt and io.ErrUnexpectedEOF", n, err)
		}
	}
}

// reseal replaces the trailer of a valid snapshot with one claiming count
// records and carrying a correct checksum, as a buggy writer might.
func reseal(data []byte, count uint64) []byte {
	out := slices.Clone(data[:len(data)-trailerLen])
	out = binary.BigEndian.AppendUint64(out, count)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

func TestTrailerCountChecked(t *testing.T) {
	data := small(t)
	if _, recs, err := decode(bytes.NewReader(reseal(data, 3))); err != nil || len(recs) != 3 {
		t.Fatalf("resealed with the true count: %d records, %v", len(recs), err)
	}
	for _, n := range []uint64{0, 2, 4, 1<<64 - 1} {
		err := mustFail(t, reseal(data, n), fmt.Sprintf("count %d", n))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("count %d: %v, want ErrCorrupt", n, err)
		}
	}
}

// TestHeaderChecksum checks that a damaged header is refused by NewReader,
// before any caller sees Meta, not only later by the trailer checksum.
func TestHeaderChecksum(t *testing.T) {
	data := encode(t, Header{Kind: KindMeta, Group: 9, Meta: []byte("config")}, nil)
	hdrLen := len(data) - 1 - trailerLen
	for i := len(Magic) + 2; i < hdrLen; i++ {
		bad := slices.Clone(data)
		bad[i] ^= 0x04
		if _, err := NewReader(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("header byte %d flipped: NewReader = %v, want ErrCorrupt", i, err)
		}
	}
}

func TestUnknownKindRejected(t *testing.T) {
	// A header a Writer refuses to produce, with correct checksums.
	hdr := []byte(Magic)
	hdr = binary.BigEndian.AppendUint16(hdr, Version)
	hdr = append(hdr, 4)
	hdr = append(hdr, "junk"...)
	hdr = binary.BigEndian.AppendUint32(hdr, 0)
	hdr = binary.BigEndian.AppendUint32(hdr, 0)
	hdr = binary.BigEndian.AppendUint32(hdr, crc32.Checksum(hdr, castagnoli))
	data := reseal(append(hdr, tagTrailer, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0)
	if _, err := NewReader(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("kind %q: NewReader = %v, want ErrCorrupt", "junk", err)
	}
}

func TestTrailingGarbageDetected(t *testing.T) {
	data := small(t)
	for _, extra := range [][]byte{{0}, {tagTrailer}, small(t)} {
		err := mustFail(t, append(slices.Clone(data), extra...), "trailing data")
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("trailing data: %v, want ErrCorrupt", err)
		}
	}
}

func TestVersionMismatch(t *testing.T) {
	data := small(t)
	binary.BigEndian.PutUint16(data[len(Magic):], Version+1)
	_, err := NewReader(bytes.NewReader(data))
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("NewReader on version %d: %v, want ErrVersion", Version+1, err)
	}
}

func TestBadMagic(t *testing.T) {
	data := small(t)
	data[0] = 'X'
	if _, err := NewReader(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad magic: %v, want ErrCorrupt", err)
	}
}

// forge builds a stream with a valid header followed by raw bytes, so tests
// can present records whose fields a Writer would never produce.
func forge(t *testing.T, tail []byte) []byte {
	data := encode(t, Header{Kind: KindData}, nil)
	hdrLen := len(data) - 1 - trailerLen
	return append(slices.Clone(data[:hdrLen]), tail...)
}

func recordHeader(keyLen uint32, valueLen uint64) []byte {
	b := []byte{tagRecord, 0}
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint32(b, keyLen)
	return binary.BigEndian.AppendUint64(b, valueLen)
}

func TestHostileLengths(t *testing.T) {
	cases := map[string][]byte{
		"key over limit":       recordHeader(uint32(MaxKeyLen)+1, 0),
		"value over limit":     recordHeader(0, MaxValueLen+1),
		"value of 2^64-1":      recordHeader(0, 1<<64-1),
		"value at limit, none": recordHeader(0, MaxValueLen),
		"key at limit, few":    append(recordHeader(uint32(MaxKeyLen), 0), "short"...),
		"unknown tag":          {0x7F},
	}
	for name, tail := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := mustFail(t, forge(t, tail), name)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		// The forged lengths claim up to 4 GiB; reading must allocate
		// only in proportion to the bytes present.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
			t.Errorf("%s: allocated %d bytes for a %d-byte stream", name, grew, len(tail))
		}
	}
}

func TestHostileMetaLength(t *testing.T) {
	data := encode(t, Header{Kind: KindData}, nil)
	off := len(Magic) + 2 + 1 + len(KindData) + 4
	for _, n := range []uint32{uint32(MaxMetaLen) + 1, uint32(MaxMetaLen), 1 << 20} {
		bad := slices.Clone(data)
		binary.BigEndian.PutUint32(bad[off:], n)
		if _, err := NewReader(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("meta length %d: %v, want ErrCorrupt", n, err)
		}
	}
}

func TestReadErrorIsNotCorruption(t *testing.T) {
	boom := errors.New("disk on fire")
	data := small(t)
	for _, n := range []int{0, 5, len(data) / 2, len(data) - 1} {
		src := io.MultiReader(bytes.NewReader(data[:n]), iotest.ErrReader(boom))
		_, _, err := decode(src)
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("read error after %d bytes: %v, want wrapped %v only", n, err, boom)
		}
	}
}

func TestErrorsAreSticky(t *testing.T) {
	data := small(t)
	data[len(data)-1] ^= 1
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var first error
	for first == nil {
		_, first = r.Next()
	}
	if _, again := r.Next(); again != first {
		t.Fatalf("Next after error = %v, want the same %v", again, first)
	}
}

func TestWriterValidation(t *testing.T) {
	for _, h := range []Header{{}, {Kind: "Data"}, {Kind: "data "}} {
		if _, err := NewWriter(io.Discard, h); err == nil {
			t.Errorf("NewWriter(%+v) accepted an invalid kind", h)
		}
	}
	if err := checkRecordLens(MaxKeyLen, MaxValueLen); err != nil {
		t.Errorf("limits themselves rejected: %v", err)
	}
	if checkRecordLens(MaxKeyLen+1, 0) == nil || checkRecordLens(0, MaxValueLen+1) == nil {
		t.Error("lengths over the limits accepted")
	}
}

func TestWriterAfterClose(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Kind: KindData})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	n := buf.Len()
	if err := w.Write(Record{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
	if buf.Len() != n {
		t.Fatal("Write after Close changed the output")
	}
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterSinkErrors(t *testing.T) {
	boom := errors.New("disk full")
	// Fails during the big record (written through past the buffer).
	w, err := NewWriter(&failAfter{n: 100, err: boom}, Header{Kind: KindData})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{Value: make([]byte, 2*writeBufferSize)}); !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want %v", err, boom)
	}
	if err := w.Write(Record{}); !errors.Is(err, boom) {
		t.Fatalf("Write after failure = %v, want sticky %v", err, boom)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after failure = %v, want %v", err, boom)
	}
	// Fails only at the final flush.
	w, err = NewWriter(&failAfter{n: 0, err: boom}, Header{Kind: KindData})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{Key: []byte("k")}); err != nil {
		t.Fatalf("buffered Write = %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want %v", err, boom)
	}
}

// FuzzReader feeds arbitrary bytes to the Reader. It must never panic, and
// any input it accepts must be canonical: writing back what was read
// reproduces the input byte for byte.
func FuzzReader(f *testing.F) {
	valid := small(f)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:len(valid)-1])
	f.Add(encode(f, Header{Kind: KindMeta, Meta: []byte("config")}, nil))
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		var recs []Record
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if _, again := r.Next(); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				return
			}
			recs = append(recs, rec)
		}
		if again := encode(t, r.Header(), recs); !bytes.Equal(again, data) {
			t.Fatalf("accepted input does not re-encode to itself:\n in  %x\n out %x", data, again)
		}
	})
}

func BenchmarkWrite1MSmallRecords(b *testing.B) {
	const n = 1_000_000
	rec := Record{Type: 1, Key: []byte("user:0000000"), Value: []byte("some small value"), Expire: 1735689600000}
	b.ReportAllocs()
	b.SetBytes(n * int64(1+recordFixedLen+len(rec.Key)+len(rec.Value)))
	for b.Loop() {
		w, err := NewWriter(io.Discard, Header{Kind: KindData, Group: 1})
		if err != nil {
			b.Fatal(err)
		}
		for range n {
			if err := w.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead1MSmallRecords(b *testing.B) {
	const n = 1_000_000
	rec := Record{Type: 1, Key: []byte("user:0000000"), Value: []byte("some small value"), Expire: 1735689600000}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Kind: KindData, Group: 1})
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
