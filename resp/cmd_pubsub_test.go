package resp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/slots"
)

// psReply encodes an expected Pub/Sub reply: an array in RESP2, a push in
// RESP3. Strings are bulk strings, ints integers, nil a null.
func psReply(proto int, items ...any) string {
	var b strings.Builder
	if proto == 3 {
		fmt.Fprintf(&b, ">%d\r\n", len(items))
	} else {
		fmt.Fprintf(&b, "*%d\r\n", len(items))
	}
	for _, it := range items {
		switch v := it.(type) {
		case string:
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(v), v)
		case int:
			fmt.Fprintf(&b, ":%d\r\n", v)
		case nil:
			if proto == 3 {
				b.WriteString("_\r\n")
			} else {
				b.WriteString("$-1\r\n")
			}
		}
	}
	return b.String()
}

// expect reads one reply and compares it.
func (c *rawConn) expect(want string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Fatalf("got %q\nwant %q", got, want)
	}
}

// expectDo sends a command and compares its reply.
func (c *rawConn) expectDo(want string, args ...string) {
	c.t.Helper()
	if got := c.do(args...); got != want {
		c.t.Fatalf("%q = %q\nwant %q", args, got, want)
	}
}

// waitFor polls cond until it holds; the deadline only bounds a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ctxErr(name string) string {
	return "-" + fmt.Sprintf(msgPubSubContext, name) + "\r\n"
}

func TestPubSubSubscribePublish(t *testing.T) {
	_, addr := testServer(t, Config{})
	sub, pub := dial(t, addr), dial(t, addr)
	sub.send(encodeCommand("SUBSCRIBE", "a", "b", "a"))
	sub.expect(psReply(2, "subscribe", "a", 1))
	sub.expect(psReply(2, "subscribe", "b", 2))
	sub.expect(psReply(2, "subscribe", "a", 2)) // already subscribed: same count
	pub.expectDo(":1\r\n", "PUBLISH", "a", "hello")
	sub.expect(psReply(2, "message", "a", "hello"))
	pub.expectDo(":0\r\n", "PUBLISH", "nobody", "x")
	pub.expectDo(":1\r\n", "PUBLISH", "b", "")
	sub.expect(psReply(2, "message", "b", ""))
	pub.expectDo(":1\r\n", "PUBLISH", "b", "\x00\r\nbin")
	sub.expect(psReply(2, "message", "b", "\x00\r\nbin"))

	sub.send(encodeCommand("PSUBSCRIBE", "h?llo", "a*"))
	sub.expect(psReply(2, "psubscribe", "h?llo", 3))
	sub.expect(psReply(2, "psubscribe", "a*", 4))
	pub.expectDo(":2\r\n", "PUBLISH", "a", "x") // the channel, then the pattern
	sub.expect(psReply(2, "message", "a", "x"))
	sub.expect(psReply(2, "pmessage", "a*", "a", "x"))
	pub.expectDo(":1\r\n", "PUBLISH", "hallo", "y")
	sub.expect(psReply(2, "pmessage", "h?llo", "hallo", "y"))
	pub.expectDo(":0\r\n", "PUBLISH", "Hallo", "y") // case-sensitive

	pub.expectDo("*6\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:1\r\n$1\r\nc\r\n:0\r\n", "PUBSUB", "NUMSUB", "a", "b", "c")
	pub.expectDo(":2\r\n", "PUBSUB", "NUMPAT")
	pub.expectDo("*2\r\n$1\r\na\r\n$1\r\nb\r\n", "PUBSUB", "CHANNELS")
	pub.expectDo("*1\r\n$1\r\nb\r\n", "pubsub", "channels", "[b-z]")

	sub.send(encodeCommand("UNSUBSCRIBE", "a", "nosuch"))
	sub.expect(psReply(2, "unsubscribe", "a", 3))
	sub.expect(psReply(2, "unsubscribe", "nosuch", 3))
	pub.expectDo(":1\r\n", "PUBLISH", "a", "z") // the pattern only
	sub.expect(psReply(2, "pmessage", "a*", "a", "z"))
	sub.send(encodeCommand("PUNSUBSCRIBE")) // all, in subscription order
	sub.expect(psReply(2, "punsubscribe", "h?llo", 2))
	sub.expect(psReply(2, "punsubscribe", "a*", 1))
	sub.expectDo(psReply(2, "unsubscribe", "b", 0), "UNSUBSCRIBE")
	sub.expectDo(psReply(2, "unsubscribe", nil, 0), "UNSUBSCRIBE")
	sub.expectDo(psReply(2, "punsubscribe", nil, 0), "PUNSUBSCRIBE")
	sub.expectDo(psReply(2, "sunsubscribe", nil, 0), "SUNSUBSCRIBE")
	sub.expectDo("$-1\r\n", "GET", "k") // out of the subscribed context
	pub.expectDo(":0\r\n", "PUBLISH", "b", "gone")
	pub.expectDo("*0\r\n", "PUBSUB", "CHANNELS")
	sub.expectDo("+PONG\r\n", "PING")
}

