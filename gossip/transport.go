package gossip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Stream preamble, written by the dialing side of every gossip stream,
// after the Mux header and before memberlist's bytes: it names the dialer's
// gossip address, which Config.Allow needs on the accepting side.
//
//	offset size  field
//	0      2     magic "TG"
//	2      1     version (1)
//	3      1     length n of the address
//	4      n     the dialer's advertised gossip address
const (
	preambleVersion byte = 1
	udpBufSize           = 65536 // largest UDP payload
	udpRecvBuf           = 2 << 20
)

var preambleMagic = [2]byte{'T', 'G'}

func appendPreamble(dst []byte, addr string) ([]byte, error) {
	if len(addr) > 255 {
		return nil, fmt.Errorf("gossip: address %q too long for the stream preamble", addr)
	}
	dst = append(dst, preambleMagic[0], preambleMagic[1], preambleVersion, byte(len(addr)))
	return append(dst, addr...), nil
}

func readPreamble(r io.Reader) (string, error) {
	var fixed [4]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return "", fmt.Errorf("read preamble: %w", err)
	}
	if fixed[0] != preambleMagic[0] || fixed[1] != preambleMagic[1] || fixed[2] != preambleVersion {
		return "", fmt.Errorf("bad preamble %x", fixed[:3])
	}
	addr := make([]byte, fixed[3])
	if _, err := io.ReadFull(r, addr); err != nil {
		return "", fmt.Errorf("read preamble address: %w", err)
	}
	return string(addr), nil
}

type transportConfig struct {
	bind, advertise string
	dial            func(addr string, timeout time.Duration) (net.Conn, error)
	allow           func(from, to string) bool
	tcpTimeout      time.Duration
	logger          *slog.Logger
	observeOut      func(stateMsg) // state messages sent
	observeIn       func(stateMsg) // state messages received, before memberlist
}

// transport implements memberlist.NodeAwareTransport: packets over a UDP
// socket bound to the cluster port, streams dialed with Config.Dial and
// accepted through HandleStream. It owns the UDP reader goroutine and
// every stream it hands out; Shutdown closes them and waits.
type transport struct {
	cfg   transportConfig
	pc    net.PacketConn
	ip    net.IP
	port  int
	local string // advertised ip:port
	wire  wireReader

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	shutdown chan struct{}
	wg       sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[*streamConn]struct{}
	once   sync.Once
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

func newTransport(cfg transportConfig) (*transport, error) {
	pc, err := net.ListenPacket("udp", cfg.bind)
	if err != nil {
		return nil, fmt.Errorf("gossip: bind udp %s: %w", cfg.bind, err)
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		// Best effort, like memberlist's NetTransport: bursts of gossip
		// must not overflow the default socket buffer.
		for size := udpRecvBuf; size >= 64<<10; size /= 2 {
			if uc.SetReadBuffer(size) == nil {
				break
			}
		}
	}
	ip, port, err := advertiseAddr(cfg.advertise, cfg.bind, pc.LocalAddr().(*net.UDPAddr).Port)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	t := &transport{
		cfg:      cfg,
		pc:       pc,
		ip:       ip,
		port:     port,
		local:    net.JoinHostPort(ip.String(), strconv.Itoa(port)),
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		shutdown: make(chan struct{}),
		conns:    make(map[*streamConn]struct{}),
	}
	t.wg.Add(1)
	go t.readLoop()
	return t, nil
}

// advertiseAddr resolves the address to announce: Advertise, else BindAddr;
// port 0 means the bound port.
func advertiseAddr(advertise, bind string, boundPort int) (net.IP, int, error) {
	addr := advertise
	if addr == "" {
		addr = bind
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("gossip: advertise address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, 0, fmt.Errorf("gossip: advertise address %q: bad port", addr)
	}
	if port == 0 {
		port = boundPort
	}
	ip := net.ParseIP(host)
	if ip == nil && host != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
		if err != nil || len(ips) == 0 {
			return nil, 0, fmt.Errorf("gossip: resolve advertise host %q: %v", host, err)
		}
		ip = ips[0]
		for _, cand := range ips { // prefer IPv4, like memberlist
			if cand.To4() != nil {
				ip = cand
				break
			}
		}
	}
	if ip == nil || ip.IsUnspecified() {
		return nil, 0, fmt.Errorf("gossip: advertise address %q is unspecified: set Config.Advertise to a routable address", addr)
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip, port, nil
}

func (t *transport) allowed(from, to string) bool {
	return t.cfg.allow == nil || t.cfg.allow(from, to)
}

func (t *transport) readLoop() {
	defer t.wg.Done()
	buf := make([]byte, udpBufSize)
	for {
		n, from, err := t.pc.ReadFrom(buf)
		ts := time.Now()
		if err != nil {
			select {
			case <-t.shutdown:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				t.cfg.logger.Error("gossip: udp socket closed unexpectedly", "err", err)
				return
			}
			t.cfg.logger.Debug("gossip: udp read", "err", err)
			select {
			case <-time.After(10 * time.Millisecond):
			case <-t.shutdown:
				return
			}
			continue
		}
		if n == 0 || !t.allowed(from.String(), t.local) {
			continue
		}
		pkt := make([]byte, n)
		copy(pkt, buf[:n])
		if t.cfg.observeIn != nil {
			t.wire.each(pkt, t.cfg.observeIn)
		}
		select {
		case t.packetCh <- &memberlist.Packet{Buf: pkt, From: from, Timestamp: ts}:
		case <-t.shutdown:
			return
		}
	}
}

// FinalAdvertiseAddr ignores memberlist's values: the transport resolved
// Config.Advertise in New.
func (t *transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, t.port, nil
}

func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.cfg.observeOut != nil {
		t.wire.each(b, t.cfg.observeOut)
	}
	now := time.Now()
	if !t.allowed(t.local, a.Addr) {
		return now, nil // a partition looks like packet loss
	}
	ua, err := net.ResolveUDPAddr("udp", a.Addr)
	if err != nil {
		return now, fmt.Errorf("gossip: resolve %s: %w", a.Addr, err)
	}
	if _, err := t.pc.WriteTo(b, ua); err != nil {
		return now, fmt.Errorf("gossip: send to %s: %w", a.Addr, err)
	}
	return now, nil
}

func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if !t.allowed(t.local, a.Addr) {
		return nil, fmt.Errorf("gossip: dial %s: link filtered", a.Addr)
	}
	pre, err := appendPreamble(nil, t.local)
	if err != nil {
		return nil, err
	}
	c, err := t.cfg.dial(a.Addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("gossip: dial %s: %w", a.Addr, err)
	}
	if timeout > 0 {
		err = c.SetWriteDeadline(time.Now().Add(timeout))
	}
	if err == nil {
		_, err = c.Write(pre)
	}
	if err == nil {
		err = c.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("gossip: dial %s: write preamble: %w", a.Addr, err)
	}
	sc := t.track(c)
	if sc == nil {
		_ = c.Close()
		return nil, fmt.Errorf("gossip: dial %s: %w", a.Addr, ErrClosed)
	}
	return sc, nil
}

