package slots

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
)

// MaxGroup is the largest group id a Map can hold.
const MaxGroup = 1<<16 - 1

// mapEncodingVersion is the first byte of Map's binary encoding.
const mapEncodingVersion = 1

// errMap is wrapped by every UnmarshalBinary error.
var errMap = errors.New("slots: malformed map encoding")

// Map assigns every slot to a group id. The zero Map assigns every slot to
// group 0.
//
// Map is a value type: assignment copies the whole table and == compares
// it. Methods use pointer receivers only to avoid copying 32 KiB per call.
type Map struct {
	groups [Count]uint16
}

// GroupRange is a maximal run of consecutive slots owned by one group.
type GroupRange struct {
	Range
	Group int
}

// String formats g as "Start-End:Group".
func (g GroupRange) String() string {
	return g.Range.String() + ":" + strconv.Itoa(g.Group)
}

// Even spreads all slots over groups 0..groups-1 in contiguous blocks that
// are as even as possible: group i owns [i*Count/groups, (i+1)*Count/groups-1].
// It panics unless 1 <= groups <= Count.
func Even(groups int) Map {
	if groups < 1 || groups > Count {
		panic(fmt.Sprintf("slots: Even(%d): group count must be in [1, %d]", groups, Count))
	}
	var m Map
	for g := range groups {
		for s := g * Count / groups; s < (g+1)*Count/groups; s++ {
			m.groups[s] = uint16(g)
		}
	}
	return m
}

// Group returns the group owning slot. It panics if slot is not in [0, Count).
func (m *Map) Group(slot int) int {
	return int(m.groups[slot])
}

// Set assigns every slot of r to group. It panics if r is not Valid or group
// is not in [0, MaxGroup]; callers handling untrusted input check first.
func (m *Map) Set(r Range, group int) {
	if !r.Valid() {
		panic(fmt.Sprintf("slots: Set: invalid range %d-%d", r.Start, r.End))
	}
	if group < 0 || group > MaxGroup {
		panic(fmt.Sprintf("slots: Set: group %d out of range [0, %d]", group, MaxGroup))
	}
	g := uint16(group)
	for s := r.Start; s <= r.End; s++ {
		m.groups[s] = g
	}
}

// Ranges lists the maximal runs of consecutive slots with the same group,
// in slot order. The runs cover every slot exactly once.
func (m *Map) Ranges() []GroupRange {
	var out []GroupRange
	start := 0
	for s := 1; s <= Count; s++ {
		if s == Count || m.groups[s] != m.groups[start] {
			out = append(out, GroupRange{Range: Range{Start: start, End: s - 1}, Group: int(m.groups[start])})
			start = s
		}
	}
	return out
}

// RangesOf lists, in slot order, the maximal runs of slots owned by group;
// nil if it owns none.
func (m *Map) RangesOf(group int) []Range {
	var out []Range
	for _, gr := range m.Ranges() {
		if gr.Group == group {
			out = append(out, gr.Range)
		}
	}
	return out
}

// Groups returns the distinct group ids owning at least one slot, sorted.
func (m *Map) Groups() []int {
	var out []int
	for _, gr := range m.Ranges() {
		out = append(out, gr.Group)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MarshalBinary encodes m canonically: a version byte (1), then one pair
// of uvarints (group, run length) per maximal run, in slot order. Equal
// Maps produce equal bytes; an Even map takes a few bytes per group.
func (m *Map) MarshalBinary() ([]byte, error) {
	runs := m.Ranges()
	out := make([]byte, 0, 1+len(runs)*2*binary.MaxVarintLen16)
	out = append(out, mapEncodingVersion)
	for _, gr := range runs {
		out = binary.AppendUvarint(out, uint64(gr.Group))
		out = binary.AppendUvarint(out, uint64(gr.Len()))
	}
	return out, nil
}

// UnmarshalBinary decodes the output of MarshalBinary. It accepts only the
// canonical encoding (minimal varints, non-empty runs, no two adjacent runs
// with the same group, runs covering exactly Count slots, no trailing
// bytes) and returns an error for anything else. On error m is unchanged.
func (m *Map) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty input", errMap)
	}
	if data[0] != mapEncodingVersion {
		return fmt.Errorf("%w: unsupported version %d", errMap, data[0])
	}
	var dec Map
	pos, slot, prev := 1, 0, -1
	for slot < Count {
		group, err := readUvarint(data, &pos)
		if err != nil {
			return fmt.Errorf("%w: group of run at slot %d: %w", errMap, slot, err)
		}
		n, err := readUvarint(data, &pos)
		if err != nil {
			return fmt.Errorf("%w: length of run at slot %d: %w", errMap, slot, err)
		}
		switch {
		case group > MaxGroup:
			return fmt.Errorf("%w: run at slot %d: group %d exceeds %d", errMap, slot, group, MaxGroup)
		case n == 0:
			return fmt.Errorf("%w: run at slot %d is empty", errMap, slot)
		case n > uint64(Count-slot):
			return fmt.Errorf("%w: run at slot %d of %d slots passes slot %d", errMap, slot, n, Count-1)
		case int(group) == prev:
			return fmt.Errorf("%w: run at slot %d repeats group %d of the previous run", errMap, slot, group)
		}
		for end := slot + int(n); slot < end; slot++ {
			dec.groups[slot] = uint16(group)
		}
		prev = int(group)
	}
	if pos != len(data) {
		return fmt.Errorf("%w: %d trailing bytes", errMap, len(data)-pos)
	}
	*m = dec
	return nil
}

// readUvarint decodes a minimally encoded uvarint at data[*pos:] and
// advances *pos past it.
func readUvarint(data []byte, pos *int) (uint64, error) {
	v, n := binary.Uvarint(data[*pos:])
	switch {
	case n == 0:
		return 0, errors.New("truncated varint")
	case n < 0:
		return 0, errors.New("varint overflows 64 bits")
	case n != uvarintLen(v):
		return 0, errors.New("non-minimal varint")
	}
	*pos += n
	return v, nil
}

func uvarintLen(v uint64) int {
	return max(1, (bits.Len64(v)+6)/7)
}