// TestPubSubRESP3 checks push encodings, commands allowed while
// subscribed, self-publishing order and a protocol switch while subscribed.
func TestPubSubRESP3(t *testing.T) {
	_, addr := testServer(t, Config{})
	c, pub := dial(t, addr), dial(t, addr)
	c.do("HELLO", "3")
	c.expectDo(psReply(3, "subscribe", "ch", 1), "SUBSCRIBE", "ch")
	c.expectDo("_\r\n", "GET", "k") // no restriction in RESP3
	c.expectDo("+PONG\r\n", "PING")
	// A pipeline: the GET reply, then the message to itself, then PUBLISH's reply.
	c.send(encodeCommand("GET", "k") + encodeCommand("PUBLISH", "ch", "self"))
	c.expect("_\r\n")
	c.expect(psReply(3, "message", "ch", "self"))
	c.expect(":1\r\n")
	pub.expectDo(":1\r\n", "PUBLISH", "ch", "other")
	c.expect(psReply(3, "message", "ch", "other"))
	c.expectDo(psReply(3, "unsubscribe", "zz", 1), "UNSUBSCRIBE", "zz")
	c.expectDo(psReply(3, "sunsubscribe", nil, 0), "SUNSUBSCRIBE")
	// Back to RESP2 while subscribed: messages are arrays, the context applies.
	if got := c.do("HELLO", "2"); !strings.HasPrefix(got, "*14\r\n") {
		t.Fatalf("HELLO 2 = %q", got)
	}
	pub.expectDo(":1\r\n", "PUBLISH", "ch", "two")
	c.expect(psReply(2, "message", "ch", "two"))
	c.expectDo(ctxErr("get"), "GET", "k")
	c.expectDo(psReply(2, "unsubscribe", "ch", 0), "UNSUBSCRIBE")
	c.expectDo("$-1\r\n", "GET", "k")
}

