package snapshot

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

const (
	// readBufferSize is the bufio buffer between the source and the Reader.
	readBufferSize = 64 << 10
	// readChunk bounds how much a Reader allocates ahead of data it has
	// actually read: a field longer than this grows as its bytes arrive.
	readChunk = 64 << 10
)

// Reader reads a snapshot from an io.Reader. It is not safe for concurrent
// use. The snapshot must be the whole stream: bytes after the trailer are
// reported as corruption.
type Reader struct {
	br      *bufio.Reader
	crc     uint32 // CRC-32C of every byte consumed so far
	off     int64  // number of bytes consumed so far
	h       Header
	count   uint64 // records returned so far
	err     error  // sticky; ErrFinished once io.EOF has been returned
	scratch [recordFixedLen]byte
}

// NewReader reads and validates the header of the snapshot in r: magic,
// version (ErrVersion if unsupported), kind, lengths and header checksum.
func NewReader(r io.Reader) (*Reader, error) {
	sr := &Reader{br: bufio.NewReaderSize(r, readBufferSize)}
	if err := sr.readHeader(); err != nil {
		return nil, err
	}
	return sr, nil
}

func (r *Reader) readHeader() error {
	var fixed [len(Magic) + 2 + 1]byte
	if err := r.readFull(fixed[:], "header"); err != nil {
		return err
	}
	if string(fixed[:len(Magic)]) != Magic {
		return fmt.Errorf("%w: bad magic %q, not a Troika snapshot", ErrCorrupt, fixed[:len(Magic)])
	}
	if v := binary.BigEndian.Uint16(fixed[len(Magic):]); v != Version {
		return fmt.Errorf("%w: snapshot has format version %d, this build reads version %d", ErrVersion, v, Version)
	}
	kind := make([]byte, fixed[len(Magic)+2])
	if err := r.readFull(kind, "header kind"); err != nil {
		return err
	}
	var b [8]byte
	if err := r.readFull(b[:], "header group and meta length"); err != nil {
		return err
	}
	group := binary.BigEndian.Uint32(b[:4])
	metaLen := uint64(binary.BigEndian.Uint32(b[4:]))
	if metaLen > MaxMetaLen {
		return fmt.Errorf("%w: header meta length %d exceeds %d", ErrCorrupt, metaLen, MaxMetaLen)
	}
	meta, err := r.readField(metaLen, "header meta")
	if err != nil {
		return err
	}
	want := r.crc
	if err := r.readFull(b[:4], "header checksum"); err != nil {
		return err
	}
	if got := binary.BigEndian.Uint32(b[:4]); got != want {
		return fmt.Errorf("%w: header checksum %#08x, computed %#08x", ErrCorrupt, got, want)
	}
	if !validKind(string(kind)) {
		return fmt.Errorf("%w: unknown kind %q", ErrCorrupt, kind)
	}
	r.h = Header{Kind: string(kind), Group: group, Meta: meta}
	return nil
}

// Header returns the snapshot's header. Its Meta is a copy the caller owns.
func (r *Reader) Header() Header {
	h := r.h
	h.Meta = bytes.Clone(r.h.Meta)
	if h.Meta == nil {
		h.Meta = []byte{}
	}
	return h
}

// Next returns the next record. Key and Value are freshly allocated for
// each record (empty, non-nil slices for empty fields) and owned by the
// caller; they may share one backing array, but each is capacity-limited,
// so appending to one never modifies the other.
//
// After the last record Next verifies the trailer: if the record count and
// checksum match and nothing follows, it returns io.EOF; afterwards it
// returns ErrFinished. A damaged, truncated or extended snapshot yields an
// error wrapping ErrCorrupt; a failure of the underlying reader is wrapped
// as is. Errors are sticky.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	start := r.off
	rec, err := r.next()
	switch {
	case err == io.EOF:
		r.err = ErrFinished
	case err != nil:
		err = fmt.Errorf("%w (at record %d, byte offset %d)", err, r.count, start)
		r.err = err
	}
	return rec, err
}

