package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Reply is one RESP2 reply.
type Reply struct {
	// Kind is the RESP type byte: '+', '-', ':', '$' or '*'.
	Kind  byte
	Str   string // simple string, error text or bulk string
	Int   int64
	Nil   bool // a null bulk string or null array
	Array []Reply
}

// IsErr reports whether r is an error reply.
func (r Reply) IsErr() bool { return r.Kind == '-' }

// ErrPrefix returns the first word of an error reply ("MOVED", "ERR", ...).
func (r Reply) ErrPrefix() string {
	if r.Kind != '-' {
		return ""
	}
	if i := strings.IndexByte(r.Str, ' '); i >= 0 {
		return r.Str[:i]
	}
	return r.Str
}

func (r Reply) String() string {
	switch r.Kind {
	case '+':
		return r.Str
	case '-':
		return "(error) " + r.Str
	case ':':
		return strconv.FormatInt(r.Int, 10)
	case '$':
		if r.Nil {
			return "(nil)"
		}
		return strconv.Quote(r.Str)
	case '*':
		if r.Nil {
			return "(nil array)"
		}
		parts := make([]string, len(r.Array))
		for i, e := range r.Array {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("(kind %q)", r.Kind)
}

// ErrNotSent marks an error raised before any byte of the request was
// written: the command certainly did not run.
var ErrNotSent = errors.New("request not sent")

// Conn is one RESP connection. It is not safe for concurrent use.
type Conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	dead bool
	// interrupted is set by Interrupt (any goroutine).
	interrupted atomic.Bool
}

// Dial connects to addr within timeout.
func Dial(ctx context.Context, addr string, timeout time.Duration) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w: %w", addr, ErrNotSent, err)
	}
	return &Conn{addr: addr, c: c, r: bufio.NewReaderSize(c, 16<<10), w: bufio.NewWriterSize(c, 4<<10)}, nil
}

// Addr is the address the connection was dialled to.
func (c *Conn) Addr() string { return c.addr }

// Close closes the connection.
func (c *Conn) Close() error { c.dead = true; return c.c.Close() }

// Interrupt makes a pending or later request fail at once (it moves the
// socket's deadline into the past). Unlike Close it may be called from
// another goroutine, e.g. when a context ends.
func (c *Conn) Interrupt() {
	c.interrupted.Store(true)
	_ = c.c.SetDeadline(time.Unix(1, 0))
}

// Dead reports whether an I/O error has made the connection unusable.
func (c *Conn) Dead() bool { return c.dead }

// Pipeline sends cmds in one write and reads one reply per command, all
// within timeout. An error is an I/O or protocol failure: the connection is
// closed and the commands' outcome is unknown (unless errors.Is(err,
// ErrNotSent)).
func (c *Conn) Pipeline(cmds [][]string, timeout time.Duration) ([]Reply, error) {
	if c.dead {
		return nil, fmt.Errorf("%s: connection closed: %w", c.addr, ErrNotSent)
	}
	if err := c.c.SetDeadline(time.Now().Add(timeout)); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: set deadline: %w: %w", c.addr, ErrNotSent, err)
	}
	if c.interrupted.Load() {
		c.Close()
		return nil, fmt.Errorf("%s: interrupted: %w", c.addr, ErrNotSent)
	}
	for _, args := range cmds {
		c.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
		for _, a := range args {
			c.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
		}
	}
	if err := c.w.Flush(); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: write: %w", c.addr, err)
	}
	out := make([]Reply, len(cmds))
	for i := range cmds {
		r, err := readReply(c.r, 0)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: read reply: %w", c.addr, err)
		}
		out[i] = r
	}
	return out, nil
}

// Do sends one command and reads its reply.
func (c *Conn) Do(timeout time.Duration, args ...string) (Reply, error) {
	rs, err := c.Pipeline([][]string{args}, timeout)
	if err != nil {
		return Reply{}, err
	}
	return rs[0], nil
}

const maxDepth = 8

func readReply(r *bufio.Reader, depth int) (Reply, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return Reply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return Reply{}, fmt.Errorf("protocol error: line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-':
		return Reply{Kind: kind, Str: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("protocol error: integer %q", body)
		}
		return Reply{Kind: kind, Int: n}, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 512<<20 {
			return Reply{}, fmt.Errorf("protocol error: bulk length %q", body)
		}
		if n == -1 {
			return Reply{Kind: kind, Nil: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Reply{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Reply{}, errors.New("protocol error: bulk string not terminated by CRLF")
		}
		return Reply{Kind: kind, Str: string(buf[:n])}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 1<<24 {
			return Reply{}, fmt.Errorf("protocol error: array length %q", body)
		}
		if n == -1 {
			return Reply{Kind: kind, Nil: true}, nil
		}
		if depth >= maxDepth {
			return Reply{}, errors.New("protocol error: nesting too deep")
		}
		arr := make([]Reply, n)
		for i := range arr {
			if arr[i], err = readReply(r, depth+1); err != nil {
				return Reply{}, err
			}
		}
		return Reply{Kind: kind, Array: arr}, nil
	}
	return Reply{}, fmt.Errorf("protocol error: reply type %q", kind)
}