func TestPubSubSubscribedContext(t *testing.T) {
	srv, addr := testServer(t, Config{})
	c := dial(t, addr)
	c.expectDo(psReply(2, "subscribe", "x", 1), "SUBSCRIBE", "x")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"GET", "k"}, ctxErr("get")},
		{[]string{"SET", "k", "v"}, ctxErr("set")},
		{[]string{"CLIENT", "LIST"}, ctxErr("client|list")},
		{[]string{"PUBLISH", "x", "y"}, ctxErr("publish")},
		{[]string{"SPUBLISH", "x", "y"}, ctxErr("spublish")},
		{[]string{"PUBSUB", "NUMSUB", "x"}, ctxErr("pubsub|numsub")},
		{[]string{"HELLO", "3"}, ctxErr("hello")},
		{[]string{"MGET", "a", "b"}, "-" + msgCrossSlot + "\r\n"}, // cluster routing comes first
		{[]string{"FOO"}, "-ERR unknown command 'FOO', with args beginning with: \r\n"},
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"PING"}, "*2\r\n$4\r\npong\r\n$0\r\n\r\n"},
		{[]string{"PING", "hi"}, "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"},
		{[]string{"PING", "a", "b"}, "-ERR wrong number of arguments for 'ping' command\r\n"},
		{[]string{"SSUBSCRIBE", "a", "b"}, "-" + msgCrossSlot + "\r\n"},
		{[]string{"SSUBSCRIBE", "{t}a"}, psReply(2, "ssubscribe", "{t}a", 1)},
		{[]string{"PSUBSCRIBE", "p*"}, psReply(2, "psubscribe", "p*", 2)},
		{[]string{"UNSUBSCRIBE", "x"}, psReply(2, "unsubscribe", "x", 1)},
		{[]string{"PUNSUBSCRIBE", "p*"}, psReply(2, "punsubscribe", "p*", 0)},
		{[]string{"GET", "k"}, ctxErr("get")}, // a shard subscription keeps the context
		{[]string{"SUNSUBSCRIBE", "{t}a"}, psReply(2, "sunsubscribe", "{t}a", 0)},
		{[]string{"GET", "k"}, "$-1\r\n"},
		{[]string{"SUBSCRIBE", "x"}, psReply(2, "subscribe", "x", 1)},
	}
	for _, tc := range cases {
		c.expectDo(tc.want, tc.args...)
	}
	// A pipeline keeps its order; QUIT writes everything, then closes.
	c.send(encodeCommand("GET", "k") + encodeCommand("PING") + encodeCommand("QUIT"))
	c.expect(ctxErr("get"))
	c.expect("*2\r\n$4\r\npong\r\n$0\r\n\r\n")
	c.expect("+OK\r\n")
	c.expectEOF()
	info := srv.infoText([][]byte{[]byte("commandstats")})
	if !strings.Contains(info, "cmdstat_get:calls=1,") || !strings.Contains(info, "rejected_calls=4,failed_calls=0") {
		t.Errorf("commandstats:\n%s", info)
	}
}

// TestPubSubPipelineIntoSubscribe checks that replies written before a
// subscription precede its confirmation and the messages it receives.
func TestPubSubPipelineIntoSubscribe(t *testing.T) {
	be := newFakeBackend()
	_, addr := testServer(t, Config{Backend: be})
	c, pub := dial(t, addr), dial(t, addr)
	c.send(encodeCommand("SET", "k", "v") + encodeCommand("GET", "k") + encodeCommand("SUBSCRIBE", "n") +
		encodeCommand("PING") + encodeCommand("GET", "k"))
	c.expect("+OK\r\n")
	c.expect("$1\r\nv\r\n")
	c.expect(psReply(2, "subscribe", "n", 1))
	c.expect("*2\r\n$4\r\npong\r\n$0\r\n\r\n")
	c.expect(ctxErr("get"))
	pub.expectDo(":1\r\n", "PUBLISH", "n", "m")
	c.expect(psReply(2, "message", "n", "m"))
}

func TestPubSubReset(t *testing.T) {
	_, addr := testServer(t, Config{})
	c, o := dial(t, addr), dial(t, addr)
	c.do("HELLO", "3")
	c.do("SUBSCRIBE", "a")
	c.do("PSUBSCRIBE", "p*")
	c.do("SSUBSCRIBE", "s")
	c.expectDo("+RESET\r\n", "RESET")
	c.expectDo("$-1\r\n", "GET", "k") // RESP2 again, outside the context
	o.expectDo(":0\r\n", "PUBLISH", "a", "x")
	o.expectDo(":0\r\n", "PUBLISH", "pq", "x")
	o.expectDo(":0\r\n", "PUBSUB", "NUMPAT")
	o.expectDo("*2\r\n$1\r\ns\r\n:0\r\n", "PUBSUB", "SHARDNUMSUB", "s")
	if info := c.do("CLIENT", "INFO"); !strings.Contains(info, " flags=N db=0 sub=0 psub=0 ssub=0 ") {
		t.Errorf("CLIENT INFO after RESET = %q", info)
	}
	// RESET in the RESP2 context is allowed.
	c.do("SUBSCRIBE", "a")
	c.expectDo("+RESET\r\n", "RESET")
	c.expectDo("$-1\r\n", "GET", "k")
}

