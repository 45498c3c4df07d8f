package resp

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Redis's slow log entry bounds.
const (
	slowlogMaxArgc   = 32
	slowlogMaxString = 128
)

type slowlogEntry struct {
	id       int64
	time     int64 // unix seconds
	duration int64 // microseconds
	args     []string
	addr     string
	name     string
}

// slowlog is Redis's SLOWLOG: the newest entries first, bounded.
type slowlog struct {
	slowerThan atomic.Int64 // microseconds; negative disables, 0 logs all
	mu         sync.Mutex
	maxLen     int
	nextID     int64
	entries    []slowlogEntry // newest last
}

func (l *slowlog) init(slowerThanUS int64, maxLen int) {
	l.slowerThan.Store(slowerThanUS)
	l.maxLen = maxLen
}

func (l *slowlog) setMaxLen(n int) {
	l.mu.Lock()
	l.maxLen = n
	l.trim()
	l.mu.Unlock()
}

func (l *slowlog) trim() {
	if over := len(l.entries) - l.maxLen; over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
}

// maybeAdd logs a command that took us microseconds if it is slow enough.
func (l *slowlog) maybeAdd(c *conn, cmd *Command, args [][]byte, us int64) {
	th := l.slowerThan.Load()
	if th < 0 || us < th {
		return
	}
	e := slowlogEntry{time: time.Now().Unix(), duration: us, addr: c.addr, name: c.snapshot().name}
	argc := min(len(args), slowlogMaxArgc)
	redactFrom := redactedFrom(cmd, args)
	for j := range argc {
		var s string
		switch {
		case argc != len(args) && j == argc-1:
			s = fmt.Sprintf("... (%d more arguments)", len(args)-argc+1)
		case j >= redactFrom && (cmd.Name != "hello" || j <= redactFrom+1):
			s = "(redacted)"
		case len(args[j]) > slowlogMaxString:
			s = fmt.Sprintf("%s... (%d more bytes)", args[j][:slowlogMaxString], len(args[j])-slowlogMaxString)
		default:
			s = string(args[j])
		}
		e.args = append(e.args, s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	l.trim()
}

// redactedFrom returns the first argument position that must not appear in
// the slow log (passwords), or len(args) when there is none.
func redactedFrom(cmd *Command, args [][]byte) int {
	switch cmd.Name {
	case "auth":
		return 1
	case "hello":
		for i := 2; i+2 < len(args); i++ {
			if lowerASCII(args[i]) == "auth" {
				return i + 1
			}
		}
	}
	return len(args)
}

// get returns up to n entries, newest first (n < 0: all).
func (l *slowlog) get(n int64) []slowlogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > int64(len(l.entries)) {
		n = int64(len(l.entries))
	}
	out := make([]slowlogEntry, 0, n)
	for i := len(l.entries) - 1; i >= 0 && int64(len(out)) < n; i-- {
		out = append(out, l.entries[i])
	}
	return out
}

func (l *slowlog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *slowlog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}