func (r *Reader) next() (Record, error) {
	tag := r.scratch[:1]
	if err := r.readFull(tag, "record tag"); err != nil {
		return Record{}, err
	}
	switch tag[0] {
	case tagRecord:
		return r.readRecord()
	case tagTrailer:
		return Record{}, r.readTrailer()
	default:
		return Record{}, fmt.Errorf("%w: unknown tag %#02x", ErrCorrupt, tag[0])
	}
}

func (r *Reader) readRecord() (Record, error) {
	b := r.scratch[:]
	if err := r.readFull(b, "record"); err != nil {
		return Record{}, err
	}
	rec := Record{
		Type:   b[0],
		Expire: int64(binary.BigEndian.Uint64(b[1:9])),
	}
	keyLen := uint64(binary.BigEndian.Uint32(b[9:13]))
	valueLen := binary.BigEndian.Uint64(b[13:21])
	if err := checkRecordLens(keyLen, valueLen); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if total := keyLen + valueLen; total <= readChunk {
		// Small record: one allocation, split into capacity-limited
		// slices so appending to Key cannot overwrite Value.
		buf := make([]byte, total)
		if err := r.readFull(buf, "key and value"); err != nil {
			return Record{}, err
		}
		rec.Key, rec.Value = buf[:keyLen:keyLen], buf[keyLen:]
		r.count++
		return rec, nil
	}
	var err error
	if rec.Key, err = r.readField(keyLen, "key"); err != nil {
		return Record{}, err
	}
	if rec.Value, err = r.readField(valueLen, "value"); err != nil {
		return Record{}, err
	}
	r.count++
	return rec, nil
}

func (r *Reader) readTrailer() error {
	var b [trailerLen]byte
	if err := r.readFull(b[:8], "trailer"); err != nil {
		return err
	}
	want := r.crc // covers everything up to and including the count
	if err := r.readFull(b[8:], "trailer checksum"); err != nil {
		return err
	}
	if got := binary.BigEndian.Uint32(b[8:]); got != want {
		return fmt.Errorf("%w: checksum %#08x, computed %#08x", ErrCorrupt, got, want)
	}
	if n := binary.BigEndian.Uint64(b[:8]); n != r.count {
		return fmt.Errorf("%w: trailer counts %d records, read %d", ErrCorrupt, n, r.count)
	}
	switch _, err := r.br.ReadByte(); {
	case err == nil:
		return fmt.Errorf("%w: data after trailer", ErrCorrupt)
	case err != io.EOF:
		return fmt.Errorf("snapshot: read after trailer: %w", err)
	}
	return io.EOF
}

// readFull fills p and folds it into the checksum. Running out of input
// is corruption (truncation); other read failures are wrapped as is.
func (r *Reader) readFull(p []byte, what string) error {
	if _, err := io.ReadFull(r.br, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated in %s: %w", ErrCorrupt, what, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("snapshot: read %s: %w", what, err)
	}
	r.crc = crc32.Update(r.crc, castagnoli, p)
	r.off += int64(len(p))
	return nil
}

// readField reads an n-byte field into a new slice. It never allocates
// much more than it has read: beyond readChunk the slice grows as bytes
// arrive, so a forged length on a short stream fails cheaply.
func (r *Reader) readField(n uint64, what string) ([]byte, error) {
	if n > math.MaxInt {
		return nil, fmt.Errorf("%w: %s of %d bytes does not fit in memory", ErrCorrupt, what, n)
	}
	size := int(n)
	buf := make([]byte, 0, min(size, readChunk))
	for len(buf) < size {
		step := min(size-len(buf), max(readChunk, len(buf)))
		buf = slices.Grow(buf, step)
		if err := r.readFull(buf[len(buf):len(buf)+step], what); err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+step]
	}
	return buf, nil
}
