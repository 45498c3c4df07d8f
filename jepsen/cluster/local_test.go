package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLocal drives a 3-node local cluster through every fault.
func TestLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	if err := localUsable(context.Background()); err != nil {
		t.Skipf("local backend unusable here: %v", err)
	}
	c := startTestCluster(t, KindLocal, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nodes := c.Nodes()
	ns := func(i int) []string { return []string{"ip", "netns", "exec", c.nodes[i].ns} }

	setGet(t, ctx, c, "jepsen:a", "1")
	if !tcpReachable(t, ns(0), nodes[1].IP, 6379) {
		t.Fatal("n1 cannot reach n2 before any partition")
	}

	// Isolate node 0 from {1, 2}.
	if err := c.Partition(ctx, [][]int{{0}, {1, 2}}, CutAll); err != nil {
		t.Fatal(err)
	}
	pingAll(t, ctx, c, 0, 1, 2)
	if tcpReachable(t, ns(0), nodes[1].IP, 6379) || tcpReachable(t, ns(2), nodes[0].IP, 16379) {
		t.Fatal("traffic crosses the partition")
	}
	if !tcpReachable(t, ns(1), nodes[2].IP, 6379) {
		t.Fatal("n2 cannot reach n3 in the same component")
	}
	waitFailing(t, ctx, c, 0, true, 1, 2)
	pingAll(t, ctx, c, 0, 1, 2)

	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if !tcpReachable(t, ns(0), nodes[1].IP, 6379) {
		t.Fatal("n1 cannot reach n2 after heal")
	}
	waitFailing(t, ctx, c, 0, false, 1, 2)
	setGet(t, ctx, c, "jepsen:b", "2")

	// Raft-only and gossip-only cuts: the client port stays reachable.
	if err := c.Partition(ctx, [][]int{{0, 1}}, CutRaft); err != nil {
		t.Fatal(err)
	}
	if tcpReachable(t, ns(0), nodes[2].IP, 16379) {
		t.Fatal("CutRaft lets the cluster port through")
	}
	if !tcpReachable(t, ns(0), nodes[2].IP, 6379) || !tcpReachable(t, ns(0), nodes[1].IP, 16379) {
		t.Fatal("CutRaft cuts too much")
	}
	if err := c.Partition(ctx, [][]int{{0, 1}}, CutGossip); err != nil {
		t.Fatal(err)
	}
	if !tcpReachable(t, ns(0), nodes[2].IP, 16379) {
		t.Fatal("CutGossip cuts TCP")
	}
	rules, err := exec.Command("ip", "netns", "exec", c.nodes[2].ns, "iptables", "-S", partChain).CombinedOutput()
	if err != nil || strings.Count(string(rules), "-p udp") != 4 {
		t.Fatalf("gossip cut rules on n3 (want 4 udp rules: 2 peers x sport/dport): %v\n%s", err, rules)
	}
	// One-directional: node 0 drops what node 1 sends it.
	if err := c.Grudge(ctx, map[int][]int{0: {1}}, CutAll); err != nil {
		t.Fatal(err)
	}
	if tcpReachable(t, ns(1), nodes[0].IP, 6379) || !tcpReachable(t, ns(2), nodes[0].IP, 6379) {
		t.Fatal("grudge {0: {1}} not applied as asked")
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}

	// Kill and restart.
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	requireDown(t, ctx, c, 2)
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatalf("second kill: %v", err)
	}
	if err := c.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	pingAll(t, ctx, c, 2)

	// Pause and resume.
	if err := c.Pause(ctx, 1); err != nil {
		t.Fatal(err)
	}
	requirePaused(t, ctx, nodes[1].Addr)
	if err := c.Resume(ctx, 1); err != nil {
		t.Fatal(err)
	}
	pingAll(t, ctx, c, 1)
	waitFailing(t, ctx, c, 2, false, 0, 1)
	setGet(t, ctx, c, "jepsen:c", "3")

	// Grow, then shrink.
	i, err := c.AddNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i != 3 || len(c.Nodes()) != 4 {
		t.Fatalf("AddNode returned %d, %d nodes", i, len(c.Nodes()))
	}
	waitListed(t, ctx, c, 0, 4)
	if err := c.RemoveNode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitListed(t, ctx, c, 0, 3)
	requireDown(t, ctx, c, 3)
	if len(c.Nodes()) != 4 {
		t.Fatal("a removed node must stay in Nodes()")
	}

	// Close leaves nothing behind, even with a node paused.
	if err := c.Pause(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	name := NamePrefix + c.runID
	for _, cmd := range [][]string{{"ip", "netns", "list"}, {"ip", "link"}, {"iptables", "-S", "FORWARD"}} {
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
		if strings.Contains(string(out), name) || strings.Contains(string(out), "troika-jepsen:"+c.runID) {
			t.Fatalf("%v still shows run %s:\n%s", cmd, c.runID, out)
		}
	}
}

