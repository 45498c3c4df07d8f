package gossip

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"hash/crc32"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// encodeMsg encodes v the way memberlist does: type byte, then msgpack.
func encodeMsg(t *testing.T, kind byte, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte(kind)
	if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The field sets of memberlist's alive and suspect/dead messages.
type wireAlive struct {
	Incarnation uint32
	Node        string
	Addr        []byte
	Port        uint16
	Meta        []byte
	Vsn         []uint8
}

type wireDead struct {
	Incarnation uint32
	Node        string
	From        string
}

func compound(parts ...[]byte) []byte {
	out := []byte{msgCompound, byte(len(parts))}
	for _, p := range parts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func collect(w *wireReader, pkt []byte) []stateMsg {
	var got []stateMsg
	w.each(pkt, func(m stateMsg) { got = append(got, m) })
	return got
}

func TestWireReader(t *testing.T) {
	alive := encodeMsg(t, msgAlive, wireAlive{Incarnation: 7, Node: "a", Addr: []byte{127, 0, 0, 1}, Port: 7000, Meta: []byte("m"), Vsn: []uint8{1, 5, 2, 0, 0, 0}})
	suspect := encodeMsg(t, msgSuspect, wireDead{Incarnation: 8, Node: "b", From: "a"})
	dead := encodeMsg(t, msgDead, wireDead{Incarnation: 9, Node: "c", From: "c"})
	ping := encodeMsg(t, 0, struct{ SeqNo uint32 }{1})
	want := []stateMsg{
		{Kind: msgAlive, Incarnation: 7, Node: "a"},
		{Kind: msgSuspect, Incarnation: 8, Node: "b", From: "a"},
		{Kind: msgDead, Incarnation: 9, Node: "c", From: "c"},
	}
	plain := compound(ping, alive, suspect, dead)

	crc := []byte{msgHasCRC, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(crc[1:], crc32.ChecksumIEEE(plain))
	withCRC := append(crc, plain...)

	var lz bytes.Buffer
	zw := lzw.NewWriter(&lz, lzw.LSB, 8)
	_, _ = zw.Write(plain)
	_ = zw.Close()
	compressed := encodeMsg(t, msgCompress, struct {
		Algo uint8
		Buf  []byte
	}{0, lz.Bytes()})

	labeled := append([]byte{msgHasLabel, 3, 'a', 'b', 'c'}, withCRC...)

	w := &wireReader{}
	for name, pkt := range map[string][]byte{
		"compound":   plain,
		"crc":        withCRC,
		"compressed": compressed,
		"labeled":    labeled,
	} {
		if got := collect(w, pkt); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
	if got := collect(w, alive); !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("single: got %+v", got)
	}
	// Garbage and truncation are ignored, never a panic.
	for _, pkt := range [][]byte{nil, {msgCompound}, {msgCompound, 3, 0}, plain[:len(plain)-3], {msgHasCRC, 1}, {msgAlive, 0xc1}, {msgHasLabel, 9, 'x'}} {
		for _, m := range collect(w, pkt) {
			if m.Node == "c" { // the last part was truncated away
				t.Errorf("truncated packet %x yielded %+v", pkt, m)
			}
		}
	}
}

func testNodeArg(name string, meta string) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: net.IPv4(10, 0, 0, 1).To4(), Port: 7000, Meta: []byte(meta)}
}

func TestTableStateMachine(t *testing.T) {
	tb := newTable("self", true)
	d := (*eventDelegate)(tb)
	d.NotifyJoin(testNodeArg("x", "m1"))
	state := func() State { m, _ := tb.member("x"); return m.State }

	steps := []struct {
		msg  stateMsg
		want State
	}{
		{stateMsg{Kind: msgAlive, Incarnation: 3, Node: "x"}, StateAlive},
		{stateMsg{Kind: msgSuspect, Incarnation: 2, Node: "x", From: "y"}, StateAlive}, // stale
		{stateMsg{Kind: msgSuspect, Incarnation: 3, Node: "x", From: "y"}, StateSuspect},
		{stateMsg{Kind: msgAlive, Incarnation: 3, Node: "x"}, StateSuspect}, // not newer: no refute
		{stateMsg{Kind: msgAlive, Incarnation: 4, Node: "x"}, StateAlive},   // refuted
		{stateMsg{Kind: msgDead, Incarnation: 4, Node: "x", From: "x"}, StateAlive},
	}
	for i, s := range steps {
		tb.observeSent(s.msg)
		if got := state(); got != s.want {
			t.Fatalf("step %d (%+v): state %s, want %s", i, s.msg, got, s.want)
		}
	}

	// Death without a leave announcement is dead; a later sent leave of
	// the same incarnation refines it to left.
	d.NotifyLeave(testNodeArg("x", "m1"))
	if state() != StateDead {
		t.Fatalf("after NotifyLeave: %s, want dead", state())
	}
	tb.observeSent(stateMsg{Kind: msgDead, Incarnation: 4, Node: "x", From: "x"})
	if state() != StateLeft {
		t.Fatalf("after the sent leave: %s, want left", state())
	}

	// A received leave announcement makes the next NotifyLeave a left.
	d.NotifyJoin(testNodeArg("x", "m2"))
	tb.observeReceived(stateMsg{Kind: msgDead, Incarnation: 9, Node: "x", From: "x"})
	d.NotifyLeave(testNodeArg("x", "m2"))
	if state() != StateLeft {
		t.Fatalf("after received leave + NotifyLeave: %s, want left", state())
	}
	// ... but not a dead message sent by someone else.
	d.NotifyJoin(testNodeArg("x", "m2"))
	tb.observeReceived(stateMsg{Kind: msgDead, Incarnation: 9, Node: "x", From: "y"})
	d.NotifyLeave(testNodeArg("x", "m2"))
	if state() != StateDead {
		t.Fatalf("after someone's dead + NotifyLeave: %s, want dead", state())
	}

	var kinds []string
	for _, e := range tb.takeEvents() {
		kinds = append(kinds, e.Kind.String()+":"+e.Member.State.String())
	}
	want := "join:alive update:suspect update:alive leave:dead update:left join:alive leave:left join:alive leave:dead"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	if evs := tb.takeEvents(); len(evs) != 0 {
		t.Fatalf("events not cleared: %v", evs)
	}

	// Refute safety net and retention.
	tb.observeSent(stateMsg{Kind: msgAlive, Incarnation: 20, Node: "x"}) // dead: ignored
	d.NotifyJoin(testNodeArg("x", "m3"))
	tb.observeSent(stateMsg{Kind: msgSuspect, Incarnation: 20, Node: "x", From: "y"})
	now := time.Now()
	tb.refuted(map[string]bool{"x": true}, time.Minute, now)
	if state() != StateSuspect {
		t.Fatal("refuted before the suspicion bound")
	}
	tb.refuted(map[string]bool{"x": false}, 0, now.Add(time.Hour))
	if state() != StateSuspect {
		t.Fatal("refuted although memberlist does not list it")
	}
	tb.refuted(map[string]bool{"x": true}, time.Minute, now.Add(time.Hour))
	if state() != StateAlive {
		t.Fatal("not refuted after the suspicion bound")
	}
	d.NotifyLeave(testNodeArg("x", "m3"))
	tb.reap(time.Minute, time.Now())
	if _, ok := tb.member("x"); !ok {
		t.Fatal("reaped before the retention")
	}
	tb.reap(time.Minute, time.Now().Add(2*time.Minute))
	if _, ok := tb.member("x"); ok {
		t.Fatal("not reaped after the retention")
	}
}

func TestPreamble(t *testing.T) {
	b, err := appendPreamble(nil, "10.1.2.3:7000")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readPreamble(bytes.NewReader(append(b, "rest"...)))
	if err != nil || got != "10.1.2.3:7000" {
		t.Fatalf("roundtrip: %q %v", got, err)
	}
	for _, bad := range [][]byte{[]byte("TK\x01\x00"), []byte("TG\x02\x00"), []byte("TG\x01\x05ab"), []byte("T")} {
		if _, err := readPreamble(bytes.NewReader(bad)); err == nil {
			t.Errorf("preamble %q accepted", bad)
		}
	}
	if _, err := appendPreamble(nil, strings.Repeat("x", 256)); err == nil {
		t.Error("256-byte address accepted")
	}
}

// TestAcceptSideFilter: a node whose Allow refuses a peer drops that peer's
// streams itself, even when the dialer has no filter.
func TestAcceptSideFilter(t *testing.T) {
	var mu sync.Mutex
	refuse := ""
	a := startNode(t, nodeOpts{allow: func(from, to string) bool {
		mu.Lock()
		defer mu.Unlock()
		return from != refuse
	}})
	b := startNode(t, nodeOpts{})
	mu.Lock()
	refuse = b.addr()
	mu.Unlock()
	if n, err := b.g.Join([]string{a.addr()}); err == nil || n != 0 {
		t.Fatalf("join through a refusing peer: n=%d err=%v, want failure", n, err)
	}
	if _, ok := a.g.Member(b.name); ok {
		t.Fatal("refused peer got in")
	}
	mu.Lock()
	refuse = ""
	mu.Unlock()
	if _, err := b.g.Join([]string{a.addr()}); err != nil {
		t.Fatal(err)
	}
	both := []*testNode{a, b}
	waitFor(t, "joined", func() string { return allSee(both, both) })
}

func TestAdvertiseAddr(t *testing.T) {
	cases := []struct {
		advertise, bind string
		want            string // "" = error
	}{
		{"", "127.0.0.1:0", "127.0.0.1:4242"},
		{"", "127.0.0.1:7000", "127.0.0.1:7000"},
		{"10.0.0.9:7100", "0.0.0.0:7000", "10.0.0.9:7100"},
		{"localhost:7000", "0.0.0.0:7000", "127.0.0.1:7000"},
		{"", "0.0.0.0:7000", ""},
		{"[::]:7000", "", ""},
		{"nonsense", "", ""},
	}
	for _, c := range cases {
		ip, port, err := advertiseAddr(c.advertise, c.bind, 4242)
		got := ""
		if err == nil {
			got = net.JoinHostPort(ip.String(), strconv.Itoa(port))
		}
		if got != c.want && !(c.want == "127.0.0.1:7000" && got == "[::1]:7000") {
			t.Errorf("advertiseAddr(%q, %q) = %q, %v; want %q", c.advertise, c.bind, got, err, c.want)
		}
	}
}

func TestTuningDefaults(t *testing.T) {
	got, err := Tuning{}.withDefaults()
	if err != nil || got != LANTuning() {
		t.Fatalf("zero Tuning = %+v, %v; want LANTuning", got, err)
	}
	got, err = Tuning{ProbeInterval: 2 * time.Second}.withDefaults()
	if err != nil || got.ProbeInterval != 2*time.Second || got.ProbeTimeout != LANTuning().ProbeTimeout {
		t.Fatalf("partial Tuning = %+v, %v", got, err)
	}
	for _, bad := range []Tuning{
		{ProbeInterval: 100 * time.Millisecond, ProbeTimeout: time.Second},
		{GossipInterval: -1},
		{SuspicionMult: -1},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("Tuning %+v accepted", bad)
		}
	}
	if _, err := FastTuning().withDefaults(); err != nil {
		t.Fatal(err)
	}
}

func TestSplitLogLine(t *testing.T) {
	for line, want := range map[string][2]string{
		"[WARN] memberlist: Refuting a suspect message (from: x)": {"WARN", "Refuting a suspect message (from: x)"},
		"[DEBUG] memberlist: Stream connection from=1.2.3.4:5":    {"DEBUG", "Stream connection from=1.2.3.4:5"},
		"Err: Could not set the deadline: x":                      {"", "Err: Could not set the deadline: x"},
	} {
		if l, m := splitLogLine(line); l != want[0] || m != want[1] {
			t.Errorf("splitLogLine(%q) = %q, %q", line, l, m)
		}
	}
}

func TestStateStrings(t *testing.T) {
	want := map[State]string{StateAlive: "alive", StateSuspect: "suspect", StateDead: "dead", StateLeft: "left", State(9): "State(9)"}
	for s, w := range want {
		if s.String() != w {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), w)
		}
	}
}
