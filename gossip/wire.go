package gossip

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// memberlist's UDP message types (net.go in memberlist: "ONLY APPEND TO
// THIS LIST! The numeric values are part of the protocol itself", so they
// are as stable as memberlist's wire compatibility).
const (
	msgSuspect  byte = 3
	msgAlive    byte = 4
	msgDead     byte = 5
	msgCompound byte = 7
	msgCompress byte = 9
	msgHasCRC   byte = 12
	msgHasLabel byte = 244

	maxWireDepth        = 4       // nesting of label/crc/compress/compound wrappers
	maxDecompressedSize = 1 << 20 // memberlist packets are < 64 KiB
)

// stateMsg is the part of memberlist's suspect, alive and dead messages that
// the table needs. They are msgpack maps keyed by field name; the other
// fields (Addr, Meta, Vsn...) are skipped by the decoder.
type stateMsg struct {
	Kind        byte `codec:"-"`
	Incarnation uint32
	Node        string
	From        string // suspect and dead only
}

// wireReader extracts state messages from memberlist packets. It never
// fails: anything it cannot parse is ignored (memberlist itself decides
// what the packet means).
type wireReader struct {
	h codec.MsgpackHandle // configured once, then safe for concurrent use
}

// each calls fn for every suspect, alive and dead message in packet.
func (w *wireReader) each(packet []byte, fn func(stateMsg)) {
	if len(packet) > 1 && packet[0] == msgHasLabel { // [244][len][label]
		n := int(packet[1])
		if len(packet) < 2+n {
			return
		}
		packet = packet[2+n:]
	}
	w.walk(packet, 0, fn)
}

func (w *wireReader) walk(buf []byte, depth int, fn func(stateMsg)) {
	if len(buf) == 0 || depth > maxWireDepth {
		return
	}
	kind, body := buf[0], buf[1:]
	switch kind {
	case msgHasCRC: // [12][crc32][message]; memberlist verifies the crc
		if len(body) >= 4 {
			w.walk(body[4:], depth+1, fn)
		}
	case msgCompound: // [7][n][n x uint16 length][messages]
		if len(body) < 1 {
			return
		}
		n := int(body[0])
		body = body[1:]
		if len(body) < 2*n {
			return
		}
		lengths, parts := body[:2*n], body[2*n:]
		for i := range n {
			l := int(binary.BigEndian.Uint16(lengths[2*i:]))
			if len(parts) < l {
				return
			}
			w.walk(parts[:l], depth+1, fn)
			parts = parts[l:]
		}
	case msgCompress: // [9][msgpack {Algo, Buf}], LZW
		var c struct {
			Algo uint8
			Buf  []byte
		}
		if codec.NewDecoderBytes(body, &w.h).Decode(&c) != nil || c.Algo != 0 {
			return
		}
		r := lzw.NewReader(bytes.NewReader(c.Buf), lzw.LSB, 8)
		plain, err := io.ReadAll(io.LimitReader(r, maxDecompressedSize))
		_ = r.Close()
		if err == nil {
			w.walk(plain, depth+1, fn)
		}
	case msgSuspect, msgAlive, msgDead:
		var m stateMsg
		if codec.NewDecoderBytes(body, &w.h).Decode(&m) == nil && m.Node != "" {
			m.Kind = kind
			fn(m)
		}
	}
}