// leftovers lists the local-backend names (namespaces, interfaces, FORWARD
// rules) present on this machine.
func leftovers(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	ns, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(ns)+string(links), "\n") {
		for _, f := range strings.Fields(l) {
			if name := strings.TrimSuffix(f, ":"); strings.HasPrefix(name, NamePrefix) {
				out[name] = true
			}
		}
	}
	fw, err := exec.Command("iptables", "-S", "FORWARD").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(fw), "\n") {
		if strings.Contains(l, "troika-jepsen:") {
			out[l] = true
		}
	}
	return out
}

// TestLocalFailedNewCleansUp: a node that cannot start makes New fail and
// remove everything it created.
func TestLocalFailedNewCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	if err := localUsable(context.Background()); err != nil {
		t.Skipf("local backend unusable here: %v", err)
	}
	bin := serverBinary(t)
	before := leftovers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := New(ctx, KindLocal, Options{Nodes: 2, Binary: bin, Dir: t.TempDir(),
		ServerArgs: []string{"--no-such-directive", "x"}, Log: testLogger(t)})
	if err == nil {
		c.Close()
		t.Fatal("New succeeded with a bad directive")
	}
	if !strings.Contains(err.Error(), "no-such-directive") {
		t.Errorf("the error does not show the server's complaint: %v", err)
	}
	t.Logf("New failed as expected: %v", err)
	for k := range leftovers(t) {
		if !before[k] {
			t.Errorf("left behind: %s", k)
		}
	}
}

// TestLocalStaleCleanup kills a harness process that owns a local cluster
// (no Close) and checks that its servers died with it and CleanupStale
// removes what it left.
func TestLocalStaleCleanup(t *testing.T) {
	if os.Getenv("TJ_STALE_HELPER") != "" {
		staleHelper()
		return
	}
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	if err := localUsable(context.Background()); err != nil {
		t.Skipf("local backend unusable here: %v", err)
	}
	bin := serverBinary(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalStaleCleanup$")
	cmd.Env = append(os.Environ(), "TJ_STALE_HELPER="+bin, "TJ_STALE_DIR="+t.TempDir())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	id, ok := strings.CutPrefix(strings.TrimSpace(line), "READY ")
	if err != nil || !ok {
		t.Fatalf("helper said %q: %v", line, err)
	}
	ns := localNSPrefix(id) + "0"
	pids, _ := exec.Command("ip", "netns", "pids", ns).Output()
	if strings.TrimSpace(string(pids)) == "" {
		t.Fatalf("no server in %s", ns)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killed = true
	// Pdeathsig: the server dies with the harness.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = poll(ctx, 100*time.Millisecond, func() error {
		pids, _ := exec.Command("ip", "netns", "pids", ns).Output()
		if s := strings.TrimSpace(string(pids)); s != "" {
			return fmt.Errorf("pids %s still in %s", s, ns)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if !leftovers(t)[ns] {
		t.Fatalf("namespace %s already gone", ns)
	}
	if err := CleanupStale(ctx, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	for k := range leftovers(t) {
		if strings.Contains(k, NamePrefix+id) || strings.Contains(k, "troika-jepsen:"+id) {
			t.Errorf("left behind: %s", k)
		}
	}
	if _, err := os.Stat(filepath.Join(StateDir, id+".json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("run record still there: %v", err)
	}
}

// staleHelper runs in the child process of TestLocalStaleCleanup: it starts
// a one-node cluster, reports its run id, and waits to be killed.
func staleHelper() {
	ctx := context.Background()
	c, _, err := New(ctx, KindLocal, Options{Nodes: 1, Binary: os.Getenv("TJ_STALE_HELPER"), Dir: os.Getenv("TJ_STALE_DIR")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("READY %s\n", c.(*cluster).runID)
	select {}
}
