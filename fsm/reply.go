package fsm

import "strconv"

// Kind says how a Reply is encoded on the wire. The FSM never writes RESP
// itself: resp/ turns a Reply into bytes (RESP2 or RESP3).
type Kind uint8

const (
	KindNil      Kind = iota // null bulk string ($-1 / _)
	KindStatus               // simple string (+OK)
	KindError                // error; Code selects the text kept in resp/
	KindInt                  // integer (:1)
	KindBulk                 // bulk string ($3\r\nfoo)
	KindArray                // array of replies (*2 ...)
	KindNilArray             // null array (*-1 / _)
	KindDouble               // double: bulk in RESP2, ',' in RESP3 (Str holds the text)
	KindMap                  // map: flat key/value Array in RESP2, '%' in RESP3
)

// Reply is one command's result as a plain value. It is what Apply returns
// through the raft future, what reads return, and what resp encodes.
type Reply struct {
	Kind Kind
	Code Code    // KindError: which error
	Int  int64   // KindInt; for some error codes a number (e.g. the slot of MOVED)
	Str  string  // KindStatus, KindBulk, KindDouble; for errors an argument (command name, address)
	Arr  []Reply // KindArray, KindMap
}

// Common replies. They are values: callers may copy them freely.
var (
	OK       = Reply{Kind: KindStatus, Str: "OK"}
	Nil      = Reply{Kind: KindNil}
	NilArray = Reply{Kind: KindNilArray}
	Zero     = Reply{Kind: KindInt, Int: 0}
	One      = Reply{Kind: KindInt, Int: 1}
)

// Status returns a simple-string reply.
func Status(s string) Reply { return Reply{Kind: KindStatus, Str: s} }

// Int returns an integer reply.
func Int(n int64) Reply { return Reply{Kind: KindInt, Int: n} }

// Bool returns :1 for true and :0 for false.
func Bool(b bool) Reply {
	if b {
		return One
	}
	return Zero
}

// Bulk returns a bulk-string reply holding s.
func Bulk(s string) Reply { return Reply{Kind: KindBulk, Str: s} }

// BulkBytes returns a bulk-string reply holding a copy of b.
func BulkBytes(b []byte) Reply { return Reply{Kind: KindBulk, Str: string(b)} }

// Array returns an array reply.
func Array(items ...Reply) Reply { return Reply{Kind: KindArray, Arr: items} }

// Double returns a double reply formatted the way Redis formats doubles
// (%.17g, "inf", "-inf").
func Double(f float64) Reply { return Reply{Kind: KindDouble, Str: FormatFloat(f)} }

// Err returns an error reply with the given code.
func Err(c Code) Reply { return Reply{Kind: KindError, Code: c} }

// ErrArg returns an error reply whose text is completed by arg (for example
// the command name in "ERR invalid expire time in 'set' command").
func ErrArg(c Code, arg string) Reply { return Reply{Kind: KindError, Code: c, Str: arg} }

// ErrMsg returns an error reply whose whole text is msg (no code table entry).
// Prefer a Code; this exists for texts that embed free-form data.
func ErrMsg(msg string) Reply { return Reply{Kind: KindError, Code: CodeRaw, Str: msg} }

// IsErr reports whether r is an error reply.
func (r Reply) IsErr() bool { return r.Kind == KindError }

// FormatFloat formats f as Redis does for INCRBYFLOAT and doubles: the
// shortest representation that round-trips, "inf"/"-inf" for infinities.
func FormatFloat(f float64) string {
	switch {
	case f > 1.7976931348623157e308:
		return "inf"
	case f < -1.7976931348623157e308:
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
