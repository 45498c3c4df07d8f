package resp

import (
	"testing"
)

// FuzzReader feeds arbitrary bytes, split at an arbitrary point, to the
// request reader under tight limits. It must never panic, never allocate
// beyond what it was given, and must parse the same requests whether the
// input arrives whole or in two pieces.
func FuzzReader(f *testing.F) {
	seeds := []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"PING\r\nset a \"b c\"\r\nget 'x'\r\n",
		"*1\r\n$9223372036854775807\r\n",
		"*1\r\n$-1\r\n",
		"*-1\r\n",
		"*-9223372036854775808\r\n",
		"*1\r\n$-9223372036854775808\r\n",
		"*99999999999999999999\r\n",
		"*2\r\n$3\r\nGET\r\n:1\r\n",
		"ECHO \"\\x4",
		"\r\n\n\r\r\r",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint16(len(s)/2), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, unauth bool) {
		lim := readLimits{maxBulk: 1 << 16, maxMultibulk: 1 << 12, unauth: unauth}
		whole, errWhole := parseAll(string(data), lim)

		cut := int(split) % (len(data) + 1)
		var r reader
		r.feed(data[:cut])
		first, errFirst := drain(&r, lim)
		if errFirst != nil {
			// An error in a prefix must also be an error for the whole input.
			if errWhole == nil {
				t.Fatalf("prefix failed with %v but the whole input parsed", errFirst)
			}
			return
		}
		r.feed(data[cut:])
		rest, errRest := drain(&r, lim)
		got := append(first, rest...)
		if (errRest == nil) != (errWhole == nil) || len(got) != len(whole) {
			t.Fatalf("split at %d: %d requests (err %v), whole: %d requests (err %v)",
				cut, len(got), errRest, len(whole), errWhole)
		}
		for i := range got {
			if len(got[i]) != len(whole[i]) {
				t.Fatalf("request %d differs: %q vs %q", i, got[i], whole[i])
			}
			for j := range got[i] {
				if got[i][j] != whole[i][j] {
					t.Fatalf("request %d differs: %q vs %q", i, got[i], whole[i])
				}
			}
		}
		if c := cap(r.buf); c > 4*len(data)+readChunk {
			t.Fatalf("buffer capacity %d for %d input bytes", c, len(data))
		}
	})
}
