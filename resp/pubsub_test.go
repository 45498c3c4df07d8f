package resp

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/slots"
)

// fakePubSub is a PubSubBackend recording what is published to "the
// cluster"; slots listed in notServed are answered with their redirect.
type fakePubSub struct {
	mu        sync.Mutex
	published []string // "channel message sharded slot"
	notServed map[int]fsm.Reply
}

func (f *fakePubSub) Publish(channel, message []byte, sharded bool, slot int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, fmt.Sprintf("%s %s %v %d", channel, message, sharded, slot))
}

func (f *fakePubSub) RouteSlot(slot int) (fsm.Reply, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, moved := f.notServed[slot]
	return r, !moved
}

func (f *fakePubSub) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.published...)
}

// TestPubSubDeliver checks messages arriving from other nodes (Deliver)
// and what PUBLISH hands to the PubSubBackend.
func TestPubSubDeliver(t *testing.T) {
	fp := &fakePubSub{}
	srv, addr := testServer(t, Config{PubSub: fp})
	a, b, p := dial(t, addr), dial(t, addr), dial(t, addr)
	a.send(encodeCommand("SUBSCRIBE", "news") + encodeCommand("PSUBSCRIBE", "n*"))
	a.read()
	a.read()
	b.do("HELLO", "3")
	b.expectDo(psReply(3, "ssubscribe", "{s}x", 1), "SSUBSCRIBE", "{s}x")
	if n := srv.Deliver([]byte("news"), []byte("from afar"), false); n != 2 {
		t.Errorf("Deliver news = %d, want 2", n)
	}
	a.expect(psReply(2, "message", "news", "from afar"))
	a.expect(psReply(2, "pmessage", "n*", "news", "from afar"))
	if n := srv.Deliver([]byte("{s}x"), []byte("sharded"), true); n != 1 {
		t.Errorf("Deliver {s}x = %d, want 1", n)
	}
	b.expect(psReply(3, "smessage", "{s}x", "sharded"))
	if n := srv.Deliver([]byte("news"), []byte("m"), true); n != 0 { // no pattern matching for shard channels
		t.Errorf("sharded Deliver news = %d, want 0", n)
	}
	if sent := fp.sent(); len(sent) != 0 {
		t.Errorf("Deliver was published to the cluster again: %q", sent)
	}
	p.expectDo(":2\r\n", "PUBLISH", "news", "local")
	p.expectDo(":1\r\n", "SPUBLISH", "{s}x", "local")
	p.expectDo(":0\r\n", "PUBLISH", "zzz", "here")
	want := []string{"news local false -1", fmt.Sprintf("{s}x local true %d", slots.Slot([]byte("{s}x"))), "zzz here false -1"}
	if got := fp.sent(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("published to the cluster: %q, want %q", got, want)
	}
	a.expect(psReply(2, "message", "news", "local"))
	a.expect(psReply(2, "pmessage", "n*", "news", "local"))
	b.expect(psReply(3, "smessage", "{s}x", "local"))
}

// TestPubSubUnsubscribeShardSlot: when a slot leaves the node, its shard
// subscribers are told, and leave the context once nothing is left.
func TestPubSubUnsubscribeShardSlot(t *testing.T) {
	srv, addr := testServer(t, Config{})
	a := dial(t, addr)
	a.send(encodeCommand("SSUBSCRIBE", "{t}2", "{t}1") + encodeCommand("SUBSCRIBE", "plain"))
	for range 3 {
		a.read()
	}
	if n := srv.UnsubscribeShardSlot(slots.Slot([]byte("{t}"))); n != 2 {
		t.Fatalf("UnsubscribeShardSlot = %d, want 2", n)
	}
	a.expect(psReply(2, "sunsubscribe", "{t}1", 1))
	a.expect(psReply(2, "sunsubscribe", "{t}2", 0))
	if n := srv.UnsubscribeShardSlot(slots.Slot([]byte("{t}"))); n != 0 {
		t.Fatalf("second UnsubscribeShardSlot = %d", n)
	}
	a.expectDo(ctxErr("get"), "GET", "k")
	a.expectDo(psReply(2, "unsubscribe", "plain", 0), "UNSUBSCRIBE")
	a.expectDo("$-1\r\n", "GET", "k")
	a.expectDo(psReply(2, "ssubscribe", "{u}", 1), "SSUBSCRIBE", "{u}")
	srv.UnsubscribeShardSlot(slots.Slot([]byte("{u}")))
	a.expect(psReply(2, "sunsubscribe", "{u}", 0))
	a.expectDo("$-1\r\n", "GET", "k") // the last subscription is gone: normal context
}