func TestPubSubCommands(t *testing.T) {
	_, addr := testServer(t, Config{})
	s1, s2, c := dial(t, addr), dial(t, addr), dial(t, addr)
	s1.send(encodeCommand("SUBSCRIBE", "news.1", "news.2", "sport"))
	for range 3 {
		s1.read()
	}
	s2.send(encodeCommand("SUBSCRIBE", "news.1", "") + encodeCommand("PSUBSCRIBE", "news.*", "x") +
		encodeCommand("SSUBSCRIBE", "{g}1", "{g}2"))
	for range 6 {
		s2.read()
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"PUBSUB", "CHANNELS"}, "*4\r\n$0\r\n\r\n$6\r\nnews.1\r\n$6\r\nnews.2\r\n$5\r\nsport\r\n"},
		{[]string{"PUBSUB", "CHANNELS", "*"}, "*3\r\n$6\r\nnews.1\r\n$6\r\nnews.2\r\n$5\r\nsport\r\n"}, // "*" never matches ""
		{[]string{"PUBSUB", "CHANNELS", "news.[2-9]"}, "*1\r\n$6\r\nnews.2\r\n"},
		{[]string{"PUBSUB", "CHANNELS", "NEWS*"}, "*0\r\n"},
		{[]string{"PUBSUB", "NUMSUB"}, "*0\r\n"},
		{[]string{"PUBSUB", "NUMSUB", "news.1", "news.*", ""}, "*6\r\n$6\r\nnews.1\r\n:2\r\n$6\r\nnews.*\r\n:0\r\n$0\r\n\r\n:1\r\n"},
		{[]string{"PUBSUB", "NUMPAT"}, ":2\r\n"},
		{[]string{"PUBSUB", "SHARDCHANNELS"}, "*2\r\n$4\r\n{g}1\r\n$4\r\n{g}2\r\n"},
		{[]string{"PUBSUB", "SHARDCHANNELS", "*2"}, "*1\r\n$4\r\n{g}2\r\n"},
		{[]string{"PUBSUB", "SHARDNUMSUB", "{g}1", "news.1"}, "*4\r\n$4\r\n{g}1\r\n:1\r\n$6\r\nnews.1\r\n:0\r\n"},
		{[]string{"PUBSUB", "CHANNELS", "a", "b"}, "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n"},
		{[]string{"pubsub", "shardchannels", "a", "b"}, "-ERR unknown subcommand or wrong number of arguments for 'shardchannels'. Try PUBSUB HELP.\r\n"},
		{[]string{"PUBSUB", "NUMPAT", "x"}, "-ERR wrong number of arguments for 'pubsub|numpat' command\r\n"},
		{[]string{"PUBSUB", "FOO"}, "-ERR unknown subcommand 'FOO'. Try PUBSUB HELP.\r\n"},
		{[]string{"PUBSUB"}, "-ERR wrong number of arguments for 'pubsub' command\r\n"},
		{[]string{"PUBLISH", "a"}, "-ERR wrong number of arguments for 'publish' command\r\n"},
		{[]string{"SUBSCRIBE"}, "-ERR wrong number of arguments for 'subscribe' command\r\n"},
		{[]string{"SSUBSCRIBE"}, "-ERR wrong number of arguments for 'ssubscribe' command\r\n"},
		{[]string{"PUBLISH", "news.1", "m"}, ":3\r\n"},
		{[]string{"SPUBLISH", "{g}1", "m"}, ":1\r\n"},
		{[]string{"SPUBLISH", "news.1", "m"}, ":0\r\n"}, // shard channels are a separate namespace
		{[]string{"PUBLISH", "{g}1", "m"}, ":0\r\n"},
		{[]string{"COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b"}, "-" + msgNoKeyArgs + "\r\n"},
	}
	for _, tc := range cases {
		c.expectDo(tc.want, tc.args...)
	}
	help := c.do("PUBSUB", "HELP")
	if !strings.HasPrefix(help, "*14\r\n+PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+CHANNELS [<pattern>]\r\n") ||
		!strings.HasSuffix(help, "+HELP\r\n+    Prints this help.\r\n") {
		t.Errorf("PUBSUB HELP = %q", help)
	}
	s1.expect(psReply(2, "message", "news.1", "m"))
	s2.expect(psReply(2, "message", "news.1", "m"))
	s2.expect(psReply(2, "pmessage", "news.*", "news.1", "m"))
	s2.expect(psReply(2, "smessage", "{g}1", "m"))
}

