package resp

import (
	"bytes"
	"fmt"
	"github.com/troika-db/troika/fsm"
	"io"
	"math"
)

// Limits that Redis hard-codes.
const (
	inlineMaxSize        = 64 * 1024 // PROTO_INLINE_MAX_SIZE
	unauthMaxMultibulk   = 10        // multibulk count allowed before AUTH
	unauthMaxBulk        = 16384     // bulk length allowed before AUTH
	readChunk            = 16 * 1024 // PROTO_IOBUF_LEN
	shrinkAbove          = 64 * 1024 // an idle buffer larger than this is released
	defaultMaxMultibulk  = 1024 * 1024
	defaultProtoMaxBulk  = 512 * 1024 * 1024
	defaultQueryBufLimit = 1024 * 1024 * 1024
)

// readLimits are the limits in force when a request is parsed. They can
// change between two requests of one pipeline (AUTH, CONFIG SET).
type readLimits struct {
	maxBulk      int64 // proto-max-bulk-len
	maxMultibulk int64 // largest accepted argument count
	unauth       bool  // the connection must still authenticate
}

// span locates one argument of a partially read request, relative to the
// request's first byte, so that it survives compaction of the buffer.
type span struct{ from, to int }

// reader is an incremental, bounded RESP request parser. Data is appended
// by fill; next returns complete requests one by one. Every length is
// checked against the limits before anything is allocated for it, and
// the buffer only grows with data actually received, so a client cannot
// make the server reserve memory by announcing a large length.
//
// A reader is owned by one connection goroutine and is not safe for
// concurrent use.
type reader struct {
	buf   []byte // received bytes; buf[start:] is not consumed yet
	start int    // first byte of the request being parsed
	pos   int    // parse cursor

	// Multibulk state, kept between calls so that a large request arriving
	// in many reads is scanned once (O(n), not O(n²)).
	remaining int64 // arguments still to read; 0 when not inside a multibulk
	bulkLen   int64 // length of the argument being read; -1 before its "$n" line
	spans     []span
}

// pending returns the number of received bytes not yet consumed: the query
// buffer size that client-query-buffer-limit bounds.
func (r *reader) pending() int { return len(r.buf) - r.start }

// bufCap is the capacity of the query buffer (CLIENT LIST qbuf-free).
func (r *reader) bufCap() int { return cap(r.buf) }

// fill reads once from src into the buffer, first compacting consumed
// bytes away. Like Redis it reads at most 16KB at a time, except while a
// large argument is arriving, so that one pipeline chunk stays small; the
// buffer grows geometrically with the data actually received, never to a
// size announced by the client.
func (r *reader) fill(src io.Reader) (int, error) {
	r.compact()
	want := readChunk
	if r.remaining > 0 && r.bulkLen >= 0 {
		if missing := r.bulkLen + 2 - int64(len(r.buf)-r.pos); missing > int64(want) {
			want = int(min(missing, math.MaxInt32))
		}
	}
	if cap(r.buf)-len(r.buf) < min(want, readChunk) {
		newCap := max(2*cap(r.buf), len(r.buf)+readChunk)
		nb := make([]byte, len(r.buf), newCap)
		copy(nb, r.buf)
		r.buf = nb
	}
	end := len(r.buf) + min(want, cap(r.buf)-len(r.buf))
	n, err := src.Read(r.buf[len(r.buf):end])
	r.buf = r.buf[:len(r.buf)+n]
	return n, err
}

// feed appends p to the buffer (tests and the fuzzer use it instead of fill).
func (r *reader) feed(p []byte) {
	r.compact()
	r.buf = append(r.buf, p...)
}

// compact drops consumed bytes, and releases a large buffer once it is empty.
func (r *reader) compact() {
	if r.start == 0 {
		return
	}
	if r.start == len(r.buf) && cap(r.buf) > shrinkAbove {
		r.buf, r.start, r.pos = nil, 0, 0
		return
	}
	n := copy(r.buf, r.buf[r.start:])
	r.buf = r.buf[:n]
	r.pos -= r.start
	r.start = 0
}

// next returns the next complete request, nil when more input is needed,
// or a *ProtocolError. Empty requests ("*0", "*-1", blank lines) are
// skipped, as Redis skips them. The returned arguments are fresh copies
// that the caller may keep.
func (r *reader) next(lim readLimits) ([][]byte, error) {
	for {
		if r.remaining == 0 {
			if r.pos >= len(r.buf) {
				return nil, nil
			}
			r.start = r.pos
			if r.buf[r.pos] != '*' {
				args, done, err := r.inline()
				if err != nil || !done {
					return nil, err
				}
				if len(args) == 0 {
					continue
				}
				return args, nil
			}
			done, err := r.multibulkHeader(lim)
			if err != nil || !done {
				return nil, err
			}
			if r.remaining == 0 {
				continue // "*0" or a negative count: nothing to run
			}
		}
		done, err := r.multibulkArgs(lim)
		if err != nil || !done {
			return nil, err
		}
		return r.takeArgs(), nil
	}
}

