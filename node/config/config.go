package config

import (
	"errors"
	"fmt"
	"github.com/troika-db/troika/fsm"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is a parsed configuration: one canonical value per directive
// (the text CONFIG GET shows, with "dir" as configured). The zero value is
// not useful; use Default, Parse or Load. A Config is not safe for
// concurrent mutation; share it through a Store.
type Config struct {
	vals map[string]string
	// File is the absolute path of the configuration file given to Load,
	// or "" when there was none.
	File string
}

// Default returns a Config holding every directive's default.
func Default() *Config {
	c := &Config{vals: make(map[string]string, len(table))}
	for i := range table {
		d := &table[i]
		args := []string{d.Default}
		if d.multi && d.Default != "" {
			args, _ = fsm.SplitArgs(d.Default)
		}
		v, err := d.set(args, "", false)
		if err != nil {
			panic(fmt.Sprintf("config: bad default for %s: %v", d.Name, err))
		}
		c.vals[d.Name] = v
	}
	return c
}

func (c *Config) clone() *Config {
	n := &Config{vals: make(map[string]string, len(c.vals)), File: c.File}
	for k, v := range c.vals {
		n.vals[k] = v
	}
	return n
}

// Error is a configuration error. Its text mirrors what redis-server prints
// after "*** FATAL CONFIG FILE ERROR ***": the line number, the offending
// line and the reason, e.g.
//
//	Reading the configuration file, at line 2
//	>>> 'port "abc"'
//	argument couldn't be parsed into an integer
//
// Line numbers count over the configuration file, then stdin, then the
// command-line options (one line each), exactly as Redis counts them.
type Error struct {
	File      string // included file the line is in; "" for the main text
	Line      int    // 1-based; 0 when the error is about the whole configuration
	Text      string // the offending line, trimmed
	Directive string // lower-case directive name, "" when unknown
	Msg       string // the reason, in Redis's words where Redis has them
	Err       error  // underlying cause (I/O errors), if any
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Reading the configuration file, at line %d", e.Line)
	if e.File != "" {
		fmt.Fprintf(&b, " of included file '%s'", e.File)
	}
	fmt.Fprintf(&b, "\n>>> '%s'\n%s", e.Text, e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// FatalReport formats err the way redis-server reports a bad
// configuration before exiting with status 1; version goes into the banner
// (e.g. "Troika 0.1.0").
func FatalReport(err error, version string) string {
	return fmt.Sprintf("\n*** FATAL CONFIG FILE ERROR (%s) ***\n%s\n", version, err.Error())
}

// Parse parses the text of a configuration file over the defaults.
// Include paths are relative to the process's working directory, as in
// Redis.
func Parse(text string) (*Config, error) {
	c := Default()
	if err := c.apply(text, "", 0); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load builds the configuration from the command line exactly as
// redis-server does; args excludes the program name:
//
//	troika-server [/path/to/troika.conf] [-] [--directive value ...]
//
// A first argument that does not start with '-' is the configuration file.
// A "-" as the first or last argument appends stdin to the file's text.
// Every "--name value..." is then appended as one more line (values quoted
// as Redis quotes them), so options override the file. A lone "--save"
// followed by another option, or last, means `save ""`. Handling -v,
// --version, -h and --help is left to the binary.
func Load(args []string, stdin io.Reader) (*Config, error) {
	c := Default()
	if len(args) == 0 {
		return c, nil
	}
	var text strings.Builder
	j := 0
	if args[0] == "" || args[0][0] != '-' {
		abs, err := filepath.Abs(args[0])
		if err != nil {
			return nil, fmt.Errorf("config file path %q: %w", args[0], err)
		}
		c.File = abs
		data, err := readFile(args[0])
		if err != nil {
			return nil, err
		}
		text.WriteString(data)
		j = 1
	}
	fromStdin := false
	var opts strings.Builder
	handledLast := true
	for ; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "-" && (j == 0 || j == len(args)-1):
			fromStdin = true
		case handledLast && strings.HasPrefix(a, "--"):
			if opts.Len() > 0 {
				opts.WriteByte('\n')
			}
			opts.WriteString(a[2:])
			opts.WriteByte(' ')
			if words, err := fsm.SplitArgs(a); err != nil || len(words) != 1 {
				// "--port 6380" in one argument carries its own value.
				handledLast = true
				continue
			}
			handledLast = false
			if asciiEqualFold(a, "--save") {
				nextIsOption := j+1 < len(args) && strings.HasPrefix(args[j+1], "--")
				if nextIsOption || j == len(args)-1 {
					opts.WriteString(`""`)
					handledLast = nextIsOption
				}
			}
		default:
			opts.WriteString(fsm.Quote(a))
			opts.WriteByte(' ')
			handledLast = true
		}
	}
	if fromStdin {
		if stdin == nil {
			return nil, errors.New("config: reading the configuration from stdin: no stdin")
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("config: reading the configuration from stdin: %w", err)
		}
		text.Write(data)
	}
	text.WriteByte('\n')
	text.WriteString(opts.String())
	if err := c.apply(text.String(), "", 0); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Usage returns the command-line help text, in redis-server's words;
// prog is the program name as invoked.
func Usage(prog string) string {
	return fmt.Sprintf(`Usage: %[1]s [/path/to/troika.conf] [options] [-]
       %[1]s - (read config from stdin)
       %[1]s -v or --version
       %[1]s -h or --help

Examples:
       %[1]s (run the server with default config)
       %[1]s /etc/troika/6379.conf
       %[1]s --port 7777
       %[1]s --port 7777 --cluster-join 10.0.0.1:17777
       %[1]s /etc/mytroika.conf --loglevel verbose -
       %[1]s /etc/mytroika.conf --loglevel verbose
`, prog)
}

// readFile reads a configuration file, with Redis's wording on failure.
func readFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		cause := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			cause = pe.Err
		}
		return "", fmt.Errorf("can't open config file '%s': %w", path, cause)
	}
	return string(data), nil
}