func TestPubSubClientListAndInfo(t *testing.T) {
	srv, addr := testServer(t, Config{})
	a, b := dial(t, addr), dial(t, addr)
	aid := strings.TrimSuffix(strings.TrimPrefix(a.do("CLIENT", "ID"), ":"), "\r\n")
	a.do("READONLY")
	a.send(encodeCommand("SUBSCRIBE", "c1", "c2") + encodeCommand("PSUBSCRIBE", "p*") + encodeCommand("SSUBSCRIBE", "s"))
	for range 4 {
		a.read()
	}
	list := parseTree(t, b.do("CLIENT", "LIST", "TYPE", "pubsub")).str
	if !strings.HasPrefix(list, "id="+aid+" ") || strings.Count(list, "\n") != 1 ||
		!strings.Contains(list, " flags=Pr db=0 sub=2 psub=1 ssub=1 multi=-1 ") {
		t.Errorf("CLIENT LIST TYPE pubsub = %q", list)
	}
	normal := parseTree(t, b.do("CLIENT", "LIST", "TYPE", "normal")).str
	if strings.Contains(normal, "id="+aid+" ") || strings.Count(normal, "\n") != 1 ||
		!strings.Contains(normal, " flags=N db=0 sub=0 psub=0 ssub=0 ") {
		t.Errorf("CLIENT LIST TYPE normal = %q", normal)
	}
	info := srv.infoText([][]byte{[]byte("stats")})
	if !strings.Contains(info, "\r\npubsub_channels:2\r\npubsub_patterns:1\r\npubsubshard_channels:1\r\n") {
		t.Errorf("INFO stats:\n%s", info)
	}
	b.expectDo(":1\r\n", "CLIENT", "KILL", "TYPE", "pubsub")
	a.expectEOF()
	waitFor(t, "the killed subscriber to leave its channels", func() bool {
		c, p, s := srv.hub.counts()
		return c+p+s == 0
	})
	b.expectDo(":0\r\n", "CLIENT", "KILL", "TYPE", "pubsub")
}

