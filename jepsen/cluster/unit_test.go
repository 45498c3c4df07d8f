package cluster

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseClusterNodes(t *testing.T) {
	text := "abc 10.0.0.1:6379@16379 myself,master - 0 0 3 connected 0-5460\n" +
		"def 10.0.0.2:6379@16379 master,fail? - 0 0 3 connected\n\n"
	ls := parseClusterNodes(text)
	if len(ls) != 2 || ls[0].ID != "abc" || ls[1].Addr != "10.0.0.2:6379" || ls[0].failing() || !ls[1].failing() {
		t.Fatalf("parsed %+v", ls)
	}
	if v := infoField("cluster_state:ok\r\ncluster_known_nodes:3\r\n", "cluster_known_nodes"); v != "3" {
		t.Fatalf("infoField = %q", v)
	}
}

func TestComponentsAndRules(t *testing.T) {
	comp, err := componentOf([][]int{{0}, {2, 3}}, 5)
	if err != nil || !reflect.DeepEqual(comp, []int{0, -1, 1, 1, -1}) {
		t.Fatalf("componentOf = %v, %v", comp, err)
	}
	for _, bad := range [][][]int{{{0}, {0}}, {{5}}, {{-1}}} {
		if _, err := componentOf(bad, 5); err == nil {
			t.Errorf("componentOf(%v) accepted", bad)
		}
	}
	c := &cluster{clusterPort: 16379, nodes: []*node{
		{Node: Node{Index: 0, IP: "10.0.0.10"}}, {Node: Node{Index: 1, IP: "10.0.0.11"}},
		{Node: Node{Index: 2, IP: "10.0.0.12"}},
	}}
	if r := c.rulesFor(0); r != nil {
		t.Fatalf("rules without a partition: %v", r)
	}
	c.part = &partition{comps: [][]int{{0}}, cut: CutAll}
	want := []string{"-s 10.0.0.11 -j DROP", "-s 10.0.0.12 -j DROP"}
	if r := c.rulesFor(0); !reflect.DeepEqual(r, want) {
		t.Fatalf("rulesFor(0) = %v", r)
	}
	if r := c.rulesFor(1); !reflect.DeepEqual(r, []string{"-s 10.0.0.10 -j DROP"}) {
		t.Fatalf("rulesFor(1) = %v (nodes 1 and 2 share the implicit component)", r)
	}
	c.part.cut = CutRaft
	r := c.rulesFor(2)
	if len(r) != 2 || r[0] != "-s 10.0.0.10 -p tcp -m tcp --dport 16379 -j DROP" || r[1] != "-s 10.0.0.10 -p tcp -m tcp --sport 16379 -j DROP" {
		t.Fatalf("raft rules = %v", r)
	}
	c.part.cut = CutGossip
	if r := c.rulesFor(2); len(r) != 2 || !strings.Contains(r[1], "-s 10.0.0.10 -p udp -m udp --sport 16379") {
		t.Fatalf("gossip rules = %v", r)
	}
	c.part = &partition{grudge: map[int][]int{0: {1, 2}, 2: {0}}, cut: CutAll}
	if r := c.rulesFor(0); !reflect.DeepEqual(r, []string{"-s 10.0.0.11 -j DROP", "-s 10.0.0.12 -j DROP"}) {
		t.Fatalf("grudge rulesFor(0) = %v", r)
	}
	if r := c.rulesFor(1); r != nil {
		t.Fatalf("grudge rulesFor(1) = %v", r)
	}
	s := restoreScript([]string{"-s 1.2.3.4 -j DROP"})
	if s != "*filter\n:TJ-PART - [0:0]\n-A TJ-PART -s 1.2.3.4 -j DROP\nCOMMIT\n" {
		t.Fatalf("restoreScript = %q", s)
	}
}

func TestServerPorts(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		port, cport int
	}{
		{nil, 6379, 16379},
		{[]string{"--port", "7000"}, 7000, 17000},
		{[]string{"--cluster-port", "9000", "--debug-unsafe", "yes"}, 6379, 9000},
	} {
		p, cp := serverPorts(tc.args)
		if p != tc.port || cp != tc.cport {
			t.Errorf("serverPorts(%v) = %d, %d", tc.args, p, cp)
		}
	}
}