// line finds the '\r' ending the count line at r.pos and reports whether
// the line and its two terminator bytes are in the buffer. Like Redis, the
// byte after '\r' is not checked.
func (r *reader) line(tooBig string) (end int, ok bool, err error) {
	i := bytes.IndexByte(r.buf[r.pos:], '\r')
	if i < 0 {
		if len(r.buf)-r.pos > inlineMaxSize {
			return 0, false, &ProtocolError{Text: tooBig}
		}
		return 0, false, nil
	}
	if i > inlineMaxSize {
		return 0, false, &ProtocolError{Text: tooBig}
	}
	end = r.pos + i
	if end+2 > len(r.buf) {
		return 0, false, nil
	}
	return end, true, nil
}

func (r *reader) multibulkHeader(lim readLimits) (bool, error) {
	end, ok, err := r.line(msgProtoBigMBulkCount)
	if !ok {
		return false, err
	}
	n, valid := fsm.ParseInt(r.buf[r.pos+1 : end])
	if !valid || n > math.MaxInt32 || n > lim.maxMultibulk {
		return false, &ProtocolError{Text: msgProtoMultibulkLen}
	}
	if n > unauthMaxMultibulk && lim.unauth {
		return false, &ProtocolError{Text: msgProtoUnauthMBulk}
	}
	r.pos = end + 2
	if n <= 0 {
		r.start = r.pos
		return true, nil
	}
	r.remaining = n
	r.bulkLen = -1
	r.spans = r.spans[:0]
	return true, nil
}

func (r *reader) multibulkArgs(lim readLimits) (bool, error) {
	for r.remaining > 0 {
		if r.bulkLen < 0 {
			end, ok, err := r.line(msgProtoBigBulkCount)
			if !ok {
				return false, err
			}
			if c := r.buf[r.pos]; c != '$' {
				return false, &ProtocolError{Text: fmt.Sprintf(msgProtoExpectedDollar, c)}
			}
			n, valid := fsm.ParseInt(r.buf[r.pos+1 : end])
			if !valid || n < 0 || n > lim.maxBulk {
				return false, &ProtocolError{Text: msgProtoBulkLen}
			}
			if n > unauthMaxBulk && lim.unauth {
				return false, &ProtocolError{Text: msgProtoUnauthBulk}
			}
			r.pos = end + 2
			r.bulkLen = n
		}
		// Compare in int64 before converting: bulkLen may exceed int on
		// 32-bit platforms; the length check above bounds it by maxBulk.
		if int64(len(r.buf)-r.pos) < r.bulkLen+2 {
			return false, nil
		}
		from := r.pos - r.start
		r.spans = append(r.spans, span{from, from + int(r.bulkLen)})
		r.pos += int(r.bulkLen) + 2 // like Redis, the trailing CRLF is skipped unchecked
		r.bulkLen = -1
		r.remaining--
	}
	return true, nil
}

// takeArgs copies the completed request's arguments into one allocation
// and marks the request consumed.
func (r *reader) takeArgs() [][]byte {
	total := 0
	for _, s := range r.spans {
		total += s.to - s.from
	}
	arena := make([]byte, total)
	args := make([][]byte, len(r.spans))
	off := 0
	for i, s := range r.spans {
		n := copy(arena[off:], r.buf[r.start+s.from:r.start+s.to])
		args[i] = arena[off : off+n : off+n]
		off += n
	}
	r.spans = r.spans[:0]
	if cap(r.spans) > 1024 {
		r.spans = nil // do not keep a huge span table alive between requests
	}
	r.start = r.pos
	return args
}

// inline parses a telnet-style request ending with '\n' (optionally "\r\n").
func (r *reader) inline() (args [][]byte, done bool, err error) {
	i := bytes.IndexByte(r.buf[r.pos:], '\n')
	if i < 0 {
		if len(r.buf)-r.pos > inlineMaxSize {
			return nil, false, &ProtocolError{Text: msgProtoBigInline}
		}
		return nil, false, nil
	}
	if i > inlineMaxSize {
		return nil, false, &ProtocolError{Text: msgProtoBigInline}
	}
	line := r.buf[r.pos : r.pos+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, ok := splitArgs(line)
	if !ok {
		return nil, false, &ProtocolError{Text: msgProtoQuotes}
	}
	r.pos += i + 1
	r.start = r.pos
	return args, true, nil
}
