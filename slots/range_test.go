package slots

import (
	"slices"
	"testing"
)

func TestRangeString(t *testing.T) {
	cases := map[Range]string{
		{0, 100}:       "0-100",
		{5, 5}:         "5",
		{0, Count - 1}: "0-16383",
		{16383, 16383}: "16383",
	}
	for r, want := range cases {
		if got := r.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", r, got, want)
		}
		back, err := ParseRange(want)
		if err != nil || back != r {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", want, back, err, r)
		}
	}
}

func TestParseRangeRejects(t *testing.T) {
	for _, s := range []string{
		"", "-", "5-", "-5", "a", "1-b", "+5", " 5", "5 ", "10-5",
		"16384", "0-16384", "1-2-3", "99999999999999999999",
	} {
		if r, err := ParseRange(s); err == nil {
			t.Errorf("ParseRange(%q) = %v, want error", s, r)
		}
	}
}

func TestRangeHelpers(t *testing.T) {
	r := Range{10, 12}
	if r.Len() != 3 || !r.Contains(10) || !r.Contains(12) || r.Contains(9) || r.Contains(13) {
		t.Errorf("Len/Contains wrong for %v", r)
	}
	if (Range{3, 2}).Len() != 0 {
		t.Error("inverted range has non-zero Len")
	}
	for _, bad := range []Range{{-1, 0}, {3, 2}, {0, Count}} {
		if bad.Valid() {
			t.Errorf("%#v reported valid", bad)
		}
	}
	if !(Range{0, Count - 1}).Valid() {
		t.Error("full range reported invalid")
	}
}

func TestMergeRanges(t *testing.T) {
	cases := []struct {
		in   []int
		want []Range
	}{
		{nil, nil},
		{[]int{7}, []Range{{7, 7}}},
		{[]int{3, 1, 2, 2, 10, 9, 5}, []Range{{1, 3}, {5, 5}, {9, 10}}},
		{[]int{0, 16383, 16382}, []Range{{0, 0}, {16382, 16383}}},
		{[]int{4, 4, 4}, []Range{{4, 4}}},
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		got := MergeRanges(in)
		if !slices.Equal(got, c.want) {
			t.Errorf("MergeRanges(%v) = %v, want %v", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("MergeRanges modified its input: %v -> %v", c.in, in)
		}
	}
}
