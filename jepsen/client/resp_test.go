package client

import (
	"bufio"
	"context"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadReply(t *testing.T) {
	in := "+OK\r\n-MOVED 12 1.2.3.4:6379\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\nx\r\n*-1\r\n*0\r\n"
	r := bufio.NewReader(strings.NewReader(in))
	want := []string{"OK", "(error) MOVED 12 1.2.3.4:6379", "42", `"abc"`, "(nil)", `["x" (nil array)]`, "[]"}
	for i, w := range want {
		rep, err := readReply(r, 0)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if rep.String() != w {
			t.Fatalf("reply %d = %s, want %s", i, rep, w)
		}
	}
	for _, bad := range []string{"$99999999999\r\n", "?x\r\n", ":x\r\n", "+OK\n", "$3\r\nabcd\r\n", "$-5\r\n"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad)), 0); err == nil {
			t.Fatalf("%q: no error", bad)
		}
	}
}

func TestOutcomes(t *testing.T) {
	if ReplyOutcome(Reply{Kind: '-', Str: "TIMEOUT the outcome of the command is unknown: x"}) != Info {
		t.Fatal("TIMEOUT must be info")
	}
	if ReplyOutcome(Reply{Kind: '-', Str: "CLUSTERDOWN The cluster is down"}) != Fail {
		t.Fatal("CLUSTERDOWN must be fail")
	}
	if ReplyOutcome(Reply{Kind: '+', Str: "OK"}) != OK {
		t.Fatal("+OK must be ok")
	}
	if ErrorOutcome(context.DeadlineExceeded) != Info {
		t.Fatal("a timeout must be info")
	}
}

func TestRedirect(t *testing.T) {
	cases := []struct {
		reps []Reply
		addr string
		ask  bool
	}{
		{[]Reply{{Kind: '-', Str: "MOVED 3 10.0.0.2:6379"}}, "10.0.0.2:6379", false},
		{[]Reply{{Kind: '-', Str: "ASK 3 10.0.0.2:6379"}}, "10.0.0.2:6379", true},
		{[]Reply{{Kind: '+', Str: "OK"}, {Kind: '-', Str: "MOVED 3 h:1"}, {Kind: '-', Str: "EXECABORT Transaction discarded"}}, "h:1", false},
		{[]Reply{{Kind: '+', Str: "OK"}, {Kind: '+', Str: "QUEUED"}, {Kind: '-', Str: "MOVED 3 h:1"}}, "h:1", false},
		{[]Reply{{Kind: '+', Str: "OK"}, {Kind: '-', Str: "ERR x"}, {Kind: '-', Str: "EXECABORT Transaction discarded"}}, "", false},
		{[]Reply{{Kind: '-', Str: "CLUSTERDOWN The cluster is down"}}, "", false},
	}
	for i, c := range cases {
		a, ask := redirect(c.reps)
		if a != c.addr || ask != c.ask {
			t.Errorf("case %d: %q %v, want %q %v", i, a, ask, c.addr, c.ask)
		}
	}
}

// fakeNode answers CLUSTER SLOTS with one range owned by owner, and any
// other command with MOVED to owner unless it is the owner itself.
func fakeNode(t *testing.T, self *string, owner *string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	*self = l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := readReply(r, 0)
					if err != nil {
						return
					}
					h, p, _ := net.SplitHostPort(*owner)
					var out string
					switch {
					case strings.EqualFold(req.Array[0].Str, "CLUSTER"):
						out = "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$" + strconv.Itoa(len(h)) + "\r\n" + h + "\r\n:" + p + "\r\n"
					case *self == *owner:
						out = "+served-by-owner\r\n"
					default:
						out = "-MOVED 0 " + *owner + "\r\n"
					}
					c.Write([]byte(out))
				}
			}()
		}
	}()
	return *self
}

func TestRouterFollowsMoved(t *testing.T) {
	var a, b, owner string
	fakeNode(t, &a, &owner)
	fakeNode(t, &b, &owner)
	owner = b
	// The map says a (a stale seed answers CLUSTER SLOTS pointing at
	// itself until the owner changes); every request to a is redirected.
	r := NewRouter([]string{a}, Options{Timeout: 2 * time.Second, Rand: rand.New(rand.NewSource(1)), RandomFirst: 1})
	defer r.Close()
	for i := 0; i < 5; i++ {
		reps, err := r.Exec(context.Background(), 0, [][]string{{"GET", "k"}})
		if err != nil {
			t.Fatal(err)
		}
		if reps[0].Str != "served-by-owner" {
			t.Fatalf("reply %s", reps[0])
		}
	}
}
