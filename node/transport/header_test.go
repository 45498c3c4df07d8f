package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []header{
		{kind: KindRaft, group: 0, source: "10.0.0.1:7000"},
		{kind: KindRaft, group: 1<<32 - 1},
		{kind: 2, source: strings.Repeat("x", maxSourceLen)},
		{kind: 255},
	} {
		b, err := h.append(nil)
		if err != nil {
			t.Fatalf("encode %+v: %v", h, err)
		}
		if !bytes.HasPrefix(b, []byte{'T', 'K', HeaderVersion, h.kind}) {
			t.Fatalf("prefix of %x", b)
		}
		got, err := readHeader(bytes.NewReader(append(b, "payload"...)))
		if err != nil || got != h {
			t.Fatalf("decode %+v: got %+v, %v", h, got, err)
		}
	}
}

func TestHeaderEncodeRejects(t *testing.T) {
	for _, h := range []header{
		{kind: 0},
		{kind: 3, group: 1},
		{kind: KindRaft, source: strings.Repeat("x", maxSourceLen+1)},
		{kind: KindRaft, source: "\xff"},
	} {
		if _, err := h.append(nil); !errors.Is(err, ErrBadHeader) {
			t.Errorf("%+v: err = %v", h, err)
		}
	}
}

func TestHeaderDecodeRejects(t *testing.T) {
	valid, _ := header{kind: KindRaft, group: 5, source: "a:1"}.append(nil)
	for n := 0; n < len(valid); n++ {
		if _, err := readHeader(bytes.NewReader(valid[:n])); !errors.Is(err, ErrBadHeader) {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
	mutate := func(i int, v byte) []byte {
		b := append([]byte(nil), valid...)
		b[i] = v
		return b
	}
	cases := map[string][]byte{
		"magic":            mutate(0, 'X'),
		"magic2":           mutate(1, 'X'),
		"version":          mutate(2, 2),
		"kind 0":           mutate(3, 0),
		"group, non-raft":  mutate(3, 9),
		"source not utf-8": mutate(9, 0xff),
		"http":             []byte("GET / HTTP/1.1\r\n\r\n"),
		"redis":            []byte("*1\r\n$4\r\nPING\r\n"),
	}
	for name, b := range cases {
		if _, err := readHeader(bytes.NewReader(b)); !errors.Is(err, ErrBadHeader) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzReadHeader(f *testing.F) {
	for _, h := range []header{{kind: KindRaft, group: 3, source: "127.0.0.1:1"}, {kind: 7}} {
		b, _ := h.append(nil)
		f.Add(b)
	}
	f.Add([]byte("TK\x01\x01\x00\x00\x00\x01\xff"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := readHeader(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("error does not wrap ErrBadHeader: %v", err)
			}
			return
		}
		enc, err := h.append(nil)
		if err != nil {
			t.Fatalf("accepted header %+v does not re-encode: %v", h, err)
		}
		if !bytes.HasPrefix(b, enc) {
			t.Fatalf("re-encoding %x is not a prefix of the input %x", enc, b)
		}
	})
}
