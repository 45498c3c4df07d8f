package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHandshakeTimeout bounds how long an accepted connection may take to
// send its header, and how long a raft connection may wait for its group's
// Accept, before it is closed.
const DefaultHandshakeTimeout = 5 * time.Second

// ErrMuxClosed is returned (wrapped) by operations on a closed Mux.
var ErrMuxClosed = errors.New("transport: mux closed")

// Config configures a Mux. The zero value is usable.
type Config struct {
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// Advertise is this node's cluster address as peers dial it. It is sent
	// as the source in the header of outgoing connections and is the "local"
	// side for LinkFilter. Default: the listener's address.
	Advertise string
	// HandshakeTimeout overrides DefaultHandshakeTimeout when > 0.
	HandshakeTimeout time.Duration
	// LinkFilter is the initial link filter (see Mux.SetLinkFilter).
	LinkFilter LinkFilter
}

// Mux multiplexes the node's cluster port: raft streams of every group, each
// selected by group id, and node-to-node RPC kinds registered with Handle.
type Mux struct {
	ln               net.Listener
	logger           *slog.Logger
	local            string
	handshakeTimeout time.Duration
	filter           atomic.Pointer[LinkFilter]

	mu       sync.Mutex
	closed   bool
	layers   map[uint32]*StreamLayer
	handlers map[byte]func(net.Conn)
	conns    map[net.Conn]struct{} // in handshake or owned by a handler
	closing  chan struct{}
	wg       sync.WaitGroup // accept loop and per-connection goroutines
}

// NewMux starts serving ln with default settings; see New.
func NewMux(ln net.Listener, logger *slog.Logger) *Mux {
	return New(ln, Config{Logger: logger})
}

// New starts a Mux accepting connections on ln. The Mux owns ln from now on:
// Close closes it.
func New(ln net.Listener, cfg Config) *Mux {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	m := &Mux{
		ln:               ln,
		logger:           logger.With("component", "transport", "addr", ln.Addr().String()),
		local:            cfg.Advertise,
		handshakeTimeout: cfg.HandshakeTimeout,
		layers:           make(map[uint32]*StreamLayer),
		handlers:         make(map[byte]func(net.Conn)),
		conns:            make(map[net.Conn]struct{}),
		closing:          make(chan struct{}),
	}
	if m.local == "" {
		m.local = ln.Addr().String()
	}
	if m.handshakeTimeout <= 0 {
		m.handshakeTimeout = DefaultHandshakeTimeout
	}
	m.SetLinkFilter(cfg.LinkFilter)
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// Addr returns the listener's address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// LocalAddr returns the address this node identifies itself with.
func (m *Mux) LocalAddr() string { return m.local }

// Listen registers group and returns its raft.StreamLayer. advertise is the
// address the layer reports (raft advertises it to peers); nil means the
// listener's address. A group can have one layer at a time.
func (m *Mux) Listen(group uint32, advertise net.Addr) (*StreamLayer, error) {
	if advertise == nil {
		advertise = m.ln.Addr()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("transport: listen group %d: %w", group, ErrMuxClosed)
	}
	if _, ok := m.layers[group]; ok {
		return nil, fmt.Errorf("transport: listen group %d: already registered", group)
	}
	l := &StreamLayer{
		m:      m,
		group:  group,
		addr:   advertise,
		conns:  make(chan net.Conn, 16),
		closed: make(chan struct{}),
	}
	m.layers[group] = l
	return l, nil
}

// Handle registers h for connections whose header has the given kind. h
// runs on a goroutine owned by the Mux and owns the connection, which the
// Mux closes when h returns. Mux.Close closes the connection and then waits
// for h, so h must return once its connection fails. Handle panics on
// kind 0, KindRaft, a nil h or a duplicate kind: those are programming
// errors.
func (m *Mux) Handle(kind byte, h func(net.Conn)) {
	if kind == 0 || kind == KindRaft || h == nil {
		panic(fmt.Sprintf("transport: Handle: invalid kind %d or nil handler", kind))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.handlers[kind]; ok {
		panic(fmt.Sprintf("transport: Handle: kind %d already registered", kind))
	}
	m.handlers[kind] = h
}

// Dial connects to a peer's cluster port and sends a header for kind (a
// kind registered with Handle on the peer). timeout bounds connecting and
// writing the header; 0 means the handshake timeout.
func (m *Mux) Dial(kind byte, address string, timeout time.Duration) (net.Conn, error) {
	if kind == KindRaft {
		return nil, fmt.Errorf("transport: dial %s: use a StreamLayer for raft streams", address)
	}
	return m.dial(header{kind: kind}, address, timeout)
}

func (m *Mux) dial(h header, address string, timeout time.Duration) (net.Conn, error) {
	select {
	case <-m.closing:
		return nil, fmt.Errorf("transport: dial %s: %w", address, ErrMuxClosed)
	default:
	}
	if timeout <= 0 {
		timeout = m.handshakeTimeout
	}
	if !m.allowed(m.local, address) {
		return nil, fmt.Errorf("transport: dial %s (kind %d group %d): %w", address, h.kind, h.group, ErrLinkDown)
	}
	h.source = m.local
	hdr, err := h.append(nil)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", address, err)
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s (kind %d group %d): %w", address, h.kind, h.group, err)
	}
	if err := c.SetWriteDeadline(time.Now().Add(timeout)); err == nil {
		_, err = c.Write(hdr)
		if err == nil {
			err = c.SetWriteDeadline(time.Time{})
		}
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("transport: dial %s: write header: %w", address, err)
	}
	return &linkConn{Conn: c, m: m, local: m.local, remote: address}, nil
}

// Close stops accepting, closes every stream layer, every connection still
// in handshake and every handler's connection, and waits for all goroutines
// of the Mux. Raft transports using the layers should be closed first.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.closing)
	layers := make([]*StreamLayer, 0, len(m.layers))
	for _, l := range m.layers {
		layers = append(layers, l)
	}
	for c := range m.conns {
		_ = c.Close()
	}
	m.mu.Unlock()

	err := m.ln.Close()
	for _, l := range layers {
		_ = l.Close()
	}
	m.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("transport: close listener: %w", err)
	}
	return nil
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	backoff := time.Duration(0)
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closing:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				m.logger.Error("cluster listener closed unexpectedly", "err", err)
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.logger.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-m.closing:
				return
			}
			continue
		}
		backoff = 0
		if !m.track(c) {
			_ = c.Close()
			return
		}
		m.wg.Add(1) // safe: track succeeded, so Close has not started waiting
		go m.serve(c)
	}
}

