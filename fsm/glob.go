package fsm

// Glob-style pattern matching with the exact semantics of Redis 7.0's
// stringmatchlen (src/util.c), used by KEYS, SCAN MATCH, CONFIG GET and
// friends.
//
// The syntax:
//
//	*        any run of bytes (see the empty-string note below)
//	?        exactly one byte
//	[abc]    one byte out of the set; [^abc] negates it
//	[a-z]    a range; reversed ranges ([z-a]) are swapped, and the bounds
//	         compare as C's signed char, as Redis does on x86-64
//	\x       the byte x literally, both inside and outside brackets
//
// Redis quirks reproduced on purpose:
//
//   - An empty subject only matches an empty pattern, so "*" does not
//     match "". Redis's KEYS and SCAN special-case the lone pattern "*" as
//     "all keys" before calling the matcher; callers implementing them must
//     do the same.
//   - An unterminated class ("[abc" at the end of the pattern) is closed by
//     the end of the pattern; a lone "[" at the end never matches.
//   - Inside brackets "\x" compares x case-sensitively even when nocase is
//     set; everything else folds ASCII letters only (C locale tolower).
//   - A range is only recognised when at least three pattern bytes remain,
//     so "[a-]" is the range from 'a' to ']' and closes at the end of the
//     pattern.
//   - Redis limits the recursion of '*' to 1000 levels: a pattern whose
//     1001st run of stars is followed by anything never matches a
//     non-empty subject.
//
// The implementation is iterative and backtracks only to the most recent
// run of stars, which is equivalent to Redis's recursion (every non-star
// token consumes exactly one byte) but runs in O(len(pattern)*len(str))
// time at worst, without recursion, and never reads out of bounds.

// maxStarNesting is Redis's recursion limit for '*' (stringmatchlen_impl
// returns 0 once nesting exceeds it).
const maxStarNesting = 1000

// GlobMatch reports whether str matches pattern under Redis's glob rules;
// with nocase, ASCII letters compare case-insensitively.
func GlobMatch(pattern, str []byte, nocase bool) bool {
	return globMatch(pattern, str, nocase)
}

// GlobMatchString is GlobMatch for strings; it does not allocate.
func GlobMatchString(pattern, s string, nocase bool) bool {
	return globMatch(pattern, s, nocase)
}

func globMatch[T ~string | ~[]byte](p, s T, nocase bool) bool {
	// Redis's main loop runs only while both pattern and subject are
	// non-empty, so an empty subject matches nothing but an empty pattern.
	if len(s) == 0 {
		return len(p) == 0
	}
	pi, si := 0, 0
	// The most recent run of stars: starP is the pattern index just after
	// it, starS the subject index where its next attempt starts.
	starP, starS := -1, 0
	stars := 0
	for si < len(s) {
		if pi < len(p) {
			if p[pi] == '*' {
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if pi == len(p) {
					return true // trailing star swallows the rest
				}
				stars++
				if stars > maxStarNesting {
					return false
				}
				starP, starS = pi, si
				continue
			}
			if next, ok := globToken(p, pi, s[si], nocase); ok {
				pi = next
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star swallow one more byte and retry the rest.
		starS++
		si, pi = starS, starP
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// globToken matches the single non-star token at p[pi] against byte c and
// returns the index just after the token and whether it matched. The token
// length never depends on c.
func globToken[T ~string | ~[]byte](p T, pi int, c byte, nocase bool) (int, bool) {
	switch p[pi] {
	case '?':
		return pi + 1, true
	case '[':
		return globClass(p, pi+1, c, nocase)
	case '\\':
		if pi+1 < len(p) {
			pi++
		}
	}
	return pi + 1, globEq(p[pi], c, nocase)
}

// globClass matches a bracket expression whose body starts at p[i] (just
// after '[') and returns the index just after its closing ']' (or the end of
// the pattern when unterminated).
func globClass[T ~string | ~[]byte](p T, i int, c byte, nocase bool) (int, bool) {
	not := i < len(p) && p[i] == '^'
	if not {
		i++
	}
	match := false
	for {
		rest := len(p) - i
		switch {
		case rest >= 2 && p[i] == '\\':
			i++
			if p[i] == c { // escapes compare case-sensitively, as Redis does
				match = true
			}
		case rest > 0 && p[i] == ']':
			return i + 1, match != not
		case rest <= 0:
			// Unterminated: the end of the pattern closes the class.
			return len(p), match != not
		case rest >= 3 && p[i+1] == '-':
			lo, hi, cc := signedChar(p[i]), signedChar(p[i+2]), signedChar(c)
			if lo > hi {
				lo, hi = hi, lo
			}
			if nocase {
				lo, hi, cc = lowerInt(lo), lowerInt(hi), lowerInt(cc)
			}
			i += 2
			if cc >= lo && cc <= hi {
				match = true
			}
		default:
			if globEq(p[i], c, nocase) {
				match = true
			}
		}
		i++
	}
}

// signedChar widens b the way C widens a plain (signed on x86-64) char.
func signedChar(b byte) int { return int(int8(b)) }

// lowerInt is C-locale tolower on a widened char.
func lowerInt(c int) int {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func globEq(a, b byte, nocase bool) bool {
	if a == b {
		return true
	}
	return nocase && lowerInt(int(a)) == lowerInt(int(b))
}