// apply parses text line by line (Redis's loadServerConfigFromString)
// into c. file names the included file the text comes from, for errors.
func (c *Config) apply(text, file string, depth int) error {
	lines := strings.Split(text, "\n")
	for i, raw := range lines {
		if k := strings.IndexByte(raw, 0); k >= 0 {
			raw = raw[:k] // Redis reads lines as C strings
		}
		line := strings.Trim(raw, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		fail := func(dir, msg string, cause error) error {
			return &Error{File: file, Line: i + 1, Text: line, Directive: dir, Msg: msg, Err: cause}
		}
		args, err := fsm.SplitArgs(line)
		if err != nil {
			// Name the directive as best we can: the line's first word.
			first, _, _ := strings.Cut(strings.TrimLeft(line, " \t\v\f"), " ")
			return fail(asciiToLower(first), "Unbalanced quotes in configuration line", err)
		}
		if len(args) == 0 {
			continue
		}
		name := asciiToLower(args[0])
		if d := byName[name]; d != nil {
			vals := args[1:]
			if !d.multi && len(vals) != 1 {
				return fail(name, "wrong number of arguments", nil)
			}
			if d.multi && len(vals) == 1 && vals[0] != "" {
				// `bind "a b"` (and every --bind a b) splits again.
				if vals, err = fsm.SplitArgs(vals[0]); err != nil {
					return fail(name, "Unbalanced quotes in configuration line", err)
				}
			}
			v, err := d.set(vals, c.vals[name], true)
			if err != nil {
				return fail(name, err.Error(), nil)
			}
			c.vals[name] = v
			continue
		}
		if name == "include" && len(args) == 2 {
			if err := c.include(args[1], depth); err != nil {
				var ce *Error
				if errors.As(err, &ce) {
					return err
				}
				return fail(name, err.Error(), err)
			}
			continue
		}
		return fail(name, "Bad directive or wrong number of arguments", nil)
	}
	return nil
}

// include applies one include directive: a path, or a glob pattern whose
// matches are applied in sorted order (no match is not an error).
func (c *Config) include(path string, depth int) error {
	if depth >= maxIncludeDepth {
		return fmt.Errorf("include nesting deeper than %d levels (an include cycle?)", maxIncludeDepth)
	}
	paths := []string{path}
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return fmt.Errorf("bad include pattern '%s': %w", path, err)
		}
		paths = m
	}
	for _, p := range paths {
		data, err := readFile(p)
		if err != nil {
			return err
		}
		if err := c.apply(data, p, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// check validates relations between directives once everything is read.
func (c *Config) check() error {
	port, cport := c.Int("port"), c.Int("cluster-port")
	if cport == 0 && port > 65535-10000 {
		return &Error{Directive: "port", Msg: fmt.Sprintf(
			"port %d is too high: with cluster-port 0 the cluster bus listens on port+10000, so port must be 55535 or less (or set cluster-port)", port)}
	}
	if e, h := c.Int("raft-election-timeout"), c.Int("raft-heartbeat-timeout"); e < h {
		return &Error{Directive: "raft-election-timeout", Msg: fmt.Sprintf(
			"raft-election-timeout (%d) must be greater than or equal to raft-heartbeat-timeout (%d)", e, h)}
	}
	return c.checkUnsafe()
}

// String returns the canonical value of a directive (as CONFIG GET shows
// it, except that "dir" is as configured). It panics on an unknown name:
// that is a programming error.
func (c *Config) String(name string) string {
	v, ok := c.vals[asciiToLower(name)]
	if !ok {
		panic("config: unknown directive " + strconv.Quote(name))
	}
	return v
}

// Int returns an integer or memory directive; memory values beyond
// math.MaxInt64 (only maxmemory allows them) are capped.
func (c *Config) Int(name string) int64 {
	v := c.String(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if u, uerr := strconv.ParseUint(v, 10, 64); uerr == nil && u > 0 {
			return 1<<63 - 1
		}
		panic(fmt.Sprintf("config: directive %s is not an integer: %q", name, v))
	}
	return n
}

// Bytes returns a memory directive in bytes.
func (c *Config) Bytes(name string) uint64 {
	v := c.String(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("config: directive %s is not a memory size: %q", name, v))
	}
	return n
}

// Bool returns a yes/no directive.
func (c *Config) Bool(name string) bool {
	return c.String(name) == "yes"
}