// TestPubSubSlowSubscriber: a subscriber that does not read is
// disconnected once its pending output reaches the hard limit; the
// publisher is never blocked by it.
func TestPubSubSlowSubscriber(t *testing.T) {
	var logs syncBuffer
	srv, addr := testServer(t, Config{
		PubSubOutputLimit: OutputLimit{Hard: 256 << 10, Soft: -1},
		Logger:            slog.New(slog.NewTextHandler(&logs, nil)),
	})
	slow, fast, pub := dial(t, addr), dial(t, addr), dial(t, addr)
	slow.expectDo(psReply(2, "subscribe", "firehose", 1), "SUBSCRIBE", "firehose")
	fast.expectDo(psReply(2, "subscribe", "firehose", 1), "SUBSCRIBE", "firehose")
	msg := strings.Repeat("m", 64<<10)
	want := psReply(2, "message", "firehose", msg)
	published := 0
	for srv.hub.numSub(kindChannel, []byte("firehose")) == 2 {
		if published == 4000 { // 256MB: the kernel's socket buffers are far smaller
			t.Fatal("the slow subscriber was never disconnected")
		}
		if got := pub.do("PUBLISH", "firehose", msg); got != ":2\r\n" && got != ":1\r\n" {
			t.Fatalf("PUBLISH = %q", got)
		}
		published++
		fast.expect(want)
	}
	// The slow client gets what was written before the limit, then EOF.
	n, err := io.Copy(io.Discard, slow.br)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading the slow subscriber: %v after %d bytes", err, n)
	}
	if n >= int64(published*len(want)) {
		t.Errorf("slow subscriber received everything (%d bytes)", n)
	}
	fast.expectDo("*2\r\n$4\r\npong\r\n$0\r\n\r\n", "PING")
	if !strings.Contains(logs.String(), "exceeded the pubsub output buffer limit") {
		t.Errorf("no log line about the limit:\n%s", logs.String())
	}
}

func TestOutputLimitReached(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	lim := OutputLimit{Hard: 100, Soft: 50, SoftTime: 10 * time.Second}
	var since time.Time
	steps := []struct {
		advance time.Duration
		used    int64
		want    bool
	}{
		{0, 10, false},
		{0, 60, false},                // soft limit reached: the timer starts
		{10 * time.Second, 60, false}, // not longer than SoftTime yet
		{time.Second, 70, true},       // over the soft limit for 11s
		{0, 10, false},                // back under it: the timer resets
		{time.Hour, 60, false},
		{0, 100, true}, // hard limit
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := lim.reached(s.used, &since, clock); got != s.want {
			t.Errorf("step %d: reached(%d) = %v", i, s.used, got)
		}
	}
	off := OutputLimit{Hard: -1, Soft: -1}.normalized()
	if off.reached(1<<40, &since, clock) {
		t.Error("a disabled limit was reached")
	}
}