func TestFreeSubnet(t *testing.T) {
	var used []netip.Prefix
	for x := range 256 {
		if x != 77 {
			used = append(used, netip.MustParsePrefix("10.213."+strconv.Itoa(x)+".0/24"))
		}
	}
	used = append(used, netip.MustParsePrefix("0.0.0.0/0")) // a default route never clashes
	p, err := freeSubnet("10.213", used, nil)
	if err != nil || p.String() != "10.213.77.0/24" {
		t.Fatalf("freeSubnet = %v, %v", p, err)
	}
	if _, err := freeSubnet("10.213", used, map[string]bool{"10.213.77.0/24": true}); err == nil {
		t.Fatal("no free subnet, yet one was found")
	}
	if _, err := freeSubnet("10.213", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil); err == nil {
		t.Fatal("a covering /8 was ignored")
	}
	if hostIP(p, 10) != "10.213.77.10" {
		t.Fatal(hostIP(p, 10))
	}
}

func TestNewRejects(t *testing.T) {
	ctx := context.Background()
	if _, _, err := New(ctx, "nope", Options{}); err == nil {
		t.Fatal("unknown backend accepted")
	}
	if _, _, err := New(ctx, KindLocal, Options{Nodes: 0, Binary: "/bin/true", Dir: t.TempDir()}); err == nil {
		t.Fatal("0 nodes accepted")
	}
	if _, _, err := New(ctx, KindDocker, Options{Nodes: 1, Binary: filepath.Join(t.TempDir(), "missing"), Dir: t.TempDir()}); err == nil {
		t.Fatal("missing binary accepted")
	}
	if _, _, err := New(ctx, KindExisting, Options{}); err == nil {
		t.Fatal("existing without addresses accepted")
	}
	if err := Cleanup(ctx, KindLocal, "../x", nil); err == nil {
		t.Fatal("bad run id accepted")
	}
}

// TestExisting points the existing backend at a one-node cluster on
// loopback ports.
func TestExisting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	bin := serverBinary(t)
	dir := t.TempDir()
	ports := freeTCPPorts(t, 2)
	cmd := exec.Command(bin, "--port", strconv.Itoa(ports[0]), "--cluster-port", strconv.Itoa(ports[1]),
		"--bind", "127.0.0.1", "--dir", dir, "--logfile", filepath.Join(dir, "troika.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := poll(ctx, 100*time.Millisecond, func() error {
		_, err := respCommand(ctx, addr, "PING")
		return err
	}); err != nil {
		t.Fatalf("server did not answer: %v\n%s", err, tailFile(filepath.Join(dir, "troika.log"), 2000))
	}
	c, kind, err := New(ctx, KindExisting, Options{Existing: []string{addr}})
	if err != nil || kind != KindExisting {
		t.Fatalf("New: %v %v", kind, err)
	}
	ns := c.Nodes()
	if len(ns) != 1 || ns[0].Name != "n1" || ns[0].Addr != addr || ns[0].IP != "" {
		t.Fatalf("Nodes = %+v", ns)
	}
	for _, err := range []error{c.Kill(ctx, 0), c.Start(ctx, 0), c.Pause(ctx, 0), c.Resume(ctx, 0),
		c.Partition(ctx, [][]int{{0}}, CutAll), c.Heal(ctx), c.RemoveNode(ctx, 0),
		c.(*existing).Grudge(ctx, nil, CutAll)} {
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("fault returned %v", err)
		}
	}
	if _, err := c.AddNode(ctx); !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	if c.LogPath(0) != "" || c.Close() != nil {
		t.Fatal("LogPath/Close")
	}
	// A dead address is refused.
	if _, _, err := New(ctx, KindExisting, Options{Existing: []string{addr, "127.0.0.1:1"}}); err == nil {
		t.Fatal("unreachable address accepted")
	}
}

// freeTCPPorts returns n currently free loopback ports.
func freeTCPPorts(t *testing.T, n int) []int {
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func TestProcStart(t *testing.T) {
	if procStart(os.Getpid()) == "" {
		t.Skip("no /proc")
	}
	if procStart(1<<30) != "" {
		t.Fatal("start time of a missing process")
	}
}

func TestChooseBackend(t *testing.T) {
	ctx := context.Background()
	kind, err := chooseBackend(ctx, testLogger(t))
	lerr, derr := localUsable(ctx), dockerUsable(ctx)
	switch {
	case lerr == nil:
		if kind != KindLocal {
			t.Fatalf("local usable, auto chose %q (%v)", kind, err)
		}
	case derr == nil:
		if kind != KindDocker {
			t.Fatalf("docker usable, auto chose %q (%v)", kind, err)
		}
	default:
		if err == nil || !strings.Contains(err.Error(), "local:") || !strings.Contains(err.Error(), "docker:") {
			t.Fatalf("auto error %v does not explain both backends", err)
		}
	}
	t.Logf("auto: %q %v (local: %v; docker: %v)", kind, err, lerr, derr)
}