func TestPubSubShardRouting(t *testing.T) {
	far, down := slots.Slot([]byte("far")), slots.Slot([]byte("down"))
	fp := &fakePubSub{notServed: map[int]fsm.Reply{
		far:  {Kind: fsm.KindError, Code: fsm.CodeMoved, Int: int64(far), Str: "10.0.0.2:7000"},
		down: fsm.Err(fsm.CodeClusterDown),
	}}
	srv, addr := testServer(t, Config{PubSub: fp})
	if slots.Slot([]byte("a")) == slots.Slot([]byte("b")) {
		t.Fatal("test channels a and b share a slot")
	}
	c := dial(t, addr)
	moved := fmt.Sprintf("-MOVED %d 10.0.0.2:7000\r\n", far)
	c.expectDo(moved, "SPUBLISH", "far", "m")
	c.expectDo(moved, "SSUBSCRIBE", "far")
	c.expectDo(moved, "SUNSUBSCRIBE", "far")
	c.expectDo("-CLUSTERDOWN The cluster is down\r\n", "SPUBLISH", "down", "m")
	c.expectDo("-"+msgCrossSlot+"\r\n", "SSUBSCRIBE", "a", "b")
	c.expectDo("-"+msgCrossSlot+"\r\n", "SUNSUBSCRIBE", "a", "b")
	c.expectDo(psReply(2, "sunsubscribe", nil, 0), "SUNSUBSCRIBE") // no channel, no routing
	c.expectDo(":0\r\n", "SPUBLISH", "near", "m")
	c.expectDo(psReply(2, "ssubscribe", "near", 1), "SSUBSCRIBE", "near")
	// In the RESP2 context, routing still comes first.
	c.expectDo(moved, "SPUBLISH", "far", "m")
	c.expectDo(ctxErr("spublish"), "SPUBLISH", "near", "m")
	if got := fp.sent(); len(got) != 1 || got[0] != fmt.Sprintf("near m true %d", slots.Slot([]byte("near"))) {
		t.Errorf("published to the cluster: %q", got)
	}
	info := srv.infoText([][]byte{[]byte("commandstats")})
	for _, want := range []string{"cmdstat_spublish:calls=1,", "rejected_calls=4,failed_calls=0\r\ncmdstat_ssubscribe:calls=1,"} {
		if !strings.Contains(info, want) {
			t.Errorf("commandstats lacks %q:\n%s", want, info)
		}
	}
}

// TestGoRedisPubSub runs go-redis's PubSub (RESP2 and RESP3) against the
// server: subscribe, pattern subscribe, receive, and its PING.
func TestGoRedisPubSub(t *testing.T) {
	_, addr := testServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, proto := range []int{2, 3} {
		rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto})
		ps := rdb.Subscribe(ctx, "gr")
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("RESP%d subscribe: %v", proto, err)
		}
		if err := ps.PSubscribe(ctx, "g*"); err != nil {
			t.Fatalf("RESP%d psubscribe: %v", proto, err)
		}
		if err := ps.Ping(ctx); err != nil {
			t.Fatalf("RESP%d pubsub PING: %v", proto, err)
		}
		waitFor(t, "the pattern subscription", func() bool { return rdb.PubSubNumPat(ctx).Val() == 1 })
		if n, err := rdb.Publish(ctx, "gr", "hello").Result(); err != nil || n != 2 {
			t.Fatalf("RESP%d PUBLISH = %d, %v", proto, n, err)
		}
		var got []string
		for len(got) < 2 {
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				t.Fatalf("RESP%d receive: %v", proto, err)
			}
			got = append(got, msg.Pattern+"|"+msg.Channel+"|"+msg.Payload)
		}
		if strings.Join(got, " ") != "|gr|hello g*|gr|hello" {
			t.Errorf("RESP%d messages = %q", proto, got)
		}
		if err := ps.Close(); err != nil {
			t.Errorf("RESP%d close: %v", proto, err)
		}
		rdb.Close()
	}
}

// pair is the same client on redis-server and on Troika.
type pair struct {
	t         *testing.T
	r, tr     *rawConn
	nameForGo string
}

// do sends a command to both and compares the reply, then reads and
// compares extra more replies (further confirmations, pushes).
func (p pair) do(extra int, args ...string) {
	p.t.Helper()
	req := encodeCommand(args...)
	p.r.send(req)
	p.tr.send(req)
	p.same(fmt.Sprintf("%s %q", p.nameForGo, args))
	for i := range extra {
		p.same(fmt.Sprintf("%s %q reply %d", p.nameForGo, args, i+2))
	}
}

