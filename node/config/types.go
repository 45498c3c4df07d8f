package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A setter validates the arguments of one directive and returns its new
// canonical value (the text CONFIG GET shows). prev is the current
// canonical value; fromFile is true while reading a configuration file,
// false for CONFIG SET (only "save" cares: file lines accumulate). Error
// texts are Redis 7.0's.
type setter func(args []string, prev string, fromFile bool) (string, error)

// kind is a value type: how to validate it and how to describe it.
type kind struct {
	typ   string // for DirectiveInfo.Type
	multi bool   // takes several arguments (Redis's MULTI_ARG_CONFIG)
	set   setter
}

const (
	errNotInt   = "argument couldn't be parsed into an integer"
	errNotMem   = "argument must be a memory value"
	errNotBool  = "argument must be 'yes' or 'no'"
	errSaveArgs = "Invalid save parameters"
)

// single wraps a one-argument validator into a setter.
func single(f func(v string) (string, error)) setter {
	return func(args []string, _ string, _ bool) (string, error) {
		return f(args[0])
	}
}

// intKind is a Redis integer config bounded to [lo, hi].
func intKind(lo, hi int64) kind {
	return kind{
		typ: fmt.Sprintf("integer %d..%s", lo, bound(hi)),
		set: single(func(v string) (string, error) {
			n, err := parseIntInRange(v, lo, hi)
			if err != nil {
				return "", err
			}
			return strconv.FormatInt(n, 10), nil
		}),
	}
}

func bound(hi int64) string {
	if hi == math.MaxInt64 {
		return "2^63-1"
	}
	return strconv.FormatInt(hi, 10)
}

func parseIntInRange(v string, lo, hi int64) (int64, error) {
	n, ok := string2ll(v)
	if !ok {
		return 0, errors.New(errNotInt)
	}
	if n < lo || n > hi {
		return 0, rangeErr(strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10))
	}
	return n, nil
}

func rangeErr(lo, hi string) error {
	return fmt.Errorf("argument must be between %s and %s inclusive", lo, hi)
}

// memKind is a Redis memory config (MEMORY_CONFIG) bounded to [lo, hi];
// the canonical value is a plain number of bytes.
func memKind(lo, hi uint64) kind {
	typ := "memory"
	if lo > 0 {
		typ = "memory >= " + strconv.FormatUint(lo, 10)
	}
	return kind{
		typ: typ,
		set: single(func(v string) (string, error) {
			n, ok := memtoull(v)
			if !ok {
				return "", errors.New(errNotMem)
			}
			// Redis compares as unsigned, so values that wrap past 2^63
			// fail the upper bound of a signed config.
			if n < lo || n > hi {
				return "", rangeErr(strconv.FormatUint(lo, 10), strconv.FormatUint(hi, 10))
			}
			return strconv.FormatUint(n, 10), nil
		}),
	}
}

// boolKind accepts yes/no (case-insensitive) and canonicalises to lower case.
func boolKind() kind {
	return kind{typ: "yes|no", set: single(func(v string) (string, error) {
		b, err := parseBool(v)
		if err != nil {
			return "", err
		}
		return formatBool(b), nil
	})}
}

func parseBool(v string) (bool, error) {
	switch {
	case asciiEqualFold(v, "yes"):
		return true, nil
	case asciiEqualFold(v, "no"):
		return false, nil
	}
	return false, errors.New(errNotBool)
}

func formatBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// enumKind accepts one of names (case-insensitive). The error lists them
// in the given order, as Redis lists its enum table.
func enumKind(names ...string) kind {
	return kind{typ: strings.Join(names, "|"), set: single(func(v string) (string, error) {
		for _, n := range names {
			if asciiEqualFold(v, n) {
				return n, nil
			}
		}
		return "", fmt.Errorf("argument(s) must be one of the following: %s", strings.Join(names, ", "))
	})}
}

// stringKind accepts any single argument.
func stringKind() kind {
	return kind{typ: "string", set: single(func(v string) (string, error) { return v, nil })}
}

// string2ll parses v as Redis's string2ll: optional '-', no '+', no
// leading zeros or blanks, within int64.
func string2ll(v string) (int64, bool) {
	if v == "" || len(v) > 20 {
		return 0, false
	}
	if v == "0" {
		return 0, true
	}
	neg := v[0] == '-'
	digits := v
	if neg {
		digits = v[1:]
	}
	if digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-uint64(c-'0'))/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true // -(1<<63) wraps to MinInt64 as intended
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// memtoull parses a memory size as Redis 7.0's memtoull: digits followed by
// an optional unit b, k (1000), kb (1024), m, mb, g or gb, case-insensitive.
// No sign, no blanks; an empty digit string is 0 ("" and "kb" are 0). Like
// Redis, a digit string beyond 2^64-1 saturates and the multiplication
// wraps modulo 2^64. A NUL byte ends the value, as it ends a C string.
func memtoull(v string) (uint64, bool) {
	if i := strings.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	if strings.HasPrefix(v, "-") {
		return 0, false
	}
	u := 0
	for u < len(v) && v[u] >= '0' && v[u] <= '9' {
		u++
	}
	var mul uint64
	switch unit := v[u:]; {
	case unit == "" || asciiEqualFold(unit, "b"):
		mul = 1
	case asciiEqualFold(unit, "k"):
		mul = 1000
	case asciiEqualFold(unit, "kb"):
		mul = 1024
	case asciiEqualFold(unit, "m"):
		mul = 1000 * 1000
	case asciiEqualFold(unit, "mb"):
		mul = 1024 * 1024
	case asciiEqualFold(unit, "g"):
		mul = 1000 * 1000 * 1000
	case asciiEqualFold(unit, "gb"):
		mul = 1024 * 1024 * 1024
	default:
		return 0, false
	}
	if u >= 128 { // Redis's digit buffer
		return 0, false
	}
	var n uint64
	for i := 0; i < u; i++ {
		d := uint64(v[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			n = math.MaxUint64 // strtoull saturates on overflow
			break
		}
		n = n*10 + d
	}
	return n * mul, true
}

// strtoll emulates C's strtoll(s, &end, 10) followed by a check that *end is
// the terminator: leading C blanks and a sign are accepted, an empty digit
// string is 0, overflow saturates. ok is false when bytes follow the number.
func strtoll(s string) (int64, bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var u uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if !over {
			d := uint64(s[i] - '0')
			if u > (math.MaxUint64-d)/10 {
				over = true
			} else {
				u = u*10 + d
			}
		}
		i++
	}
	if i == start {
		// No digits: strtoll converts nothing and leaves end at s.
		return 0, s == ""
	}
	if i != len(s) {
		return 0, false
	}
	switch {
	case neg && (over || u > 1<<63):
		return math.MinInt64, true
	case neg:
		return int64(-u), true
	case over || u > math.MaxInt64:
		return math.MaxInt64, true
	}
	return int64(u), true
}

// asciiEqualFold is strcasecmp equality in the C locale.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiToLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = asciiLower(b[j])
			}
			return string(b)
		}
	}
	return s
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
