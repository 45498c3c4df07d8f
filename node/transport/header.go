package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Connection header, version 1. The dialing side writes it first on every
// connection to the cluster port; everything after it belongs to the
// protocol selected by Kind (raft's NetworkTransport wire format for
// KindRaft).
//
//	offset size  field
//	0      2     magic "TK" (0x54 0x4B)
//	2      1     version (1)
//	3      1     kind: 1 = raft stream, 2..255 = handlers registered with Mux.Handle, 0 invalid
//	4      4     group id, uint32 big endian (KindRaft); must be 0 for other kinds
//	8      1     length n of the source address (0..255)
//	9      n     source: the dialing node's cluster address (UTF-8), used by
//	             LinkFilter and logs; may be empty
//
// A receiver closes the connection on a wrong magic, an unknown version, kind
// 0, a non-zero group for a non-raft kind, or an invalid source. Future
// versions must keep bytes 0..2, so that a receiver can reject a newer
// header cleanly.
const (
	HeaderVersion byte = 1
	// KindRaft selects the raft stream of the group in the header.
	KindRaft byte = 1

	fixedHeaderLen = 9
	maxSourceLen   = 255
)

// HeaderMagic are the first two bytes of every connection.
var HeaderMagic = [2]byte{'T', 'K'}

// ErrBadHeader is wrapped by every header parsing error.
var ErrBadHeader = errors.New("transport: bad connection header")

type header struct {
	kind   byte
	group  uint32
	source string
}

func (h header) append(dst []byte) ([]byte, error) {
	if h.kind == 0 {
		return nil, fmt.Errorf("%w: kind 0", ErrBadHeader)
	}
	if h.kind != KindRaft && h.group != 0 {
		return nil, fmt.Errorf("%w: group %d with non-raft kind %d", ErrBadHeader, h.group, h.kind)
	}
	if len(h.source) > maxSourceLen || !utf8.ValidString(h.source) {
		return nil, fmt.Errorf("%w: source address %q", ErrBadHeader, h.source)
	}
	dst = append(dst, HeaderMagic[0], HeaderMagic[1], HeaderVersion, h.kind)
	dst = binary.BigEndian.AppendUint32(dst, h.group)
	dst = append(dst, byte(len(h.source)))
	return append(dst, h.source...), nil
}

// readHeader reads exactly one header from r.
func readHeader(r io.Reader) (header, error) {
	var fixed [fixedHeaderLen]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return header{}, fmt.Errorf("%w: read: %w", ErrBadHeader, err)
	}
	if fixed[0] != HeaderMagic[0] || fixed[1] != HeaderMagic[1] {
		return header{}, fmt.Errorf("%w: magic %#x %#x", ErrBadHeader, fixed[0], fixed[1])
	}
	if fixed[2] != HeaderVersion {
		return header{}, fmt.Errorf("%w: unsupported version %d", ErrBadHeader, fixed[2])
	}
	h := header{kind: fixed[3], group: binary.BigEndian.Uint32(fixed[4:8])}
	if h.kind == 0 {
		return header{}, fmt.Errorf("%w: kind 0", ErrBadHeader)
	}
	if h.kind != KindRaft && h.group != 0 {
		return header{}, fmt.Errorf("%w: group %d with non-raft kind %d", ErrBadHeader, h.group, h.kind)
	}
	if n := int(fixed[8]); n > 0 {
		src := make([]byte, n)
		if _, err := io.ReadFull(r, src); err != nil {
			return header{}, fmt.Errorf("%w: read source: %w", ErrBadHeader, err)
		}
		if !utf8.Valid(src) {
			return header{}, fmt.Errorf("%w: source is not UTF-8", ErrBadHeader)
		}
		h.source = string(src)
	}
	return h, nil
}
