package fsm

import (
	"errors"
	"strings"
)

// ErrUnbalancedQuotes is returned by SplitArgs for a line whose quotes do
// not balance, or whose closing quote is not followed by a space or the end
// of the line.
var ErrUnbalancedQuotes = errors.New("unbalanced quotes")

// SplitArgs splits one configuration line into arguments exactly as Redis's
// sdssplitargs does:
//
//   - arguments are separated by spaces, tabs, CR and LF (leading blanks
//     also include \v and \f, as C's isspace);
//   - "double quotes" accept the escapes \n \r \t \b \a, \xHH (two hex
//     digits) and \<any byte> for that byte;
//   - 'single quotes' accept only \' as an escape;
//   - a quote may start in the middle of an argument (foo"bar" is foobar),
//     but a closing quote must be followed by a blank or the end of line;
//   - a NUL byte ends the line, as it ends a C string.
//
// An empty or all-blank line yields no arguments and no error.
func SplitArgs(line string) ([]string, error) {
	if i := strings.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	// at returns the byte at i, or the C terminator past the end.
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	var args []string
	p := 0
	for {
		for p < len(line) && isCSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return args, nil
		}
		var cur []byte
		inDouble, inSingle := false, false
		for done := false; !done; {
			c := at(p)
			switch {
			case inDouble:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					cur = append(cur, hexVal(at(p+2))<<4|hexVal(at(p+3)))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					cur = append(cur, unescape(line[p]))
				case c == '"':
					if n := at(p + 1); n != 0 && !isCSpace(n) {
						return nil, ErrUnbalancedQuotes
					}
					done = true
				case c == 0:
					return nil, ErrUnbalancedQuotes
				default:
					cur = append(cur, c)
				}
			case inSingle:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if n := at(p + 1); n != 0 && !isCSpace(n) {
						return nil, ErrUnbalancedQuotes
					}
					done = true
				case c == 0:
					return nil, ErrUnbalancedQuotes
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					cur = append(cur, c)
				}
			}
			if p < len(line) {
				p++
			}
		}
		args = append(args, string(cur))
	}
}

// Quote returns s as Redis's sdscatrepr writes it: in double quotes, with
// \\ \" \n \r \t \a \b escaped and every other non-printable byte as \xHH.
// SplitArgs(Quote(s)) yields s back (for s without NUL bytes).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c >= 0x20 && c <= 0x7e {
				b.WriteByte(c)
			} else {
				const hex = "0123456789abcdef"
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isCSpace is C's isspace in the C locale.

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
