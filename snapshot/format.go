package snapshot

import (
	"errors"
	"hash/crc32"
)

// Version is the format version this package writes and reads.
const Version uint16 = 1

// Magic opens every snapshot.
const Magic = "TROIKASNAP"

// Header kinds.
const (
	KindData = "data" // a raft group's key space
	KindMeta = "meta" // cluster metadata (e.g. the encoded configuration)
)

// Limits on length fields. A reader refuses larger values before reading or
// allocating anything, so a corrupt or hostile length cannot make it reserve
// memory for data that is not there.
const (
	MaxKeyLen   uint64 = 512 << 20 // 512 MiB, Redis's largest string
	MaxValueLen uint64 = 4 << 30   // 4 GiB
	MaxMetaLen  uint64 = 64 << 20  // 64 MiB
)

// Frame tags: the first byte of every record and of the trailer.
const (
	tagRecord  byte = 0x01
	tagTrailer byte = 0xFF
)

// Fixed-size parts of the layout (see DESIGN.md).
const (
	// type(1) expire(8) keyLen(4) valueLen(8), after the tag.
	recordFixedLen = 1 + 8 + 4 + 8
	// count(8) crc(4), after the tag.
	trailerLen = 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors. Use errors.Is: returned errors wrap them with detail.
var (
	// ErrCorrupt reports a snapshot whose bytes are damaged, truncated,
	// extended or otherwise not a valid snapshot.
	ErrCorrupt = errors.New("snapshot: corrupt")
	// ErrVersion reports a well-formed header of a format version this
	// package does not read (e.g. written by a newer Troika).
	ErrVersion = errors.New("snapshot: unsupported version")
	// ErrFinished is returned by Reader.Next after it has returned io.EOF.
	ErrFinished = errors.New("snapshot: read past end of snapshot")
	// ErrClosed is returned by Writer.Write after Close.
	ErrClosed = errors.New("snapshot: writer closed")
)

// Header describes a snapshot.
type Header struct {
	Kind  string // KindData or KindMeta
	Group uint32 // raft group the snapshot belongs to
	Meta  []byte // opaque to this package, at most MaxMetaLen bytes
}

// Record is one entry of a snapshot. Its fields are opaque to this package.
type Record struct {
	Type   uint8
	Key    []byte // at most MaxKeyLen bytes
	Expire int64  // unix milliseconds; 0 means no expiry
	Value  []byte // at most MaxValueLen bytes
}

func validKind(k string) bool {
	return k == KindData || k == KindMeta
}
