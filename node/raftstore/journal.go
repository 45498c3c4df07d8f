package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
)

// errCorruptJournal is wrapped by every error about a malformed head file,
// frame or record, and by Open when the log fails verification.
var errCorruptJournal = errors.New("raftstore: corrupt journal")

// Head file (the file at Config.Path), layout version 3:
//
//	[16]byte magic "troika raft log\n"
//	uint32   layout version (=3)
//	uint32   zero
//	uint64   store id (random, chosen at creation)
//	uint32   CRC-32C of the preceding 32 bytes
//
// All fixed-width integers in this file are little endian.
const (
	layoutVersion = 3
	headLen       = 36
)

var headMagic = []byte("troika raft log\n")

// bboltMagic is the magic number in a bbolt meta page (at byte 16 of the
// file), which identifies a data directory written by the bbolt-based
// layouts 1 and 2.
const bboltMagic = 0xED0CDAED

func encodeHead(storeID uint64) []byte {
	b := make([]byte, 0, headLen)
	b = append(b, headMagic...)
	b = binary.LittleEndian.AppendUint32(b, layoutVersion)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, storeID)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// errOldLayout is wrapped by Open when Config.Path holds a bbolt file.
var errOldLayout = errors.New("raftstore: data directory was written by an older Troika")

func decodeHead(b []byte) (uint64, error) {
	if len(b) >= 20 && !bytes.HasPrefix(b, headMagic) && binary.LittleEndian.Uint32(b[16:]) == bboltMagic {
		return 0, fmt.Errorf("%w: the file is a bbolt raft log (layout 2); this version keeps the raft log in "+
			"segment files (layout 3) and cannot read it, and there is no migration: stop the node, move its data "+
			"directory aside (or delete it) and start the node empty so it rejoins its cluster", errOldLayout)
	}
	if len(b) < headLen || !bytes.HasPrefix(b, headMagic) {
		return 0, fmt.Errorf("%w: not a troika raft log head file (%d bytes)", errCorruptJournal, len(b))
	}
	if want, got := binary.LittleEndian.Uint32(b[32:]), crc32.Checksum(b[:32], crcTable); want != got {
		return 0, fmt.Errorf("%w: head checksum mismatch (stored %08x, computed %08x)", errCorruptJournal, want, got)
	}
	if v := binary.LittleEndian.Uint32(b[16:]); v != layoutVersion {
		return 0, fmt.Errorf("%w: unsupported layout version %d (want %d)", errCorruptJournal, v, layoutVersion)
	}
	return binary.LittleEndian.Uint64(b[24:]), nil
}

// Frame: one commit (or checkpoint) in a segment file, 8-byte aligned:
//
//	uint32 payload length n (> 0)
//	uint32 CRC-32C of the payload
//	uint64 seq: frame number, +1 for every frame the store writes
//	uint32 CRC-32C of the 16 bytes above followed by the store id
//	uint32 zero
//	n bytes payload, then zero padding to a multiple of 8 bytes
//
// The header checksum makes a header checkable on its own (cheap when
// looking for frames after a damaged one) and, seeded with the store id,
// it cannot be forged by log entry bytes that happen to look like a frame.
const (
	frameHeaderLen = 24
	frameAlign     = 8
	// maxFramePayload bounds one commit; a request whose encoding alone
	// exceeds it fails (and only it, see applyError).
	maxFramePayload = 1 << 30
)

func frameLen(payload int) int {
	return (frameHeaderLen + payload + frameAlign - 1) &^ (frameAlign - 1)
}

// sealFrame completes frame (header space, payload, padding, as built by
// the committer) for seq.
func sealFrame(frame []byte, payload int, seq, storeID uint64) {
	h := frame[:frameHeaderLen]
	binary.LittleEndian.PutUint32(h[0:], uint32(payload))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(frame[frameHeaderLen:frameHeaderLen+payload], crcTable))
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint32(h[16:], headerCRC(h, storeID))
	binary.LittleEndian.PutUint32(h[20:], 0)
	clear(frame[frameHeaderLen+payload:])
}

func headerCRC(h []byte, storeID uint64) uint32 {
	var id [8]byte
	binary.LittleEndian.PutUint64(id[:], storeID)
	return crc32.Update(crc32.Checksum(h[:16], crcTable), crcTable, id[:])
}

