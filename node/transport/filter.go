package transport

import (
	"errors"
	"fmt"
	"net"
)

// LinkFilter decides whether traffic may flow from node address from to node
// address to. Addresses are cluster addresses as nodes identify themselves
// (Config.Advertise, the header's source) and as peers are dialed. It
// exists to simulate network partitions in-process; production code leaves
// it nil, which allows everything.
//
// With a filter installed on a Mux, whose node address is local:
//   - Dial(remote) fails with ErrLinkDown unless filter(local, remote).
//   - An accepted connection whose header source is src is closed right
//     after the header unless filter(src, local).
//   - On every established connection, in either direction, Write fails
//     unless filter(local, remote), and Read fails unless filter(remote,
//     local). A failing operation closes the connection, so a partition
//     also breaks pooled connections at their next use. A Read already
//     blocked is not interrupted, but whatever it receives while the link
//     is down is discarded.
//
// Filters may be asymmetric. A filter on one node alone is enough to cut
// that node's links both ways.
type LinkFilter func(from, to string) bool

// ErrLinkDown is returned (wrapped) for I/O over a link the LinkFilter
// forbids.
var ErrLinkDown = errors.New("transport: link down (filtered)")

// SetLinkFilter installs f (nil removes filtering). It is safe to call at
// any time; established connections obey the new filter from their next
// Read or Write.
func (m *Mux) SetLinkFilter(f LinkFilter) {
	if f == nil {
		m.filter.Store(nil)
		return
	}
	m.filter.Store(&f)
}

func (m *Mux) allowed(from, to string) bool {
	f := m.filter.Load()
	return f == nil || (*f)(from, to)
}

// linkConn applies the LinkFilter to an established connection.
type linkConn struct {
	net.Conn
	m             *Mux
	local, remote string
}

func (c *linkConn) Read(p []byte) (int, error) {
	if !c.m.allowed(c.remote, c.local) {
		return 0, c.cut()
	}
	n, err := c.Conn.Read(p)
	if n > 0 && !c.m.allowed(c.remote, c.local) {
		return 0, c.cut()
	}
	return n, err
}

func (c *linkConn) Write(p []byte) (int, error) {
	if !c.m.allowed(c.local, c.remote) {
		return 0, c.cut()
	}
	return c.Conn.Write(p)
}

func (c *linkConn) cut() error {
	_ = c.Conn.Close()
	return fmt.Errorf("transport: %s <-> %s: %w", c.local, c.remote, ErrLinkDown)
}
