package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// serverBinary builds troika-server once per test binary (static, so that
// the docker backend can use it too).
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		buildDir, buildErr = os.MkdirTemp("", "troika-jepsen-bin-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "troika-server")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/troika-server")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build troika-server: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// testLogger logs through t.Log (Info and above).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startTestCluster starts a cluster of the given backend with n nodes and
// closes it (dumping node logs on failure) when the test ends.
func startTestCluster(t *testing.T, kind string, n int) *cluster {
	t.Helper()
	bin := serverBinary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	c, got, err := New(ctx, kind, Options{
		Nodes:      n,
		Binary:     bin,
		Dir:        dir,
		ServerArgs: []string{"--cluster-node-timeout", "3000"},
		Log:        testLogger(t),
	})
	if err != nil {
		t.Fatalf("New(%s): %v", kind, err)
	}
	if got != kind {
		t.Fatalf("New(%s) chose %s", kind, got)
	}
	t.Logf("%s cluster of %d nodes up in %v", kind, n, time.Since(start).Round(time.Millisecond))
	cl := c.(*cluster)
	t.Cleanup(func() {
		if t.Failed() {
			for i := range cl.Nodes() {
				t.Logf("--- tail of %s:\n%s", cl.LogPath(i), tailFile(cl.LogPath(i), 3000))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return cl
}

// setGet writes key through the cluster, following MOVED, and reads it
// back (retrying while the cluster settles).
func setGet(t *testing.T, ctx context.Context, c Cluster, key, val string) {
	t.Helper()
	do := func(args ...string) (any, error) {
		addr := c.Nodes()[0].Addr
		for range 5 {
			v, err := respCommand(ctx, addr, args...)
			var re respError
			if errors.As(err, &re) && strings.HasPrefix(string(re), "MOVED ") {
				f := strings.Fields(string(re))
				addr = f[len(f)-1]
				continue
			}
			return v, err
		}
		return nil, errors.New("too many redirections")
	}
	err := poll(ctx, 200*time.Millisecond, func() error {
		v, err := do("SET", key, val)
		if err != nil {
			return err
		}
		if v != "OK" {
			return fmt.Errorf("SET answered %v", v)
		}
		if v, err = do("GET", key); err != nil {
			return err
		}
		if v != val {
			return errStop{fmt.Errorf("GET %s = %v, want %s", key, v, val)}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("set/get %s: %v", key, err)
	}
}

// pingAll checks the harness reaches every listed node.
func pingAll(t *testing.T, ctx context.Context, c Cluster, idx ...int) {
	t.Helper()
	for _, i := range idx {
		n := c.Nodes()[i]
		if v, err := respCommand(ctx, n.Addr, "PING"); err != nil || v != "PONG" {
			t.Fatalf("harness PING %s: %v %v", n.Name, v, err)
		}
	}
}

// waitPing polls until node i answers PING.
func waitPing(t *testing.T, ctx context.Context, c Cluster, i int) {
	t.Helper()
	n := c.Nodes()[i]
	err := poll(ctx, 100*time.Millisecond, func() error {
		_, err := respCommand(ctx, n.Addr, "PING")
		return err
	})
	if err != nil {
		t.Fatalf("%s never answered: %v", n.Name, err)
	}
}

// requireDown checks that node i's client port does not answer: a local
// node's namespace stays, so its port refuses; a killed container's
// address is gone (the dial times out or finds no host).
func requireDown(t *testing.T, ctx context.Context, c Cluster, i int) {
	t.Helper()
	n := c.Nodes()[i]
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := respCommand(dctx, n.Addr, "PING")
	if err == nil || (c.(*cluster).kind == KindLocal && !errors.Is(err, syscall.ECONNREFUSED)) {
		t.Fatalf("%s: want it down (connection refused for local), got %v", n.Name, err)
	}
}

// waitFailing polls until every observer's CLUSTER NODES shows node
// target's flags as failing (want) or not failing (!want).
func waitFailing(t *testing.T, ctx context.Context, c *cluster, target int, want bool, observers ...int) {
	t.Helper()
	id := c.nodes[target].id
	err := poll(ctx, 250*time.Millisecond, func() error {
		for _, o := range observers {
			n := c.Nodes()[o]
			text, err := respString(ctx, n.Addr, "CLUSTER", "NODES")
			if err != nil {
				return err
			}
			found := false
			for _, l := range parseClusterNodes(text) {
				if l.ID == id {
					found = true
					if l.failing() != want {
						return fmt.Errorf("%s sees %s as %v", n.Name, c.Nodes()[target].Name, l.Flags)
					}
				}
			}
			if !found {
				return fmt.Errorf("%s does not list %s", n.Name, c.Nodes()[target].Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for failing=%v: %v", want, err)
	}
}

// waitListed polls until node o's CLUSTER NODES lists want nodes.
func waitListed(t *testing.T, ctx context.Context, c Cluster, o, want int) {
	t.Helper()
	n := c.Nodes()[o]
	err := poll(ctx, 250*time.Millisecond, func() error {
		text, err := respString(ctx, n.Addr, "CLUSTER", "NODES")
		if err != nil {
			return err
		}
		if k := len(parseClusterNodes(text)); k != want {
			return fmt.Errorf("%s lists %d nodes, want %d", n.Name, k, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tcpReachable reports whether a TCP connection to ip:port succeeds from
// inside a network namespace (prefix is the command entering it).
func tcpReachable(t *testing.T, prefix []string, ip string, port int) bool {
	t.Helper()
	args := append(append([]string(nil), prefix...), "timeout", "3", "bash", "-c",
		"echo > /dev/tcp/"+ip+"/"+strconv.Itoa(port))
	err := exec.Command(args[0], args[1:]...).Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", args, err)
	}
	return err == nil
}

// requirePaused fails unless a PING to addr goes unanswered. SIGSTOP is
// delivered asynchronously (kill returns before every thread has
// stopped), so a PING racing with it is retried a few times; a node that
// answers every one was not paused.
func requirePaused(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := respCommand(pctx, addr, "PING")
		cancel()
		if err != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s still answers PING after being paused", addr)
}
