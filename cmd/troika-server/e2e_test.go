package main

// End-to-end tests of the troika-server binary with real clients (go-redis,
// redis-cli, redis-py), crash durability (kill -9 and restart), snapshots
// with log truncation, identity across restarts and startup errors.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func clusterClient(t *testing.T, p *troikaProc) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{p.addr()}, Password: p.pass,
		ReadTimeout: replyTimeout, WriteTimeout: replyTimeout})
	t.Cleanup(func() { c.Close() })
	return c
}

// keyState is a key as read back after a restart.
type keyState struct {
	val    string
	exists bool
	ttl    time.Duration // go-redis: -1 no deadline, -2 missing
}

// isTransient reports the errors a just-restarted node may answer while a
// group is not ready yet; the verifying reads retry them.
func isTransient(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.HasPrefix(m, "TRYAGAIN") || strings.HasPrefix(m, "CLUSTERDOWN") || strings.HasPrefix(m, "LOADING")
}

// readBack reads keys (GET and TTL, pipelined). Reads answered with a
// transient error are retried until readyTimeout and logged.
func readBack(t *testing.T, c *redis.ClusterClient, keys []string) []keyState {
	t.Helper()
	ctx := context.Background()
	out := make([]keyState, len(keys))
	todo := make([]int, len(keys))
	for i := range todo {
		todo[i] = i
	}
	deadline := time.Now().Add(readyTimeout)
	transient := 0
	for len(todo) > 0 {
		cmds, _ := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for _, i := range todo {
				pl.Get(ctx, keys[i])
				pl.TTL(ctx, keys[i])
			}
			return nil
		})
		var again []int
		for j, i := range todo {
			get, ttl := cmds[2*j].(*redis.StringCmd), cmds[2*j+1].(*redis.DurationCmd)
			switch {
			case isTransient(get.Err()) || isTransient(ttl.Err()):
				if transient++; transient == 1 {
					t.Logf("transient error after cluster_state:ok, retrying: %v / %v", get.Err(), ttl.Err())
				}
				again = append(again, i)
			case get.Err() != nil && get.Err() != redis.Nil || ttl.Err() != nil:
				t.Fatalf("reading %s: %v / %v", keys[i], get.Err(), ttl.Err())
			default:
				out[i] = keyState{val: get.Val(), exists: get.Err() == nil, ttl: ttl.Val()}
			}
		}
		if len(again) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d keys still unreadable after %v", len(again), readyTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
		todo = again
	}
	if transient > 0 {
		t.Logf("%d reads were retried after a transient error", transient)
	}
	return out
}