// same reads one reply from both and compares them.
func (p pair) same(what string) {
	p.t.Helper()
	want, got := p.r.read(), p.tr.read()
	if strings.HasPrefix(what, p.nameForGo+" [\"HELLO\"") {
		want, got = stripHelloID(want), stripHelloID(got)
	}
	if got != want {
		p.t.Errorf("%s:\n troika: %q\n  redis: %q", what, got, want)
	}
}

// TestOraclePubSub runs the same multi-client Pub/Sub session on
// redis-server and Troika and compares every reply and message. (Keyed
// commands are left to the differential scripts: redis-server's cluster
// state needs 2s to turn ok, and answers CLUSTERDOWN until then.)
func TestOraclePubSub(t *testing.T) {
	raddr := startRedis(t)
	if got := dial(t, raddr).do("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); got != "+OK\r\n" {
		t.Fatalf("ADDSLOTSRANGE: %q", got)
	}
	_, taddr := testServer(t, Config{})
	client := func(name string) pair {
		return pair{t: t, r: dial(t, raddr), tr: dial(t, taddr), nameForGo: name}
	}
	a, b, p := client("a"), client("b"), client("p")
	a.do(1, "SUBSCRIBE", "x", "y")
	a.do(0, "PSUBSCRIBE", "x*")
	b.do(0, "HELLO", "3")
	b.do(0, "SUBSCRIBE", "x")
	b.do(1, "SSUBSCRIBE", "{s}1", "{s}2")
	b.do(0, "SSUBSCRIBE", "{s}1", "{t}")
	p.do(0, "PUBSUB", "NUMSUB", "x", "y", "z")
	p.do(0, "PUBSUB", "NUMPAT")
	p.do(0, "PUBSUB", "SHARDNUMSUB", "{s}1", "{s}2", "{s}3")
	p.do(0, "PUBSUB", "CHANNELS", "y*")
	p.do(0, "PUBSUB", "SHARDCHANNELS", "*2")
	p.do(0, "PUBLISH", "x", "m1")
	a.same("a: message x")
	a.same("a: pmessage x* x")
	b.same("b: message x")
	p.do(0, "PUBLISH", "xyz", "m2")
	a.same("a: pmessage x* xyz")
	p.do(0, "SPUBLISH", "{s}2", "m3")
	b.same("b: smessage {s}2")
	p.do(0, "SPUBLISH", "x", "m4")
	for _, cmd := range [][]string{{"PING"}, {"PING", "z"}, {"CLIENT", "ID"}, {"ECHO", "e"},
		{"PUBLISH", "x", "y"}, {"PUBSUB", "NUMPAT"}, {"FOO"}, {"GET"}, {"MGET", "a", "b"}, {"SUNSUBSCRIBE", "a", "b"}} {
		a.do(0, cmd...)
	}
	b.do(0, "PING")
	b.do(0, "PUBLISH", "x", "self") // the push, then the reply
	b.same("b: PUBLISH reply")
	b.do(0, "UNSUBSCRIBE", "nosuch")
	b.do(0, "SUNSUBSCRIBE", "{s}2")
	a.do(1, "UNSUBSCRIBE", "x", "x")
	a.do(0, "PUNSUBSCRIBE")
	a.do(0, "PUNSUBSCRIBE")
	a.do(0, "ECHO", "still subscribed to y")
	a.do(0, "UNSUBSCRIBE", "y")
	a.do(0, "UNSUBSCRIBE")
	a.do(0, "SUNSUBSCRIBE")
	p.do(0, "PUBLISH", "y", "nobody")
	b.do(0, "RESET")
	b.do(0, "UNSUBSCRIBE")
	p.do(0, "PUBSUB", "NUMSUB", "x", "y")
	p.do(0, "PUBSUB", "SHARDNUMSUB", "{s}1", "{t}")
	p.do(0, "PUBLISH", "x", "m5")
	a.do(0, "SUBSCRIBE", "q")
	a.do(0, "QUIT")
	a.same("a: after QUIT") // both closed: readRawReply fails the same way
}