// parseFrame checks the frame at the start of b (the rest of its segment)
// and returns its payload and seq. ok is false for anything that is not a
// complete, intact frame of this store: zeros, a torn write, stale bytes,
// garbage.
func parseFrame(b []byte, storeID uint64) (payload []byte, seq uint64, ok bool) {
	n, seq, ok := parseFrameHeader(b, storeID)
	if !ok {
		return nil, 0, false
	}
	payload, ok = checkPayload(b, n)
	return payload, seq, ok
}

// parseFrameHeader checks just the header at the start of b: cheap, as it
// runs at every aligned offset of a segment's tail at Open.
func parseFrameHeader(b []byte, storeID uint64) (n int, seq uint64, ok bool) {
	if len(b) < frameHeaderLen {
		return 0, 0, false
	}
	m := binary.LittleEndian.Uint32(b[0:])
	if m == 0 || uint64(m) > uint64(len(b)-frameHeaderLen) || binary.LittleEndian.Uint32(b[20:]) != 0 {
		return 0, 0, false
	}
	if binary.LittleEndian.Uint32(b[16:]) != headerCRC(b, storeID) {
		return 0, 0, false
	}
	return int(m), binary.LittleEndian.Uint64(b[8:]), true
}

// checkPayload verifies the payload of the frame at the start of b, whose
// header announced n bytes.
func checkPayload(b []byte, n int) ([]byte, bool) {
	p := b[frameHeaderLen : frameHeaderLen+n]
	return p, binary.LittleEndian.Uint32(b[4:]) == crc32.Checksum(p, crcTable)
}

// Payloads. A commit payload lists what one group commit did, for every
// group in it:
//
//	byte kindCommit
//	op*:
//	  byte opTagSet    uvarint group, uvarint len, key, uvarint len, value
//	  byte opTagClear  uvarint group                  (DeleteGroup: drop stable keys)
//	  byte opTagLog    uvarint group,
//	                   uvarint d, d × (uvarint min, uvarint max)   deleted ranges, applied first
//	                   uvarint e, e × (uvarint len, entry)         appended entries (codec.go)
//
// Stable ops appear in request order. A group's deletes are applied before
// its entries: the committer keeps only the entries that survive the batch,
// so that order gives the batch's result. Entries keep their own checksum,
// so GetLog verifies the one entry it reads.
//
// A checkpoint payload is the complete state of the store apart from entry
// contents, written as the first frame of every segment:
//
//	byte kindCheckpoint
//	uvarint previous segment number (0 for the first segment)
//	uvarint g, g × (uvarint group,
//	                uvarint r, r × (uvarint base, uvarint count)   live index runs
//	                uvarint k, k × (uvarint len, key, uvarint len, value))
//
// Replaying a checkpoint drops every entry outside the listed runs and
// replaces every group's stable keys (groups not listed have neither). The
// previous segment number lets Open check, if that segment still exists,
// that it ends with the frame just before the checkpoint, so that damage to
// a segment's last frame is not mistaken for its end.
const (
	kindCommit     byte = 1
	kindCheckpoint byte = 2

	opTagSet   byte = 1
	opTagClear byte = 2
	opTagLog   byte = 3
)

// commitVisitor receives the ops of a commit payload, in order; entry gets
// the entry's offset and length within the payload.
type commitVisitor interface {
	set(group uint32, key, val []byte) error
	clearStable(group uint32) error
	del(group uint32, min, max uint64) error
	entry(group uint32, off, n int) error
}

// payloadReader consumes a payload, remembering the first error.
type payloadReader struct {
	b   []byte
	p   int
	err error
}

func (r *payloadReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format+" at payload offset %d", append([]any{errCorruptJournal}, append(args, r.p)...)...)
	}
}

func (r *payloadReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.p:])
	if n <= 0 {
		r.fail("bad %s varint", what)
		return 0
	}
	r.p += n
	return v
}

func (r *payloadReader) group() uint32 {
	v := r.uvarint("group id")
	if v > math.MaxUint32 {
		r.fail("group id %d out of range", v)
	}
	return uint32(v)
}

// count reads an element count, each element taking at least min bytes.
func (r *payloadReader) count(what string, min int) int {
	v := r.uvarint(what)
	if r.err == nil && v > uint64((len(r.b)-r.p)/min) {
		r.fail("%s %d exceeds the payload", what, v)
	}
	if r.err != nil {
		return 0
	}
	return int(v)
}

func (r *payloadReader) bytes(what string) []byte {
	n := r.uvarint(what + " length")
	if r.err == nil && n > uint64(len(r.b)-r.p) {
		r.fail("%s of %d bytes overruns the payload", what, n)
	}
	if r.err != nil {
		return nil
	}
	v := r.b[r.p : r.p+int(n)]
	r.p += int(n)
	return v
}

