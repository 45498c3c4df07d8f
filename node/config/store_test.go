package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

// settings is resp.Settings, restated so that a mismatch fails to compile.
type settings interface {
	Get(pattern string) [][2]string
	Set(name, value string) error
}

var _ settings = (*Store)(nil)

func names(pairs [][2]string) []string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0]
	}
	return out
}

func TestStoreGet(t *testing.T) {
	c, err := Parse("port 7000\nmaxmemory 2kb\nprotected-mode no\nsave 60 1\n")
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(c)
	cases := []struct {
		pattern string
		want    [][2]string
	}{
		{"port", [][2]string{{"port", "7000"}}},
		{"PORT", [][2]string{{"PORT", "7000"}}}, // Redis echoes the name as asked
		{"nosuch", nil},
		{"po\\rt", nil}, // no glob character: a plain (failed) lookup
		{"p[o]rt", [][2]string{{"port", "7000"}}},
		{"P?RT", [][2]string{{"port", "7000"}}},
		{"maxmemory", [][2]string{{"maxmemory", "2048"}}},
		{"proto-max-bulk-len", [][2]string{{"proto-max-bulk-len", "536870912"}}},
		{"protected-mode", [][2]string{{"protected-mode", "no"}}},
		{"save", [][2]string{{"save", "60 1"}}},
		{"bind", [][2]string{{"bind", "* -::*"}}},
		{"*max*", [][2]string{{"maxclients", "10000"}, {"maxmemory", "2048"}, {"proto-max-bulk-len", "536870912"}, {"slowlog-max-len", "128"}}},
		{"RAFT-*-TIMEOUT", [][2]string{{"raft-election-timeout", "1000"}, {"raft-heartbeat-timeout", "1000"}}},
		{"cluster-announce-*", [][2]string{{"cluster-announce-bus-port", "0"}, {"cluster-announce-ip", ""}, {"cluster-announce-port", "0"}}},
		{"[", nil},
	}
	for _, tc := range cases {
		if got := s.Get(tc.pattern); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Get(%q) = %q, want %q", tc.pattern, got, tc.want)
		}
	}
	all := s.Get("*")
	if len(all) != len(Directives()) {
		t.Fatalf("Get(*) has %d entries, want %d", len(all), len(Directives()))
	}
	for i, d := range Directives() {
		if all[i][0] != d.Name {
			t.Fatalf("Get(*) not sorted by name: %q", names(all))
		}
	}
	abs, _ := filepath.Abs("./")
	if got := s.Get("dir"); got[0][1] != abs {
		t.Errorf("dir = %q, want the absolute %q", got[0][1], abs)
	}
}

func TestStoreSet(t *testing.T) {
	s := NewStore(Default())
	type change struct{ name, value string }
	var seen []change
	s.OnChange(func(name, value string) {
		// Subscribers see the new value already.
		if got := s.Get(name); got[0][1] != value {
			t.Errorf("in OnChange, Get(%s) = %q, want %q", name, got[0][1], value)
		}
		seen = append(seen, change{name, value})
	})
	ok := []struct{ name, value, shown string }{
		{"requirepass", "s3cret", "s3cret"},
		{"Protected-Mode", "NO", "no"},
		{"hz", "1000", "500"},
		{"hz", "0", "1"},
		{"proto-max-bulk-len", "4gb", "4294967296"},
		{"maxmemory", "1K", "1000"},
		{"save", "3600 1 300 10", "3600 1 300 10"},
		{"save", "", ""},
		{"cluster-mode", "AP", "ap"},
		{"slowlog-log-slower-than", "-1", "-1"},
		{"requirepass", "", ""},
	}
	for _, c := range ok {
		if err := s.Set(c.name, c.value); err != nil {
			t.Errorf("Set(%s, %q): %v", c.name, c.value, err)
			continue
		}
		if got := s.Get(c.name); len(got) != 1 || got[0][1] != c.shown {
			t.Errorf("after Set(%s, %q): Get = %q, want %q", c.name, c.value, got, c.shown)
		}
	}
	if len(seen) != len(ok) {
		t.Fatalf("OnChange saw %d changes, want %d: %v", len(seen), len(ok), seen)
	}
	if seen[1] != (change{"protected-mode", "no"}) || seen[2] != (change{"hz", "500"}) {
		t.Errorf("OnChange gets canonical names and values: %v", seen[:3])
	}
	v := s.Values()
	if v.ProtectedMode || v.Hz != 1 || v.ProtoMaxBulkLen != 4<<30 || v.MaxMemory != 1000 || v.ClusterMode != ModeAP {
		t.Errorf("Values after Set: %+v", v)
	}

	bad := []struct {
		name, value, text string
		kind              error
	}{
		{"foo", "bar", "Unknown option or number of arguments for CONFIG SET - 'foo'", ErrUnknownDirective},
		{"PORT", "7000", "CONFIG SET failed (possibly related to argument 'PORT') - can't set immutable config", ErrImmutable},
		{"daemonize", "yes", "CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config", ErrImmutable},
		{"protected-mode", "maybe", "CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'", ErrInvalidValue},
		{"hz", "-1", "CONFIG SET failed (possibly related to argument 'hz') - argument must be between 0 and 2147483647 inclusive", ErrInvalidValue},
		{"maxmemory", "abc", "CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value", ErrInvalidValue},
		{"proto-max-bulk-len", "1k", "CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive", ErrInvalidValue},
		{"timeout", "abc", "CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer", ErrInvalidValue},
		{"cluster-mode", "x", "CONFIG SET failed (possibly related to argument 'cluster-mode') - argument(s) must be one of the following: cp, ap", ErrInvalidValue},
		{"save", "3600", "CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters", ErrInvalidValue},
		{"save", "3600  1", "CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters", ErrInvalidValue}, // split on single spaces
	}
	before := s.Config()
	for _, c := range bad {
		err := s.Set(c.name, c.value)
		if err == nil || err.Error() != c.text || !errors.Is(err, c.kind) {
			t.Errorf("Set(%s, %q) = %v, want %q", c.name, c.value, err, c.text)
		}
	}
	if !reflect.DeepEqual(before.vals, s.Config().vals) {
		t.Errorf("failed Sets changed the configuration")
	}
	if len(seen) != len(ok) {
		t.Errorf("failed Sets notified subscribers")
	}
}

func TestStoreConcurrent(t *testing.T) {
	s := NewStore(Default())
	var mu sync.Mutex
	last := ""
	s.OnChange(func(_, value string) {
		mu.Lock()
		last = value
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := s.Set("timeout", "7"); err != nil {
					t.Error(err)
					return
				}
				_ = s.Get("*")
				_ = s.Values()
			}
		}()
	}
	wg.Wait()
	if last != "7" || s.Values().Timeout.Seconds() != 7 {
		t.Errorf("last notified %q, timeout %v", last, s.Values().Timeout)
	}
}
