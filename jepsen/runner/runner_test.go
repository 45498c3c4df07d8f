package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/jepsen/workload"
)

// redisCluster starts Debian's redis-server as a one-node Redis Cluster
// owning every slot: the reference the workloads and checkers must find
// valid. It skips the test when redis-server is missing.
func redisCluster(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server): skipping the reference run")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir, "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	var c *client.Conn
	for {
		if c, err = client.Dial(context.Background(), addr, time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer c.Close()
	if r, err := c.Do(time.Second, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil || r.IsErr() {
		t.Fatalf("ADDSLOTSRANGE: %v %s", err, r)
	}
	for {
		r, err := c.Do(time.Second, "CLUSTER", "INFO")
		if err == nil && strings.Contains(r.Str, "cluster_state:ok") {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis cluster not ok: %v %s", err, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Every workload, run by the runner against real Redis (the existing
// backend), produces a valid history with successful operations of every
// kind and writes every results file.
func TestWorkloadsAgainstRedis(t *testing.T) {
	addr := redisCluster(t)
	store := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, wl := range workload.Names() {
		t.Run(wl, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Backend: "existing", Existing: []string{addr}, Workload: wl,
				TimeLimit: 1500 * time.Millisecond, Concurrency: 4, Seed: 5, Rate: 800, Store: store, Name: wl, Log: log})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Valid {
				t.Fatalf("reference run invalid:\n%s", Summary(res))
			}
			if res.Counts["ok"] < 50 {
				t.Fatalf("only %d ok operations", res.Counts["ok"])
			}
			for _, f := range []string{"history.jsonl", "results.json", "summary.txt", "timeline.html", "latency.png", "throughput.png"} {
				if st, err := os.Stat(filepath.Join(res.Dir, f)); err != nil || st.Size() == 0 {
					t.Fatalf("%s missing or empty: %v", f, err)
				}
			}
			// The recorded history checks the same when read back.
			again, err := Recheck(res.Dir, wl, log)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Valid {
				t.Fatalf("recheck of the written history invalid:\n%s", Summary(again))
			}
		})
	}
}

// A corrupted history (one read altered) is found invalid by Recheck:
// the harness's verdict depends on the history it wrote.
func TestRecheckFindsCorruption(t *testing.T) {
	addr := redisCluster(t)
	store := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	res, err := Run(context.Background(), Config{Backend: "existing", Existing: []string{addr}, Workload: "list-append",
		TimeLimit: time.Second, Concurrency: 3, Seed: 9, Rate: 500, Store: store, Name: "la", Log: log})
	if err != nil || !res.Valid {
		t.Fatalf("run: %v %+v", err, res)
	}
	path := filepath.Join(res.Dir, "history.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := history.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	for i := len(ops) - 1; i >= 0 && !changed; i-- {
		for j, m := range ops[i].Txn {
			if ops[i].Type == history.OK && m.F == "r" && len(m.Value) >= 2 {
				v := ops[i].Txn[j].Value
				v[0], v[1] = v[1], v[0] // two appends seen in the wrong order
				changed = true
				break
			}
		}
	}
	if !changed {
		t.Fatal("no read of two elements to corrupt")
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := history.Write(out, ops); err != nil {
		t.Fatal(err)
	}
	out.Close()
	again, err := Recheck(res.Dir, "list-append", log)
	if err != nil {
		t.Fatal(err)
	}
	if again.Valid {
		t.Fatalf("corrupted history found valid:\n%s", Summary(again))
	}
}
