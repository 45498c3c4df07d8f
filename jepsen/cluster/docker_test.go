package cluster

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDocker runs the core faults on a 3-node docker cluster.
func TestDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	if err := dockerUsable(context.Background()); err != nil {
		t.Skipf("docker backend unusable here: %v", err)
	}
	c := startTestCluster(t, KindDocker, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := c.Nodes()
	// Commands run in node i's network namespace (its container's).
	nsOf := func(i int) []string {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", c.nodes[i].container).Output()
		if err != nil {
			t.Fatalf("docker inspect: %v", err)
		}
		return []string{"nsenter", "-t", strings.TrimSpace(string(out)), "-n"}
	}

	setGet(t, ctx, c, "jepsen:a", "1")
	if !tcpReachable(t, nsOf(0), nodes[1].IP, 6379) {
		t.Fatal("n1 cannot reach n2 before any partition")
	}
	if err := c.Partition(ctx, [][]int{{0}}, CutAll); err != nil {
		t.Fatal(err)
	}
	pingAll(t, ctx, c, 0, 1, 2)
	if tcpReachable(t, nsOf(0), nodes[1].IP, 6379) {
		t.Fatal("traffic crosses the partition")
	}
	waitFailing(t, ctx, c, 0, true, 1, 2)
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	waitFailing(t, ctx, c, 0, false, 1, 2)

	// A restarted container gets a new network namespace: the partition
	// in force is applied to it again.
	if err := c.Partition(ctx, [][]int{{0, 1}}, CutAll); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	requireDown(t, ctx, c, 2)
	if err := c.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	pingAll(t, ctx, c, 2)
	if tcpReachable(t, nsOf(2), nodes[0].IP, 6379) {
		t.Fatal("the restarted node escaped the partition")
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	waitFailing(t, ctx, c, 2, false, 0, 1)
	setGet(t, ctx, c, "jepsen:b", "2")

	// Pause, kill while paused, restart.
	if err := c.Pause(ctx, 1); err != nil {
		t.Fatal(err)
	}
	requirePaused(t, ctx, nodes[1].Addr)
	if err := c.Kill(ctx, 1); err != nil {
		t.Fatalf("kill a paused node: %v", err)
	}
	if err := c.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	pingAll(t, ctx, c, 1)

	// Grow and shrink.
	i, err := c.AddNode(ctx)
	if err != nil || i != 3 {
		t.Fatalf("AddNode = %d, %v", i, err)
	}
	waitListed(t, ctx, c, 0, 4)
	if err := c.RemoveNode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitListed(t, ctx, c, 0, 3)

	// Close copes with a paused container.
	if err := c.Pause(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	filter := "label=" + dockerLabel + "=" + c.runID
	for _, cmd := range [][]string{
		{"docker", "ps", "-aq", "--filter", filter},
		{"docker", "network", "ls", "-q", "--filter", filter},
		{"docker", "images", "-q", "--filter", filter},
	} {
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Fatalf("%v still lists %s", cmd, strconv.Quote(s))
		}
	}
}