func (r *payloadReader) byte1() byte {
	if r.err == nil && r.p >= len(r.b) {
		r.fail("truncated payload")
	}
	if r.err != nil {
		return 0
	}
	r.p++
	return r.b[r.p-1]
}

// parseCommit walks a commit payload (kind byte included).
func parseCommit(b []byte, v commitVisitor) error {
	r := &payloadReader{b: b}
	if k := r.byte1(); k != kindCommit {
		return fmt.Errorf("%w: payload kind %d is not a commit", errCorruptJournal, k)
	}
	for r.err == nil && r.p < len(b) {
		switch tag := r.byte1(); tag {
		case opTagSet:
			g := r.group()
			key, val := r.bytes("key"), r.bytes("value")
			if r.err == nil {
				r.err = v.set(g, key, val)
			}
		case opTagClear:
			g := r.group()
			if r.err == nil {
				r.err = v.clearStable(g)
			}
		case opTagLog:
			g := r.group()
			for d := r.count("delete count", 2); r.err == nil && d > 0; d-- {
				lo, hi := r.uvarint("delete min"), r.uvarint("delete max")
				if r.err == nil {
					r.err = v.del(g, lo, hi)
				}
			}
			for e := r.count("entry count", 1); r.err == nil && e > 0; e-- {
				ent := r.bytes("entry")
				if r.err == nil {
					r.err = v.entry(g, r.p-len(ent), len(ent))
				}
			}
		default:
			r.fail("unknown op tag %d", tag)
		}
	}
	return r.err
}

// groupState is one group's part of a checkpoint.
type groupState struct {
	id     uint32
	runs   [][2]uint64 // (base, last), sorted and disjoint
	stable map[string][]byte
}

func appendCheckpoint(dst []byte, prevSeg uint32, groups []groupState) []byte {
	dst = append(dst, kindCheckpoint)
	dst = binary.AppendUvarint(dst, uint64(prevSeg))
	dst = binary.AppendUvarint(dst, uint64(len(groups)))
	for _, g := range groups {
		dst = binary.AppendUvarint(dst, uint64(g.id))
		dst = binary.AppendUvarint(dst, uint64(len(g.runs)))
		for _, r := range g.runs {
			dst = binary.AppendUvarint(dst, r[0])
			dst = binary.AppendUvarint(dst, r[1]-r[0]) // count-1: a run may reach MaxUint64
		}
		dst = binary.AppendUvarint(dst, uint64(len(g.stable)))
		for _, k := range sortedKeys(g.stable) {
			dst = appendBytes(dst, []byte(k))
			dst = appendBytes(dst, g.stable[k])
		}
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func parseCheckpoint(b []byte) (prevSeg uint32, groups []groupState, err error) {
	r := &payloadReader{b: b}
	if k := r.byte1(); k != kindCheckpoint {
		return 0, nil, fmt.Errorf("%w: payload kind %d is not a checkpoint", errCorruptJournal, k)
	}
	if prev := r.uvarint("previous segment"); prev > math.MaxUint32 {
		r.fail("previous segment %d out of range", prev)
	} else {
		prevSeg = uint32(prev)
	}
	var out []groupState
	for n := r.count("group count", 3); r.err == nil && n > 0; n-- {
		g := groupState{id: r.group()}
		if len(out) > 0 && r.err == nil && g.id <= out[len(out)-1].id {
			r.fail("group %d out of order", g.id)
		}
		for k := r.count("run count", 2); r.err == nil && k > 0; k-- {
			base, extra := r.uvarint("run base"), r.uvarint("run length")
			if r.err == nil && (extra > math.MaxUint64-base || len(g.runs) > 0 && base <= g.runs[len(g.runs)-1][1]) {
				r.fail("group %d: bad run %d+%d", g.id, base, extra)
			}
			g.runs = append(g.runs, [2]uint64{base, base + extra})
		}
		if k := r.count("key count", 2); k > 0 {
			g.stable = make(map[string][]byte, k)
			for ; r.err == nil && k > 0; k-- {
				key, val := r.bytes("key"), r.bytes("value")
				g.stable[string(key)] = bytes.Clone(val)
			}
		}
		out = append(out, g)
	}
	if r.err == nil && r.p != len(b) {
		r.fail("%d trailing bytes", len(b)-r.p)
	}
	return prevSeg, out, r.err
}

func sortedKeys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }
