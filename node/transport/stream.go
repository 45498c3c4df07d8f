package transport

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// StreamLayer is one raft group's view of the shared cluster port. It
// implements raft.StreamLayer: Accept yields connections whose header named
// this group, and Dial opens connections to the same group on a peer.
type StreamLayer struct {
	m     *Mux
	group uint32
	addr  net.Addr

	conns    chan net.Conn
	closed   chan struct{}
	once     sync.Once
	handoffs sync.WaitGroup // Mux goroutines currently handing a conn to us
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// Group returns the raft group id of the layer.
func (l *StreamLayer) Group() uint32 { return l.group }

// Accept waits for the next connection for this group. After Close it
// returns an error wrapping net.ErrClosed.
func (l *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, fmt.Errorf("transport: group %d stream layer: %w", l.group, net.ErrClosed)
	}
}

// Dial connects to the peer's cluster port and selects this group.
func (l *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, fmt.Errorf("transport: group %d dial %s: %w", l.group, address, net.ErrClosed)
	default:
	}
	return l.m.dial(header{kind: KindRaft, group: l.group}, string(address), timeout)
}

// Addr returns the advertised address given to Listen.
func (l *StreamLayer) Addr() net.Addr { return l.addr }

// Close unregisters the group (a new Listen for it may follow), unblocks
// Accept, and closes connections that were accepted but not yet taken.
// Connections already returned by Accept belong to the caller.
func (l *StreamLayer) Close() error {
	l.once.Do(func() {
		l.m.mu.Lock()
		if l.m.layers[l.group] == l {
			delete(l.m.layers, l.group)
		}
		l.m.mu.Unlock()
		close(l.closed)
		l.handoffs.Wait()
		for {
			select {
			case c := <-l.conns:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return nil
}