func (t *transport) StreamCh() <-chan net.Conn { return t.streamCh }

// handleStream implements Gossip.HandleStream.
func (t *transport) handleStream(c net.Conn) {
	remote := c.RemoteAddr().String()
	if err := c.SetReadDeadline(time.Now().Add(t.cfg.tcpTimeout)); err != nil {
		_ = c.Close()
		return
	}
	from, err := readPreamble(c)
	if err == nil {
		err = c.SetReadDeadline(time.Time{})
	}
	if err != nil {
		t.cfg.logger.Debug("gossip: dropping stream", "remote", remote, "err", err)
		_ = c.Close()
		return
	}
	if !t.allowed(from, t.local) {
		t.cfg.logger.Debug("gossip: dropping stream: link filtered", "from", from)
		_ = c.Close()
		return
	}
	sc := t.track(c)
	if sc == nil {
		_ = c.Close()
		return
	}
	timer := time.NewTimer(t.cfg.tcpTimeout)
	defer timer.Stop()
	select {
	case t.streamCh <- sc:
	case <-t.shutdown:
		_ = sc.Close()
		return
	case <-timer.C: // memberlist is not accepting streams (shutting down)
		_ = sc.Close()
		return
	}
	// memberlist owns sc now and closes it when done; Shutdown closes it
	// too. Wait, so that a Mux closing c when we return does not cut it.
	<-sc.done
}

// track wraps c so that Shutdown can close it; nil once shut down.
func (t *transport) track(c net.Conn) *streamConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	sc := &streamConn{Conn: c, t: t, done: make(chan struct{})}
	t.conns[sc] = struct{}{}
	return sc
}

func (t *transport) untrack(sc *streamConn) {
	t.mu.Lock()
	delete(t.conns, sc)
	t.mu.Unlock()
}

// Shutdown closes the UDP socket and every stream, and waits for the
// reader goroutine. memberlist calls it first thing in its Shutdown; New
// calls it when memberlist fails to start. Idempotent.
func (t *transport) Shutdown() error {
	var err error
	t.once.Do(func() {
		t.mu.Lock()
		t.closed = true
		conns := make([]*streamConn, 0, len(t.conns))
		for sc := range t.conns {
			conns = append(conns, sc)
		}
		t.mu.Unlock()
		close(t.shutdown)
		for _, sc := range conns {
			_ = sc.Close()
		}
		if cerr := t.pc.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("gossip: close udp socket: %w", cerr)
		}
		t.wg.Wait()
	})
	return err
}

// streamConn is a gossip stream owned by the transport until closed.
type streamConn struct {
	net.Conn
	t    *transport
	once sync.Once
	done chan struct{} // closed by Close
}

func (c *streamConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		c.t.untrack(c)
		close(c.done)
	})
	return err
}