// track registers c so that Close can close it; false if the Mux is closed.
func (m *Mux) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *Mux) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// serve reads the header of an accepted connection and dispatches it.
func (m *Mux) serve(c net.Conn) {
	defer m.wg.Done()
	remote := c.RemoteAddr().String()
	drop := func(msg string, args ...any) {
		m.untrack(c)
		_ = c.Close()
		m.logger.Debug(msg, append([]any{"remote", remote}, args...)...)
	}
	if err := c.SetReadDeadline(time.Now().Add(m.handshakeTimeout)); err != nil {
		drop("dropping connection: set deadline", "err", err)
		return
	}
	h, err := readHeader(c)
	if err != nil {
		drop("dropping connection: bad header", "err", err)
		return
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		drop("dropping connection: clear deadline", "err", err)
		return
	}
	if !m.allowed(h.source, m.local) {
		drop("dropping connection: link filtered", "source", h.source)
		return
	}
	lc := &linkConn{Conn: c, m: m, local: m.local, remote: h.source}

	if h.kind != KindRaft {
		m.mu.Lock()
		handler := m.handlers[h.kind]
		m.mu.Unlock()
		if handler == nil {
			drop("dropping connection: no handler", "kind", h.kind, "source", h.source)
			return
		}
		defer m.untrack(c)
		defer c.Close()
		handler(lc)
		return
	}

	m.mu.Lock()
	l := m.layers[h.group]
	if l != nil {
		l.handoffs.Add(1) // safe: l is registered, so its Close has not started waiting
	}
	m.mu.Unlock()
	if l == nil {
		drop("dropping connection: unknown group", "group", h.group, "source", h.source)
		return
	}
	defer l.handoffs.Done()
	m.untrack(c) // from here on the layer (then raft) owns c
	timer := time.NewTimer(m.handshakeTimeout)
	defer timer.Stop()
	select {
	case l.conns <- lc:
	case <-l.closed:
		_ = c.Close()
	case <-m.closing:
		_ = c.Close()
	case <-timer.C:
		_ = c.Close()
		m.logger.Warn("dropping raft connection: group not accepting", "group", h.group, "source", h.source)
	}
}
