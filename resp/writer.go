package resp

import (
	"strconv"

	"github.com/tidwall/redcon"
	"github.com/troika-db/troika/fsm"
)

// writer encodes replies into a connection's output buffer, in RESP2 or,
// after HELLO 3, RESP3. Plain encodings come from redcon's Append helpers;
// the RESP3 types redcon lacks are written here.
type writer struct {
	b     []byte
	proto int // 2 or 3

	// errs counts the error replies written, so a caller can tell whether
	// a command failed; errHook, when set, sees every error text (stats).
	errs    int
	errHook func(text string)
}

func (w *writer) status(s string) { w.b = redcon.AppendString(w.b, s) }
func (w *writer) ok()             { w.b = redcon.AppendOK(w.b) }
func (w *writer) int(n int64)     { w.b = redcon.AppendInt(w.b, n) }
func (w *writer) bulk(b []byte)   { w.b = redcon.AppendBulk(w.b, b) }
func (w *writer) bulkStr(s string) {
	w.b = redcon.AppendBulkString(w.b, s)
}
func (w *writer) arrayLen(n int) { w.b = redcon.AppendArray(w.b, n) }

// error writes an error reply; text is the whole message without '-'.
func (w *writer) error(text string) {
	text = sanitizeError(text)
	w.errs++
	if w.errHook != nil {
		w.errHook(text)
	}
	w.b = redcon.AppendError(w.b, text)
}

// null writes the null bulk string ($-1 in RESP2, _ in RESP3).
func (w *writer) null() {
	if w.proto >= 3 {
		w.b = append(w.b, "_\r\n"...)
		return
	}
	w.b = redcon.AppendNull(w.b)
}

// nullArray writes the null array (*-1 in RESP2, _ in RESP3).
func (w *writer) nullArray() {
	if w.proto >= 3 {
		w.b = append(w.b, "_\r\n"...)
		return
	}
	w.b = append(w.b, "*-1\r\n"...)
}

// pushLen starts an out-of-band Pub/Sub message or (un)subscribe
// confirmation: a push ('>') in RESP3, an array in RESP2.
func (w *writer) pushLen(n int) { w.b = appendPushLen(w.b, w.proto, n) }

func appendPushLen(b []byte, proto, n int) []byte {
	if proto >= 3 {
		return appendLen(b, '>', n)
	}
	return redcon.AppendArray(b, n)
}

// mapLen starts a map of n pairs: '%' in RESP3, a flat array of 2n in RESP2.
func (w *writer) mapLen(n int) {
	if w.proto >= 3 {
		w.b = appendLen(w.b, '%', n)
		return
	}
	w.b = redcon.AppendArray(w.b, 2*n)
}

// setLen starts a set: '~' in RESP3, an array in RESP2.
func (w *writer) setLen(n int) {
	if w.proto >= 3 {
		w.b = appendLen(w.b, '~', n)
		return
	}
	w.b = redcon.AppendArray(w.b, n)
}

// double writes a double given as text: ',' in RESP3, a bulk string in RESP2.
func (w *writer) double(s string) {
	if w.proto >= 3 {
		w.b = append(w.b, ',')
		w.b = append(w.b, s...)
		w.b = append(w.b, '\r', '\n')
		return
	}
	w.b = redcon.AppendBulkString(w.b, s)
}

// verbatim writes a verbatim "txt" string in RESP3 ('=') and a bulk
// string in RESP2, as Redis does for INFO and CLIENT LIST.
func (w *writer) verbatim(s string) {
	if w.proto >= 3 {
		w.b = appendLen(w.b, '=', len(s)+4)
		w.b = append(w.b, "txt:"...)
		w.b = append(w.b, s...)
		w.b = append(w.b, '\r', '\n')
		return
	}
	w.b = redcon.AppendBulkString(w.b, s)
}

// statusList writes an array of simple strings (the HELP replies).
func (w *writer) statusList(lines []string) {
	w.arrayLen(len(lines))
	for _, l := range lines {
		w.status(l)
	}
}

// strSet writes a set of simple strings (COMMAND INFO flags, categories).
func (w *writer) statusSet(items []string) {
	w.setLen(len(items))
	for _, s := range items {
		w.status(s)
	}
}

// reply writes an fsm.Reply.
func (w *writer) reply(r fsm.Reply) {
	switch r.Kind {
	case fsm.KindNil:
		w.null()
	case fsm.KindStatus:
		w.status(r.Str)
	case fsm.KindError:
		w.error(errorText(r))
	case fsm.KindInt:
		w.int(r.Int)
	case fsm.KindBulk:
		w.bulkStr(r.Str)
	case fsm.KindArray:
		w.arrayLen(len(r.Arr))
		for _, e := range r.Arr {
			w.reply(e)
		}
	case fsm.KindNilArray:
		w.nullArray()
	case fsm.KindDouble:
		w.double(r.Str)
	case fsm.KindMap:
		w.mapLen(len(r.Arr) / 2)
		for _, e := range r.Arr[:len(r.Arr)/2*2] {
			w.reply(e)
		}
	default:
		w.error(msgInternal + " (unknown reply kind " + strconv.Itoa(int(r.Kind)) + ")")
	}
}

func appendLen(b []byte, prefix byte, n int) []byte {
	b = append(b, prefix)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}