func TestPubSubLimitOption(t *testing.T) {
	srv, _ := testServer(t, Config{})
	if got := *srv.pubsubLimit.Load(); got != defaultPubSubLimit {
		t.Errorf("default limit = %+v", got)
	}
	if !srv.SetOption("client-output-buffer-limit", "normal 0 0 0 slave 256mb 64mb 60 pubsub 1mb 512kb 10") {
		t.Fatal("valid client-output-buffer-limit refused")
	}
	want := OutputLimit{Hard: 1 << 20, Soft: 512 << 10, SoftTime: 10 * time.Second}
	if got := *srv.pubsubLimit.Load(); got != want {
		t.Errorf("limit = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"pubsub 1mb 1mb", "pubsub x 0 0", "other 0 0 0", "pubsub 0 0 -1", ""} {
		if srv.SetOption("client-output-buffer-limit", bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if !srv.SetOption("client-output-buffer-limit", "normal 0 0 0") || *srv.pubsubLimit.Load() != want {
		t.Error("a value without the pubsub class changed its limit")
	}
}

// TestPubSubIdleTimeout: like Redis, subscribers are exempt from timeout.
func TestPubSubIdleTimeout(t *testing.T) {
	_, addr := testServer(t, Config{Timeout: 200 * time.Millisecond})
	sub := dial(t, addr)
	sub.expectDo(psReply(2, "subscribe", "x", 1), "SUBSCRIBE", "x")
	for range 2 { // the second idle client is closed after the subscriber was idle for longer
		idle := dial(t, addr)
		idle.expectDo("+PONG\r\n", "PING")
		idle.expectEOF()
	}
	sub.expectDo("*2\r\n$4\r\npong\r\n$0\r\n\r\n", "PING")
}

// TestPubSubConfirmationFirst: a subscription's confirmation always
// precedes the messages it receives, however publishes race with it.
func TestPubSubConfirmationFirst(t *testing.T) {
	srv, addr := testServer(t, Config{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				srv.Deliver([]byte("race"), []byte("m"), false)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 20 {
		c := dial(t, addr)
		proto := 2 + i%2
		if proto == 3 {
			c.do("HELLO", "3")
		}
		c.expectDo(psReply(proto, "subscribe", "race", 1), "SUBSCRIBE", "race")
		c.expect(psReply(proto, "message", "race", "m"))
		c.send(encodeCommand("UNSUBSCRIBE", "race"))
		msg := psReply(proto, "message", "race", "m")
		got := c.read()
		for got == msg {
			got = c.read()
		}
		if want := psReply(proto, "unsubscribe", "race", 0); got != want {
			t.Fatalf("UNSUBSCRIBE = %q, want %q", got, want)
		}
		c.nc.Close()
	}
}

// TestPubSubConcurrentPublishers: every subscriber receives every message,
// each publisher's in order, with publishers on several goroutines.
func TestPubSubConcurrentPublishers(t *testing.T) {
	srv, addr := testServer(t, Config{})
	subs := make([]*rawConn, 3)
	for i := range subs {
		subs[i] = dial(t, addr)
		proto := 2
		if i == 2 {
			proto = 3
			subs[i].do("HELLO", "3")
		}
		subs[i].expectDo(psReply(proto, "psubscribe", "feed.*", 1), "PSUBSCRIBE", "feed.*")
	}
	const publishers, each = 4, 200
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := []byte("feed." + strconv.Itoa(p))
			for n := range each {
				srv.Deliver(ch, []byte(strconv.Itoa(n)), false)
			}
		}()
	}
	for i, s := range subs {
		next := make([]int, publishers)
		for range publishers * each {
			raw := s.read()
			n := parseTree(t, "*"+raw[1:]) // a push parses as an array
			if len(n.children) != 4 {
				t.Fatalf("subscriber %d: %q", i, n.raw)
			}
			p, _ := strconv.Atoi(strings.TrimPrefix(n.children[2].str, "feed."))
			m, _ := strconv.Atoi(n.children[3].str)
			if m != next[p] {
				t.Fatalf("subscriber %d: message %d from publisher %d, want %d", i, m, p, next[p])
			}
			next[p]++
		}
	}
	wg.Wait()
}

// BenchmarkPubSubDeliver measures one message fanned out to 8 subscribers
// (RESP2 and RESP3), each drained by a reader goroutine.
func BenchmarkPubSubDeliver(b *testing.B) {
	srv, err := New(Config{Backend: newFakeBackend(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	var readers sync.WaitGroup
	defer func() { srv.Close(); readers.Wait() }()
	for i := range 8 {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		req := encodeCommand("SUBSCRIBE", "bench")
		if i%2 == 1 {
			req = encodeCommand("HELLO", "3") + req
		}
		if _, err := nc.Write([]byte(req)); err != nil {
			b.Fatal(err)
		}
		readers.Add(1)
		go func() { defer readers.Done(); _, _ = io.Copy(io.Discard, nc) }()
	}
	for srv.hub.numSub(kindChannel, []byte("bench")) < 8 {
		time.Sleep(time.Millisecond)
	}
	ch, msg := []byte("bench"), []byte(strings.Repeat("m", 64))
	b.ReportAllocs()
	for b.Loop() {
		if n := srv.Deliver(ch, msg, false); n != 8 {
			b.Fatalf("Deliver = %d", n)
		}
	}
}
