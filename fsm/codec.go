package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Log entry layout (all integers are Go varints / uvarints):
//
//	byte    version (1)
//	byte    kind    (EntryBatch)
//	varint  now     unix ms stamped by the leader; Apply's only clock
//	uvarint n       number of commands
//	n times:
//	  uvarint op    stable opcode (table.go)
//	  uvarint argc  arguments after the command name
//	  argc times: uvarint len, len bytes
//
// The command name is not stored: the opcode names it.
const entryVersion = 1

// Entry kinds.
const (
	// EntryBatch is a batch of independent commands from one or more
	// clients, applied in order; one reply per command.
	EntryBatch byte = 1
)

// Limits enforced by DecodeEntry so that a corrupt entry cannot make the
// decoder allocate unbounded memory.
const (
	maxEntryCmds = 1 << 20
	maxCmdArgs   = 1 << 24
)

// ErrCorruptEntry is returned (wrapped) by DecodeEntry for malformed input.
var ErrCorruptEntry = errors.New("corrupt log entry")

// EntryCmd is one command of an entry: an opcode and its arguments, without
// the command name.
type EntryCmd struct {
	Op   Op
	Args [][]byte
}

// Entry is a decoded log entry.
type Entry struct {
	Kind byte
	Now  int64
	Cmds []EntryCmd
}

// AppendEntryHeader starts an entry in buf (kind, leader time, command count).
func AppendEntryHeader(buf []byte, kind byte, now int64, n int) []byte {
	buf = append(buf, entryVersion, kind)
	buf = binary.AppendVarint(buf, now)
	return binary.AppendUvarint(buf, uint64(n))
}

// AppendEntryCmd appends one command; args[0] (the name) is skipped.
func AppendEntryCmd(buf []byte, op Op, args [][]byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(op))
	rest := args
	if len(rest) > 0 {
		rest = rest[1:]
	}
	buf = binary.AppendUvarint(buf, uint64(len(rest)))
	for _, a := range rest {
		buf = binary.AppendUvarint(buf, uint64(len(a)))
		buf = append(buf, a...)
	}
	return buf
}

// EncodeEntry encodes a whole entry.
func EncodeEntry(e *Entry) []byte {
	buf := AppendEntryHeader(nil, e.Kind, e.Now, len(e.Cmds))
	for _, c := range e.Cmds {
		buf = binary.AppendUvarint(buf, uint64(c.Op))
		buf = binary.AppendUvarint(buf, uint64(len(c.Args)))
		for _, a := range c.Args {
			buf = binary.AppendUvarint(buf, uint64(len(a)))
			buf = append(buf, a...)
		}
	}
	return buf
}

// DecodeEntry decodes b. Argument slices alias b (no copy): they are valid
// only while b is, so the FSM copies what it stores.
func DecodeEntry(b []byte) (*Entry, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: short header", ErrCorruptEntry)
	}
	if b[0] != entryVersion {
		return nil, fmt.Errorf("%w: version %d", ErrCorruptEntry, b[0])
	}
	e := &Entry{Kind: b[1]}
	if e.Kind != EntryBatch {
		return nil, fmt.Errorf("%w: kind %d", ErrCorruptEntry, e.Kind)
	}
	p := 2
	now, k := binary.Varint(b[p:])
	if k <= 0 {
		return nil, fmt.Errorf("%w: time", ErrCorruptEntry)
	}
	e.Now = now
	p += k
	n, k := binary.Uvarint(b[p:])
	if k <= 0 || n > maxEntryCmds || n > uint64(len(b)-p) {
		return nil, fmt.Errorf("%w: command count", ErrCorruptEntry)
	}
	p += k
	e.Cmds = make([]EntryCmd, 0, n)
	for i := uint64(0); i < n; i++ {
		op, k := binary.Uvarint(b[p:])
		if k <= 0 || op > 0xffff {
			return nil, fmt.Errorf("%w: opcode of command %d", ErrCorruptEntry, i)
		}
		p += k
		argc, k := binary.Uvarint(b[p:])
		if k <= 0 || argc > maxCmdArgs || argc > uint64(len(b)-p) {
			return nil, fmt.Errorf("%w: argument count of command %d", ErrCorruptEntry, i)
		}
		p += k
		args := make([][]byte, argc)
		for j := range args {
			l, k := binary.Uvarint(b[p:])
			if k <= 0 || l > uint64(len(b)-p-k) {
				return nil, fmt.Errorf("%w: argument %d of command %d", ErrCorruptEntry, j, i)
			}
			p += k
			args[j] = b[p : p+int(l) : p+int(l)]
			p += int(l)
		}
		e.Cmds = append(e.Cmds, EntryCmd{Op: Op(op), Args: args})
	}
	if p != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptEntry, len(b)-p)
	}
	return e, nil
}
