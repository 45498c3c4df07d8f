package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hashicorp/raft"
)

// Log entry value encoding, version 1 (all multi-byte fixed fields little
// endian, varints are encoding/binary's):
//
//	byte     version (=1)
//	byte     raft.LogType
//	byte     flags: bit 0 = AppendedAt present; other bits must be zero
//	uvarint  Index
//	uvarint  Term
//	uvarint  len(Data),       Data bytes
//	uvarint  len(Extensions), Extensions bytes
//	[varint  AppendedAt Unix seconds, uvarint nanoseconds (< 1e9)] if flag bit 0
//	uint32   CRC-32C (Castagnoli) of every preceding byte
//
// A zero-length Data or Extensions decodes as nil. AppendedAt decodes in the
// local time zone without monotonic reading (equal under time.Time.Equal).
const (
	codecVersion   byte = 1
	flagAppendedAt byte = 1 << 0
	knownFlags          = flagAppendedAt
	headerLen           = 3
	crcLen              = 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("raftstore: corrupt log entry")

// encodedLen returns an upper bound of the encoded size of l.
func encodedLen(l *raft.Log) int {
	n := headerLen + 2*binary.MaxVarintLen64 + // index, term
		binary.MaxVarintLen64 + len(l.Data) +
		binary.MaxVarintLen64 + len(l.Extensions) +
		crcLen
	if !l.AppendedAt.IsZero() {
		n += 2 * binary.MaxVarintLen64
	}
	return n
}

// appendLog appends the encoding of l to dst.
func appendLog(dst []byte, l *raft.Log) []byte {
	start := len(dst)
	var flags byte
	if !l.AppendedAt.IsZero() {
		flags |= flagAppendedAt
	}
	dst = append(dst, codecVersion, byte(l.Type), flags)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	if flags&flagAppendedAt != 0 {
		dst = binary.AppendVarint(dst, l.AppendedAt.Unix())
		dst = binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// decodeLog decodes b into l. Data and Extensions are copied, so b may be
// a reused read buffer. Any malformed input yields an error wrapping
// errCorrupt and leaves l unspecified.
func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < headerLen+crcLen {
		return fmt.Errorf("%w: %d bytes is too short", errCorrupt, len(b))
	}
	body := b[:len(b)-crcLen]
	if want, got := binary.LittleEndian.Uint32(b[len(body):]), crc32.Checksum(body, crcTable); want != got {
		return fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", errCorrupt, want, got)
	}
	return decodeBody(body, l)
}

// decodeBody decodes an entry whose checksum has been verified (or stripped).
func decodeBody(b []byte, l *raft.Log) error {
	if len(b) < headerLen {
		return fmt.Errorf("%w: %d bytes is too short", errCorrupt, len(b))
	}
	if b[0] != codecVersion {
		return fmt.Errorf("%w: unknown version %d", errCorrupt, b[0])
	}
	flags := b[2]
	if flags&^knownFlags != 0 {
		return fmt.Errorf("%w: unknown flags %#x", errCorrupt, flags)
	}
	d := decoder{b: b[headerLen:]}
	index := d.uvarint("index")
	term := d.uvarint("term")
	data := d.bytes("data")
	ext := d.bytes("extensions")
	var appended time.Time
	if flags&flagAppendedAt != 0 {
		sec := d.varint("appended-at seconds")
		nsec := d.uvarint("appended-at nanoseconds")
		if d.err == nil && nsec >= uint64(time.Second) {
			d.err = fmt.Errorf("%w: appended-at nanoseconds %d out of range", errCorrupt, nsec)
		}
		appended = time.Unix(sec, int64(nsec))
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	*l = raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(b[1]),
		Data:       data,
		Extensions: ext,
		AppendedAt: appended,
	}
	return nil
}

// decoder consumes fields from b, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad %s varint", errCorrupt, field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad %s varint", errCorrupt, field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(field string) []byte {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: %s length %d exceeds remaining %d bytes", errCorrupt, field, n, len(d.b))
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b)
	d.b = d.b[n:]
	return out
}

// entryIndex verifies an encoded entry's checksum and version and returns
// its index without decoding the rest (used when rebuilding the index).
func entryIndex(b []byte) (uint64, error) {
	if len(b) < headerLen+crcLen {
		return 0, fmt.Errorf("%w: %d bytes is too short", errCorrupt, len(b))
	}
	body := b[:len(b)-crcLen]
	if want, got := binary.LittleEndian.Uint32(b[len(body):]), crc32.Checksum(body, crcTable); want != got {
		return 0, fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", errCorrupt, want, got)
	}
	if body[0] != codecVersion {
		return 0, fmt.Errorf("%w: unknown version %d", errCorrupt, body[0])
	}
	index, n := binary.Uvarint(body[headerLen:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad index varint", errCorrupt)
	}
	return index, nil
}
