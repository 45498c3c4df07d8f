package slots

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Range is an inclusive range of slots [Start, End].
type Range struct {
	Start, End int
}

// String formats r as Redis does in CLUSTER NODES: "Start-End", or just
// "Start" when the range holds a single slot.
func (r Range) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	return strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
}

// Valid reports whether 0 <= Start <= End < Count.
func (r Range) Valid() bool {
	return r.Start >= 0 && r.Start <= r.End && r.End < Count
}

// Len returns the number of slots in r (0 if r is empty or inverted).
func (r Range) Len() int {
	if r.End < r.Start {
		return 0
	}
	return r.End - r.Start + 1
}

// Contains reports whether slot lies in r.
func (r Range) Contains(slot int) bool {
	return slot >= r.Start && slot <= r.End
}

// ParseRange parses the output of Range.String: "N" or "A-B" with decimal
// slot numbers (no sign, no spaces). The result is always Valid.
func ParseRange(s string) (Range, error) {
	lo, hi, isPair := strings.Cut(s, "-")
	start, err := parseSlot(lo)
	if err != nil {
		return Range{}, fmt.Errorf("slots: parse range %q: start: %w", s, err)
	}
	end := start
	if isPair {
		if end, err = parseSlot(hi); err != nil {
			return Range{}, fmt.Errorf("slots: parse range %q: end: %w", s, err)
		}
	}
	if start > end {
		return Range{}, fmt.Errorf("slots: parse range %q: start %d is after end %d", s, start, end)
	}
	return Range{Start: start, End: end}, nil
}

func parseSlot(s string) (int, error) {
	// ParseUint rejects signs, spaces and an empty string.
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if v >= Count {
		return 0, fmt.Errorf("slot %d out of range [0, %d]", v, Count-1)
	}
	return int(v), nil
}

// MergeRanges turns a list of slots into the sorted, maximal runs of
// consecutive slots it covers; duplicates are ignored and the input is not
// modified. It returns nil for an empty list. Values are not validated, so
// the caller decides whether out-of-range slots are an error.
func MergeRanges(slotList []int) []Range {
	if len(slotList) == 0 {
		return nil
	}
	sorted := slices.Clone(slotList)
	slices.Sort(sorted)
	var out []Range
	cur := Range{Start: sorted[0], End: sorted[0]}
	for _, s := range sorted[1:] {
		switch {
		case s == cur.End: // duplicate
		case s == cur.End+1:
			cur.End = s
		default:
			out = append(out, cur)
			cur = Range{Start: s, End: s}
		}
	}
	return append(out, cur)
}