// TestGoRedisCluster drives the node with go-redis's ClusterClient: slot
// discovery, per-key routing over all 16384 slots, pipelines and MGET.
func TestGoRedisCluster(t *testing.T) {
	t.Parallel()
	p := startTroika(t)
	ctx := context.Background()
	c := clusterClient(t, p)
	const n = 2000
	slotsSeen := map[int64]bool{}
	for i := range n {
		k := fmt.Sprintf("gr:%d", i)
		if err := c.Set(ctx, k, "v"+strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if i%10 == 0 {
			s, err := c.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			slotsSeen[s/1024] = true
		}
	}
	if len(slotsSeen) != 16 {
		t.Fatalf("keys cover only %d of 16 slot ranges", len(slotsSeen))
	}
	for i := range n {
		k := fmt.Sprintf("gr:%d", i)
		if v, err := c.Get(ctx, k).Result(); err != nil || v != "v"+strconv.Itoa(i) {
			t.Fatalf("GET %s = %q, %v", k, v, err)
		}
		if i%2 == 0 {
			if ok, err := c.Expire(ctx, k, 1000*time.Second).Result(); err != nil || !ok {
				t.Fatalf("EXPIRE %s = %v, %v", k, ok, err)
			}
		}
	}
	// TTLs through a pipeline (the cluster client splits it per node/slot).
	cmds, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range n {
			pl.TTL(ctx, fmt.Sprintf("gr:%d", i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		ttl := cmd.(*redis.DurationCmd).Val()
		if i%2 == 0 && (ttl < 990*time.Second || ttl > 1000*time.Second) || i%2 == 1 && ttl != -1 {
			t.Fatalf("TTL gr:%d = %v", i, ttl)
		}
	}
	// Pipelined writes and reads.
	_, err = c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range n {
			pl.IncrBy(ctx, fmt.Sprintf("grc:%d", i), int64(i))
			pl.Append(ctx, fmt.Sprintf("grc:%d", i), "x")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cmds, err = c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range n {
			pl.Get(ctx, fmt.Sprintf("grc:%d", i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if v := cmd.(*redis.StringCmd).Val(); v != strconv.Itoa(i)+"x" {
			t.Fatalf("pipelined GET grc:%d = %q", i, v)
		}
	}
	// Multi-key commands with hash tags.
	var kv []any
	var keys []string
	for i := range 50 {
		k := fmt.Sprintf("{user:42}:f%d", i)
		keys = append(keys, k)
		kv = append(kv, k, i)
	}
	if err := c.MSet(ctx, kv...).Err(); err != nil {
		t.Fatal(err)
	}
	vals, err := c.MGet(ctx, append(keys, "{user:42}:missing")...).Result()
	if err != nil || len(vals) != 51 || vals[50] != nil {
		t.Fatalf("MGET = %v, %v", vals, err)
	}
	for i := range 50 {
		if vals[i] != strconv.Itoa(i) {
			t.Fatalf("MGET[%d] = %v", i, vals[i])
		}
	}
	if err := c.MGet(ctx, "a", "b").Err(); err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Fatalf("MGET across slots: %v", err)
	}
	if d, err := c.Del(ctx, keys...).Result(); err != nil || d != 50 {
		t.Fatalf("DEL = %d, %v", d, err)
	}
	if sz, err := c.DBSize(ctx).Result(); err != nil || sz != 2*n {
		t.Fatalf("DBSIZE = %d, %v", sz, err)
	}

	// Active expiry: short-lived keys disappear from DBSIZE without being
	// read (the leader's expiry cycle deletes them through the log).
	_, err = c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range 300 {
			pl.Set(ctx, fmt.Sprintf("{short}:%d", i), "x", 50*time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		sz, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if sz == 2*n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DBSIZE still %d: expired keys were not removed by active expiry", sz)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, err := c.Exists(ctx, "{short}:0", "{short}:1").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS on expired keys = %d, %v", n, err)
	}
}

// TestScanUnderChurn checks SCAN's guarantee while other keys are written
// and deleted concurrently: every key present for the whole iteration is
// returned at least once.
func TestScanUnderChurn(t *testing.T) {
	t.Parallel()
	p := startTroika(t)
	ctx := context.Background()
	c := clusterClient(t, p)
	const stable = 3000
	_, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range stable {
			pl.Set(ctx, fmt.Sprintf("stable:%d", i), "s", 0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // churn: other keys come and go during the scan
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("churn:%d", i)
			if err := c.Set(ctx, k, "c", 0).Err(); err != nil {
				t.Errorf("churn SET: %v", err)
				return
			}
			if i%2 == 0 {
				if err := c.Del(ctx, fmt.Sprintf("churn:%d", i/2)).Err(); err != nil {
					t.Errorf("churn DEL: %v", err)
					return
				}
			}
		}
	}()
	seen := map[string]bool{}
	var cursor uint64
	for iter := 0; ; iter++ {
		if iter > 1_000_000 {
			t.Fatal("SCAN does not terminate")
		}
		// The only node: a plain client on it sees the whole keyspace.
		keys, next, err := c.Scan(ctx, cursor, "", 25).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	close(stop)
	wg.Wait()
	for i := range stable {
		if !seen[fmt.Sprintf("stable:%d", i)] {
			t.Fatalf("SCAN under churn missed stable:%d (saw %d keys)", i, len(seen))
		}
	}
}

// TestRedisCLI runs redis-cli in cluster mode (-c) and its --cluster check.
func TestRedisCLI(t *testing.T) {
	t.Parallel()
	cli := requireBinary(t, redisCLIBin)
	p := startTroika(t)
	port := strconv.Itoa(p.port)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(cli, append([]string{"-c", "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for i := range 20 {
		k := fmt.Sprintf("cli:%d", i)
		if got := run("SET", k, "hello world "+k); got != "OK" {
			t.Fatalf("SET %s: %q", k, got)
		}
		if got := run("GET", k); got != "hello world "+k {
			t.Fatalf("GET %s: %q", k, got)
		}
		if got := run("EXPIRE", k, "1000"); got != "1" {
			t.Fatalf("EXPIRE %s: %q", k, got)
		}
		if got := run("TTL", k); got != "1000" && got != "999" {
			t.Fatalf("TTL %s: %q", k, got)
		}
	}
	if got := run("GET", "cli:missing"); got != "" {
		t.Fatalf("GET missing: %q", got)
	}
	if got := run("MSET", "a", "1", "b", "2"); !strings.Contains(got, "CROSSSLOT") {
		t.Fatalf("MSET across slots: %q", got)
	}
	if got := run("DBSIZE"); got != "20" {
		t.Fatalf("DBSIZE: %q", got)
	}
	out, err := exec.Command(cli, "--cluster", "check", p.addr()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[OK] All 16384 slots covered.") ||
		!strings.Contains(string(out), "[OK] All nodes agree about slots configuration.") {
		t.Fatalf("redis-cli --cluster check: %v\n%s", err, out)
	}
}

// TestPythonRedisCluster runs scripts/e2e_redis_py.py (redis-py's
// RedisCluster) against the node.
func TestPythonRedisCluster(t *testing.T) {
	t.Parallel()
	if err := exec.Command(systemPython, "-c", "import redis.cluster").Run(); err != nil {
		t.Skipf("skipped: %s has no redis module (python3-redis; CI installs it): %v", systemPython, err)
	}
	p := startTroika(t)
	script := filepath.Join("..", "..", "scripts", "e2e_redis_py.py")
	out, err := exec.Command(systemPython, script, strconv.Itoa(p.port), "500").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok 500" {
		t.Fatalf("redis-py: %v\n%s", err, out)
	}
}

// TestKill9Durability acknowledges 2000 writes, kills the process with
// SIGKILL and requires every one of them (values and TTLs) after restart,
// under the same node id.
func TestKill9Durability(t *testing.T) {
	t.Parallel()
	p := startTroika(t)
	ctx := context.Background()
	c := clusterClient(t, p)
	id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil || len(id) != 40 {
		t.Fatalf("CLUSTER MYID = %q, %v", id, err)
	}
	const n = 2000
	for start := 0; start < n; start += 100 {
		cmds, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i := start; i < start+100; i++ {
				exp := time.Duration(0)
				if i%4 == 0 {
					exp = 100000 * time.Second
				}
				pl.Set(ctx, fmt.Sprintf("dur:%d", i), fmt.Sprintf("value-%d", i), exp)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range cmds {
			if cmd.(*redis.StatusCmd).Val() != "OK" {
				t.Fatalf("%v", cmd)
			}
		}
	}
	// Short-lived keys whose deadline passes around the crash: after the
	// restart they must be gone (deadlines are absolute).
	for i := range 50 {
		if err := c.Set(ctx, fmt.Sprintf("{gone}:%d", i), "x", 200*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	p.restart() // kill -9, then start on the same directory
	c = clusterClient(t, p)
	for deadline := time.Now().Add(readyTimeout); ; time.Sleep(50 * time.Millisecond) {
		left, err := c.DBSize(ctx).Result()
		if err != nil && !isTransient(err) {
			t.Fatal(err)
		}
		if err == nil && left == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DBSIZE after restart = %d, %v: want %d (the {gone} keys expired)", left, err, n)
		}
	}
	if got, err := c.Exists(ctx, "{gone}:0", "{gone}:49").Result(); err != nil || got != 0 {
		t.Fatalf("EXISTS on keys expired across the restart = %d, %v", got, err)
	}
	if got, err := c.Do(ctx, "CLUSTER", "MYID").Text(); err != nil || got != id {
		t.Fatalf("CLUSTER MYID after restart = %q, %v; before %q", got, err, id)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("dur:%d", i)
	}
	for i, st := range readBack(t, c, keys) {
		if st.val != fmt.Sprintf("value-%d", i) {
			t.Fatalf("after kill -9: GET dur:%d = %q (exists %v)", i, st.val, st.exists)
		}
		ttl := st.ttl
		if i%4 == 0 && (ttl <= 0 || ttl > 100000*time.Second) || i%4 != 0 && ttl != -1 {
			t.Fatalf("after kill -9: TTL dur:%d = %v", i, ttl)
		}
	}
	if sz, err := c.DBSize(ctx).Result(); err != nil || sz != n {
		t.Fatalf("DBSIZE after restart = %d, %v", sz, err)
	}
}

// TestKill9ConcurrentWriters kills the process while 8 clients write: every
// write acknowledged with OK before the kill must survive the restart.
// Writes that failed (connection lost, UNCERTAIN) may or may not be there.
func TestKill9ConcurrentWriters(t *testing.T) {
	t.Parallel()
	p := startTroika(t)
	ctx := context.Background()
	const writers, killAfter = 8, 3000
	var (
		acked  [writers][]int
		total  atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		killed = make(chan struct{})
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdb := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1, PoolSize: 1,
				ReadTimeout: replyTimeout, WriteTimeout: replyTimeout})
			defer rdb.Close()
			for i := 0; ; i++ {
				err := rdb.Set(ctx, fmt.Sprintf("cw:%d:%d", w, i), fmt.Sprintf("%d/%d", w, i), 0).Err()
				if err == nil {
					acked[w] = append(acked[w], i)
					total.Add(1)
					continue
				}
				failed.Add(1)
				select {
				case <-killed:
					return
				default:
					t.Errorf("writer %d: SET failed before the kill: %v", w, err)
					return
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	for total.Load() < killAfter {
		select {
		case <-writersDone:
			t.Fatal("every writer stopped before the kill")
		case <-time.After(time.Millisecond):
		}
	}
	close(killed) // before the kill, so that no writer reports its error as unexpected
	p.kill()
	wg.Wait()
	t.Logf("acknowledged %d writes, %d failed at the kill", total.Load(), failed.Load())
	p.start()
	c := clusterClient(t, p)
	for w := range writers {
		keys := make([]string, len(acked[w]))
		for j, i := range acked[w] {
			keys[j] = fmt.Sprintf("cw:%d:%d", w, i)
		}
		for j, st := range readBack(t, c, keys) {
			if want := fmt.Sprintf("%d/%d", w, acked[w][j]); st.val != want {
				t.Fatalf("acknowledged write %s lost after kill -9: GET = %q (exists %v)", keys[j], st.val, st.exists)
			}
		}
	}
}

var snapIndexRe = regexp.MustCompile(`(?m)^group_(\d+):.*last_snapshot_index=(\d+)`)

// snapshotIndexes returns last_snapshot_index per data group from INFO raft.
func snapshotIndexes(t *testing.T, c *redis.ClusterClient) map[int]int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "raft").Result()
	if err != nil {
		t.Fatalf("INFO raft: %v", err)
	}
	out := map[int]int64{}
	for _, m := range snapIndexRe.FindAllStringSubmatch(info, -1) {
		g, _ := strconv.Atoi(m[1])
		out[g], _ = strconv.ParseInt(m[2], 10, 64)
	}
	if len(out) == 0 {
		t.Fatalf("INFO raft has no data groups:\n%s", info)
	}
	return out
}

// TestSnapshotTruncationRestart makes every data group snapshot and
// truncate its log (tiny thresholds), writes more on top, and requires all
// data after a kill -9 and restart (snapshot restore + log replay).
func TestSnapshotTruncationRestart(t *testing.T) {
	t.Parallel()
	p := startTroika(t, "--cluster-groups", "2", "--raft-snapshot-threshold", "64", "--raft-trailing-logs", "16",
		"--raft-snapshot-interval", "200")
	ctx := context.Background()
	c := clusterClient(t, p)
	write := func(from, to int) {
		var wg sync.WaitGroup
		for w := range 4 { // separate round trips: many log entries per group
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + w; i < to; i += 4 {
					if err := c.Set(ctx, fmt.Sprintf("snap:%d", i), strconv.Itoa(i*7), 0).Err(); err != nil {
						t.Errorf("SET snap:%d: %v", i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	write(0, 3100)
	// hashicorp/raft checks the threshold every raft-snapshot-interval
	// (200-400 ms here): wait generously for every group.
	deadline := time.Now().Add(60 * time.Second)
	for {
		idx := snapshotIndexes(t, c)
		done := true
		for _, v := range idx {
			done = done && v > 0
		}
		if done {
			t.Logf("snapshot indexes: %v", idx)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every group took a snapshot: %v", idx)
		}
		write(3000, 3100) // keep the logs above the threshold (same keys, same values)
		time.Sleep(time.Second)
	}
	write(3100, 3600) // entries after the snapshot, replayed from the log
	c.Close()
	p.restart() // kill -9, then start on the same directory
	c = clusterClient(t, p)
	for g, v := range snapshotIndexes(t, c) {
		if v == 0 {
			t.Errorf("group %d: no snapshot after restart", g)
		}
	}
	keys := make([]string, 3600)
	for i := range keys {
		keys[i] = fmt.Sprintf("snap:%d", i)
	}
	for i, st := range readBack(t, c, keys) {
		if st.val != strconv.Itoa(i*7) || st.ttl != -1 {
			t.Fatalf("after restart: snap:%d = %q (exists %v, ttl %v)", i, st.val, st.exists, st.ttl)
		}
	}
	if sz, err := c.DBSize(ctx).Result(); err != nil || sz != 3600 {
		t.Fatalf("DBSIZE = %d, %v", sz, err)
	}
}

// TestRestartKeepsIdentity stops the node gracefully (SIGTERM: exit status
// 0), restarts it and requires the same node id, slots and data.
func TestRestartKeepsIdentity(t *testing.T) {
	t.Parallel()
	p := startTroika(t)
	c := mustDial(t, p.addr())
	id := c.mustDo(t, "CLUSTER", "MYID")
	if !regexp.MustCompile(`^\$40\r\n[0-9a-f]{40}\r\n$`).MatchString(id) {
		t.Fatalf("CLUSTER MYID = %q", id)
	}
	slotsBefore := c.mustDo(t, "CLUSTER", "SLOTS")
	c.mustDo(t, "SET", "persisted", "yes")
	c.close()

	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-done
	p.mu.Lock()
	exitErr := p.err
	p.mu.Unlock()
	if exitErr != nil {
		t.Fatalf("troika-server exited with %v after SIGTERM, want status 0", exitErr)
	}
	p.start()
	c = mustDial(t, p.addr())
	if got := c.mustDo(t, "CLUSTER", "MYID"); got != id {
		t.Fatalf("CLUSTER MYID after restart = %q, before %q", got, id)
	}
	if got := c.mustDo(t, "CLUSTER", "SLOTS"); got != slotsBefore {
		t.Fatalf("CLUSTER SLOTS after restart:\n %q\nbefore:\n %q", got, slotsBefore)
	}
	if got := c.mustDo(t, "GET", "persisted"); got != "$3\r\nyes\r\n" {
		t.Fatalf("GET after restart = %q", got)
	}
	if data, err := os.ReadFile(filepath.Join(p.dir, "troika-node.json")); err != nil ||
		!bytes.Contains(data, []byte(id[5:45])) {
		t.Errorf("troika-node.json does not hold the id: %v\n%s", err, data)
	}
}

// TestConfigErrors: bad directives abort startup with redis-server's
// FATAL CONFIG FILE ERROR report (byte-identical but for the name/version).
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	redisBin, _ := exec.LookPath(redisServerBin)
	versionRe := regexp.MustCompile(`\((Redis|Troika) [0-9.]+\)`)
	dir := t.TempDir() // never used: startup fails first
	for _, tc := range []struct {
		args []string
		want string // substring of stderr
	}{
		{[]string{"--port", "abc"}, `'port "abc"'`},
		{[]string{"--port", "70000"}, `'port "70000"'`},
		{[]string{"--nosuchdirective", "1"}, `'nosuchdirective "1"'`},
		{[]string{"--maxclients", "x"}, `'maxclients "x"'`},
		{[]string{"--appendfsync", "sometimes"}, `'appendfsync "sometimes"'`},
		{[]string{"--port"}, `'port'`},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(troikaBin, append([]string{"--dir", dir}, tc.args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("%v: exit %v, want a non-zero status", tc.args, err)
			continue
		}
		if !strings.Contains(stderr.String(), "FATAL CONFIG FILE ERROR") || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr does not name the directive:\n%s", tc.args, stderr.String())
		}
		if redisBin == "" {
			continue
		}
		var rerr bytes.Buffer
		rcmd := exec.Command(redisBin, append([]string{"--dir", dir}, tc.args...)...)
		rcmd.Stderr = &rerr
		_ = rcmd.Run()
		want := versionRe.ReplaceAllString(rerr.String(), "(V)")
		got := versionRe.ReplaceAllString(stderr.String(), "(V)")
		if want != got {
			t.Errorf("%v: stderr differs from redis-server's:\n troika: %q\n  redis: %q", tc.args, got, want)
		}
	}
}
