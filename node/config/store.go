package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/troika-db/troika/fsm"
)

// Errors a Store's Set wraps, for errors.Is; the texts clients see are
// Redis's and come from the wrapping error.
var (
	ErrUnknownDirective = errors.New("unknown directive")
	ErrImmutable        = errors.New("immutable directive")
	ErrInvalidValue     = errors.New("invalid value")
)

// setError carries Redis's exact CONFIG SET error text and a sentinel kind.
type setError struct {
	text string
	kind error
}

func (e *setError) Error() string { return e.text }
func (e *setError) Unwrap() error { return e.kind }

// Store is the live configuration behind CONFIG GET and CONFIG SET. It is
// safe for concurrent use. It satisfies resp.Settings.
type Store struct {
	setMu sync.Mutex // serialises Set with its notifications, so they arrive in order
	mu    sync.RWMutex
	cfg   *Config
	subs  []func(name, value string)
}

// NewStore returns a Store starting from a copy of c.
func NewStore(c *Config) *Store {
	return &Store{cfg: c.clone()}
}

// Config returns a copy of the current configuration.
func (s *Store) Config() *Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg.clone()
}

// Values returns a typed snapshot of the current configuration.
func (s *Store) Values() Values {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg.Values()
}

// OnChange registers fn to be called after every successful Set with the
// directive's canonical name and its new value as CONFIG GET shows it.
// Calls are synchronous, in registration order, after the new value is
// visible to Get; fn may call Get or Values but must not call Set.
func (s *Store) OnChange(fn func(name, value string)) {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.subs = append(s.subs, fn)
}

// Get returns name/value pairs, sorted by name, of every directive whose
// name matches the glob pattern case-insensitively. Like Redis 7.0, a
// pattern without any of "*?[" is looked up as a plain name, and the reply
// then carries the name as the caller spelled it.
func (s *Store) Get(pattern string) [][2]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !strings.ContainsAny(pattern, "*?[") {
		if d := lookup(pattern); d != nil {
			return [][2]string{{pattern, s.cfg.formatGet(d.Name)}}
		}
		return nil
	}
	var out [][2]string
	for i := range table {
		name := table[i].Name
		if fsm.GlobMatchString(pattern, name, true) {
			out = append(out, [2]string{name, s.cfg.formatGet(name)})
		}
	}
	return out
}

// Set changes a runtime-changeable directive. The error texts are Redis
// 7.0's CONFIG SET texts (without the "ERR " prefix). Like Redis, the
// value of a multi-argument directive (save) is split on single spaces.
func (s *Store) Set(name, value string) error {
	d := lookup(name)
	if d == nil {
		return &setError{fmt.Sprintf("Unknown option or number of arguments for CONFIG SET - '%s'", name), ErrUnknownDirective}
	}
	if !d.Runtime {
		return &setError{fmt.Sprintf("CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", name), ErrImmutable}
	}
	args := []string{value}
	if d.multi {
		args = nil
		if value != "" {
			args = strings.Split(value, " ")
		}
	}
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.mu.Lock()
	v, err := d.set(args, s.cfg.vals[d.Name], false)
	if err == nil {
		err = unsafeRefusal(d.Name, v, s.cfg.vals["debug-unsafe"] == "yes")
	}
	if err != nil {
		s.mu.Unlock()
		return &setError{fmt.Sprintf("CONFIG SET failed (possibly related to argument '%s') - %s", name, err), ErrInvalidValue}
	}
	s.cfg.vals[d.Name] = v
	shown := s.cfg.formatGet(d.Name)
	subs := s.subs
	s.mu.Unlock()
	for _, fn := range subs {
		fn(d.Name, shown)
	}
	return nil
}

// absDir is dir as CONFIG GET shows it: absolute, like Redis's getcwd after
// chdir.
func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
