package transport

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

const kindEcho byte = 2

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newMux(t *testing.T, cfg Config) *Mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	m := New(ln, cfg)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("mux close: %v", err)
		}
	})
	return m
}

// echo copies lines back until the connection fails.
func echo(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

// roundTrip writes a line and expects it back.
func roundTrip(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return errors.New("echo mismatch: " + got)
	}
	return nil
}

// waitClosedByPeer reads until the server closes c. The deadline only
// bounds a failing test.
func waitClosedByPeer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: server did not close the connection", what)
		}
		return // EOF or reset: closed by the server
	}
}

func rawHeader(t *testing.T, h header) []byte {
	t.Helper()
	b, err := h.append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandlerKind(t *testing.T) {
	a, b := newMux(t, Config{}), newMux(t, Config{})
	a.Handle(kindEcho, echo)
	c, err := b.Dial(kindEcho, a.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, "hello"); err != nil {
		t.Fatal(err)
	}
	// A kind nobody registered: the peer closes the connection.
	c2, err := b.Dial(9, a.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	waitClosedByPeer(t, c2, "unregistered kind")
	if _, err := b.Dial(KindRaft, a.Addr().String(), time.Second); err == nil {
		t.Fatal("Mux.Dial accepted KindRaft")
	}
}

func TestHandlePanicsOnMisuse(t *testing.T) {
	m := newMux(t, Config{})
	m.Handle(kindEcho, echo)
	for name, f := range map[string]func(){
		"raft kind": func() { m.Handle(KindRaft, echo) },
		"kind 0":    func() { m.Handle(0, echo) },
		"nil":       func() { m.Handle(3, nil) },
		"duplicate": func() { m.Handle(kindEcho, echo) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestStreamLayerRouting(t *testing.T) {
	a := newMux(t, Config{})
	layers := map[uint32]*StreamLayer{}
	for _, g := range []uint32{1, 2, 3} {
		l, err := a.Listen(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		layers[g] = l
	}
	if _, err := a.Listen(2, nil); err == nil {
		t.Fatal("duplicate Listen succeeded")
	}
	dialer := newMux(t, Config{})
	dl, err := dialer.Listen(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dl.Dial("127.0.0.1:1", time.Second) // nothing listens there
	if err == nil {
		c.Close()
		t.Fatal("dial to a closed port succeeded")
	}
	for _, g := range []uint32{3, 1, 2} {
		out, err := dialer.dial(header{kind: KindRaft, group: g}, a.Addr().String(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		in, err := layers[g].Accept()
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte{byte(g)}
		if _, err := out.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 1)
		if _, err := io.ReadFull(in, got); err != nil || got[0] != byte(g) {
			t.Fatalf("group %d got %v, %v", g, got, err)
		}
		out.Close()
		in.Close()
	}
}

func srvAddr(s string) raft.ServerAddress { return raft.ServerAddress(s) }

func twoMuxes(t *testing.T) (*Mux, *Mux) {
	t.Helper()
	return newMux(t, Config{}), newMux(t, Config{})
}

func TestStreamLayerClose(t *testing.T) {
	a := newMux(t, Config{})
	l, err := a.Listen(7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr().String() != a.Addr().String() || l.Group() != 7 {
		t.Fatalf("Addr %v group %d", l.Addr(), l.Group())
	}
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := l.Dial(srvAddr(a.Addr().String()), time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Dial on closed layer: %v", err)
	}
	// The group is free again, and connections for it reach the new layer.
	l2, err := a.Listen(7, &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 7000})
	if err != nil {
		t.Fatal(err)
	}
	if l2.Addr().String() != "10.1.2.3:7000" {
		t.Fatalf("advertise = %v", l2.Addr())
	}
	out, err := l2.Dial(srvAddr(a.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in, err := l2.Accept()
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
}

func TestGarbageConnectionsAreClosed(t *testing.T) {
	a := newMux(t, Config{HandshakeTimeout: 300 * time.Millisecond})
	a.Handle(kindEcho, echo)
	l, err := a.Listen(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := newMux(t, Config{})
	addr := a.Addr().String()

	// A healthy connection opened before the garbage must survive it.
	good, err := b.Dial(kindEcho, addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := roundTrip(good, "before"); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(7, 7))
	garbage := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		[]byte("*1\r\n$4\r\nPING\r\n"),
		{'T', 'K', 9, 1, 0, 0, 0, 1, 0},                                // future version
		{'T', 'K', 1, 0, 0, 0, 0, 0, 0},                                // kind 0
		{'T', 'K', 1, kindEcho, 0, 0, 0, 1, 0},                         // group with a non-raft kind
		{'T', 'K', 1, 1, 0, 0, 0, 1, 5, 0xff, 0xfe, 1},                 // invalid, truncated source
		rawHeader(t, header{kind: KindRaft, group: 99, source: "x:1"}), // unknown group
		{}, // silent: only the handshake deadline closes it
		{'T'},
	}
	for i := 0; i < 20; i++ {
		g := make([]byte, 1+rng.IntN(40))
		for j := range g {
			g[j] = byte(rng.UintN(256))
		}
		garbage = append(garbage, g)
	}
	var wg sync.WaitGroup
	for i, g := range garbage {
		wg.Add(1)
		go func(i int, g []byte) {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if len(g) > 0 {
				if _, err := c.Write(g); err != nil {
					return // already closed by the server: fine
				}
			}
			waitClosedByPeer(t, c, "garbage")
		}(i, g)
	}
	wg.Wait()

	if err := roundTrip(good, "after"); err != nil {
		t.Fatalf("healthy connection affected by garbage: %v", err)
	}
	c, err := b.Dial(kindEcho, addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, "new"); err != nil {
		t.Fatalf("new connection after garbage: %v", err)
	}
	bl, err := b.Listen(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := bl.Dial(srvAddr(addr), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in, err := l.Accept()
	if err != nil {
		t.Fatalf("raft group after garbage: %v", err)
	}
	in.Close()
}

func TestMuxCloseReleasesEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := New(ln, Config{Logger: quietLogger()}) // default 5s handshake timeout
	handlerDone := make(chan struct{})
	a.Handle(kindEcho, func(c net.Conn) {
		defer close(handlerDone)
		echo(c)
	})
	l, err := a.Listen(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := newMux(t, Config{})

	silent, err := net.Dial("tcp", a.Addr().String()) // stuck in handshake
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	busy, err := b.Dial(kindEcho, a.Addr().String(), time.Second) // inside a handler
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if err := roundTrip(busy, "x"); err != nil {
		t.Fatal(err)
	}
	acceptErr := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		acceptErr <- err
	}()

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Close has waited for the handler and closed both connections.
	<-handlerDone
	if err := <-acceptErr; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Mux.Close: %v", err)
	}
	waitClosedByPeer(t, silent, "handshaking connection")
	waitClosedByPeer(t, busy, "handler connection")
	if _, err := a.Listen(2, nil); !errors.Is(err, ErrMuxClosed) {
		t.Fatalf("Listen after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.Dial(kindEcho, b.Addr().String(), time.Second); !errors.Is(err, ErrMuxClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", a.Addr().String(), time.Second); err == nil {
		t.Fatal("listener still open after Close")
	}
}

func TestLinkFilter(t *testing.T) {
	a, b := twoMuxes(t)
	a.Handle(kindEcho, echo)
	b.Handle(kindEcho, echo)
	aAddr, bAddr := a.LocalAddr(), b.LocalAddr()

	established, err := b.Dial(kindEcho, aAddr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer established.Close()
	if err := roundTrip(established, "up"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	cut := true
	partition := func(from, to string) bool {
		mu.Lock()
		defer mu.Unlock()
		return !cut || !((from == aAddr && to == bAddr) || (from == bAddr && to == aAddr))
	}
	// Only a filters: b is unaware, yet the link is cut both ways.
	a.SetLinkFilter(partition)

	if _, err := a.Dial(kindEcho, bAddr, time.Second); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("a dialing b during partition: %v", err)
	}
	c, err := b.Dial(kindEcho, aAddr, time.Second) // TCP connects; a drops it after the header
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitClosedByPeer(t, c, "connection into a partitioned node")
	// The established connection breaks at its next use: a's handler
	// discards the data and closes.
	if err := roundTrip(established, "during"); err == nil {
		t.Fatal("established connection still carries data across the partition")
	}

	// A third node is not partitioned from a.
	third := newMux(t, Config{})
	c3, err := third.Dial(kindEcho, aAddr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := roundTrip(c3, "third"); err != nil {
		t.Fatalf("unrelated link affected: %v", err)
	}

	// Heal.
	mu.Lock()
	cut = false
	mu.Unlock()
	healed, err := b.Dial(kindEcho, aAddr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer healed.Close()
	if err := roundTrip(healed, "healed"); err != nil {
		t.Fatal(err)
	}
	a.SetLinkFilter(nil)
	back, err := a.Dial(kindEcho, bAddr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if err := roundTrip(back, "back"); err != nil {
		t.Fatal(err)
	}
}

func TestLinkFilterWriteSide(t *testing.T) {
	a, b := twoMuxes(t)
	a.Handle(kindEcho, echo)
	c, err := b.Dial(kindEcho, a.LocalAddr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, "ok"); err != nil {
		t.Fatal(err)
	}
	b.SetLinkFilter(func(from, to string) bool { return false })
	if _, err := c.Write([]byte("x\n")); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("write over a filtered link: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on a cut connection succeeded")
	}
}
