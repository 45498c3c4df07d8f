package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/troika-db/troika/slots"
)

// clusterArgs are the directives of every node of a test cluster: a short
// node timeout (fast gossip failure detection) keeps failover quick.
var clusterArgs = []string{"--cluster-node-timeout", "3000"}

// startCluster starts n real troika-server processes: the first bootstraps,
// the others join it through its client port. It waits until every node
// lists n members, every group has 3 voters and every node masters slots.
func startCluster(t *testing.T, n int) []*troikaProc {
	t.Helper()
	ps := []*troikaProc{startTroika(t, clusterArgs...)}
	for i := 1; i < n; i++ {
		ps = append(ps, startTroika(t, append(append([]string(nil), clusterArgs...), "--cluster-join", ps[0].addr())...))
	}
	waitClusterSettled(t, ps, n)
	return ps
}

var votersRe = regexp.MustCompile(`(?m)^group_\d+:role=leader,.*voters=(\d+)`)

// waitClusterSettled waits until every live node's CLUSTER NODES lists
// `members` nodes, each with slots, every group it leads has min(3, members)
// voters, and leaderships are balanced (placement's transfers are done).
func waitClusterSettled(t *testing.T, ps []*troikaProc, members int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		last = clusterSettledErr(ps, members)
		if last == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("cluster did not settle: %s", last)
}

func clusterSettledErr(ps []*troikaProc, members int) string {
	leaders := 0
	for _, p := range ps {
		if !p.alive() {
			continue
		}
		c, err := dialRaw(p.addr())
		if err != nil {
			return err.Error()
		}
		nodes, err1 := c.do("CLUSTER", "NODES")
		info, err2 := c.do("INFO", "raft")
		c.close()
		if err1 != nil || err2 != nil {
			return fmt.Sprint(err1, err2)
		}
		lines := strings.Split(strings.TrimSpace(string(nodes)), "\n")
		if len(lines) < members+1 { // the bulk length header line
			return fmt.Sprintf("%s lists %d lines", p.addr(), len(lines))
		}
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) < 9 {
				return fmt.Sprintf("%s: node without slots: %q", p.addr(), l)
			}
		}
		led := votersRe.FindAllStringSubmatch(string(info), -1)
		for _, m := range led {
			leaders++
			if v, _ := strconv.Atoi(m[1]); v != min(3, members) {
				return fmt.Sprintf("%s: a group has %d voters", p.addr(), v)
			}
		}
		// Placement balances leaders: 16 groups over the members.
		if len(led) < 16/members || len(led) > (16+members-1)/members {
			return fmt.Sprintf("%s leads %d groups (balancing)", p.addr(), len(led))
		}
	}
	if leaders != 16 {
		return fmt.Sprintf("%d group leaders found", leaders)
	}
	return ""
}

// mostLeading returns the live node leading the most groups.
func mostLeading(t *testing.T, ps []*troikaProc) int {
	best, bestN := -1, -1
	for i, p := range ps {
		if !p.alive() {
			continue
		}
		c := mustDial(t, p.addr())
		info, err := c.do("INFO", "raft")
		c.close()
		if err != nil {
			t.Fatal(err)
		}
		if k := len(votersRe.FindAllString(string(info), -1)); k > bestN {
			best, bestN = i, k
		}
	}
	return best
}

// TestClusterClients forms a 3-node cluster by join and drives it with
// go-redis ClusterClient, redis-cli -c, redis-py RedisCluster (10,000 keys
// each) and redis-benchmark --cluster.
func TestClusterClients(t *testing.T) {
	ps := startCluster(t, 3)
	// Every node answers the same CLUSTER SLOTS.
	var first []byte
	for _, p := range ps {
		c := mustDial(t, p.addr())
		r, err := c.do("CLUSTER", "SLOTS")
		c.close()
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = r
		} else if !bytes.Equal(r, first) {
			t.Fatalf("CLUSTER SLOTS differs between %s and %s", ps[0].addr(), p.addr())
		}
	}
	ctx := context.Background()
	c := clusterClient(t, ps[1])
	const n = 10000
	for base := 0; base < n; base += 500 {
		if _, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i := base; i < base+500; i++ {
				pl.Set(ctx, fmt.Sprintf("gc:%d", i), i, 0)
			}
			return nil
		}); err != nil {
			t.Fatalf("go-redis SET: %v", err)
		}
	}
	for i := 0; i < n; i++ {
		if v, err := c.Get(ctx, fmt.Sprintf("gc:%d", i)).Result(); err != nil || v != strconv.Itoa(i) {
			t.Fatalf("go-redis GET gc:%d = %q, %v", i, v, err)
		}
	}
	// MULTI/EXEC through the cluster client (one hash tag: one slot).
	for i := 0; i < 20; i++ {
		var incr *redis.IntCmd
		var get *redis.StringCmd
		if _, err := c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
			incr = pl.Incr(ctx, "{tx}counter")
			pl.Set(ctx, "{tx}last", i, 0)
			get = pl.Get(ctx, "{tx}counter")
			return nil
		}); err != nil {
			t.Fatalf("TxPipelined: %v", err)
		}
		if incr.Val() != int64(i+1) || get.Val() != strconv.Itoa(i+1) {
			t.Fatalf("transaction %d: INCR %d, GET %q", i, incr.Val(), get.Val())
		}
	}
	// redis-cli -c follows MOVED from any node: 10,000 keys written through
	// one node and read back through another (commands on stdin).
	cli := requireBinary(t, redisCLIBin)
	var sets, gets strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sets, "SET rc:%d v%d\n", i, i)
		fmt.Fprintf(&gets, "GET rc:%d\n", i)
	}
	runCLI := func(p *troikaProc, input string) []string {
		cmd := exec.Command(cli, "-c", "-p", strconv.Itoa(p.port))
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("redis-cli -c via %s: %v", p.addr(), err)
		}
		var replies []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if !strings.HasPrefix(l, "-> Redirected") {
				replies = append(replies, l)
			}
		}
		return replies
	}
	if r := runCLI(ps[0], sets.String()); len(r) != n || strings.Count(strings.Join(r, "\n"), "OK") != n {
		t.Fatalf("redis-cli -c: %d replies to %d SETs (first: %q)", len(r), n, r[:min(3, len(r))])
	}
	r := runCLI(ps[2], gets.String())
	if len(r) != n {
		t.Fatalf("redis-cli -c: %d replies to %d GETs", len(r), n)
	}
	for i, v := range r {
		if v != fmt.Sprintf("v%d", i) {
			t.Fatalf("redis-cli -c GET rc:%d = %q", i, v)
		}
	}
	for i, p := range ps {
		k := fmt.Sprintf("cli:%d", i)
		if out, err := exec.Command(cli, "-c", "-p", strconv.Itoa(p.port), "SET", k, "v").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("redis-cli -c SET via %s: %v %s", p.addr(), err, out)
		}
		for _, q := range ps {
			out, err := exec.Command(cli, "-c", "-p", strconv.Itoa(q.port), "GET", k).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "v" {
				t.Fatalf("redis-cli -c GET via %s: %v %s", q.addr(), err, out)
			}
		}
	}
	// redis-py RedisCluster.
	if err := exec.Command(systemPython, "-c", "import redis.cluster").Run(); err == nil {
		script := filepath.Join("..", "..", "scripts", "e2e_redis_py.py")
		out, err := exec.Command(systemPython, script, strconv.Itoa(ps[2].port), strconv.Itoa(n)).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != fmt.Sprintf("ok %d", n) {
			t.Fatalf("redis-py: %v\n%s", err, out)
		}
	} else {
		t.Logf("redis-py part skipped: %s has no redis module (python3-redis)", systemPython)
	}
	// redis-benchmark in cluster mode.
	bench := requireBinary(t, "redis-benchmark")
	ctxB, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctxB, bench, "--cluster", "-p", strconv.Itoa(ps[0].port), "-t", "set,get",
		"-n", "20000", "-c", "20", "-r", "10000", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark --cluster: %v\n%s", err, out)
	}
	text := strings.ReplaceAll(string(out), "\r", "\n")
	for _, op := range []string{"SET", "GET"} {
		if !regexp.MustCompile(`(?m)^` + op + `: [0-9.]+ requests per second`).MatchString(text) {
			t.Fatalf("redis-benchmark --cluster printed no %s figure:\n%s", op, text)
		}
	}
}

// TestClusterKill9Failover kills -9 the node leading the most groups while
// clients write; writes resume through go-redis (election + MOVED), every
// acknowledged write is readable, and the node restarts, rejoins and
// catches up.
func TestClusterKill9Failover(t *testing.T) {
	ps := startCluster(t, 3)
	victim := mostLeading(t, ps)
	survivor := ps[(victim+1)%3]
	ctx := context.Background()
	c := clusterClient(t, survivor)

	var mu sync.Mutex
	acked := map[string]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("fo:%d:%d", w, i), strconv.Itoa(i)
				if err := c.Set(ctx, k, v, 0).Err(); err == nil {
					mu.Lock()
					acked[k] = v
					mu.Unlock()
				}
			}
		}(w)
	}
	time.Sleep(time.Second)
	probe := keyLedBy(t, ps[victim])
	killed := time.Now()
	ps[victim].kill()
	// A write to a slot the victim led succeeds once a survivor is elected
	// and the client followed MOVED.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := c.Set(ctx, probe, "after", 0).Err(); err == nil {
			mu.Lock()
			acked[probe] = "after"
			mu.Unlock()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes to the killed node's slots did not resume")
		}
		// go-redis returns a refused connection to the application without
		// asking another node; a resilient application refreshes the slot
		// map then (otherwise go-redis does so every 10 s).
		c.ReloadState(ctx)
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("writes to the killed leader's slots resumed %v after kill -9", time.Since(killed).Round(10*time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	readAll := func(what string) {
		mu.Lock()
		defer mu.Unlock()
		for k, v := range acked {
			var got string
			var err error
			// Retry transient answers and connection errors to the dead
			// node (the client refreshes its slot map).
			for try := 0; try < 100; try++ {
				if got, err = c.Get(ctx, k).Result(); err == nil || err == redis.Nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil || got != v {
				t.Fatalf("%s: acknowledged %s = %q lost: got %q, %v", what, k, v, got, err)
			}
		}
	}
	readAll("after failover")
	t.Logf("%d acknowledged writes all readable", len(acked))
	// Restart: the node rejoins, catches up, and leads groups again.
	ps[victim].start()
	waitClusterSettled(t, ps, 3)
	readAll("after the restarted node rejoined")
}

// keyLedBy returns a key whose slot the node masters (CLUSTER NODES).
func keyLedBy(t *testing.T, p *troikaProc) string {
	t.Helper()
	c := mustDial(t, p.addr())
	nodes, err := c.do("CLUSTER", "NODES")
	c.close()
	if err != nil {
		t.Fatal(err)
	}
	var ranges [][2]int
	for _, l := range strings.Split(string(nodes), "\n") {
		f := strings.Fields(l)
		if len(f) < 9 || !strings.Contains(f[2], "myself") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, ok := strings.Cut(r, "-")
			a, _ := strconv.Atoi(lo)
			b := a
			if ok {
				b, _ = strconv.Atoi(hi)
			}
			ranges = append(ranges, [2]int{a, b})
		}
	}
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("probe:%d", i)
		s := slots.SlotString(k)
		for _, r := range ranges {
			if s >= r[0] && s <= r[1] {
				return k
			}
		}
	}
	t.Fatalf("%s masters no slot", p.addr())
	return ""
}

// TestClusterPubSub: PUBLISH on any node reaches subscribers on every node;
// SPUBLISH/SSUBSCRIBE are routed by slot like keys.
func TestClusterPubSub(t *testing.T) {
	ps := startCluster(t, 3)
	ctx := context.Background()
	var subs []*redis.PubSub
	for _, p := range ps {
		c := redis.NewClient(&redis.Options{Addr: p.addr()})
		t.Cleanup(func() { c.Close() })
		s := c.Subscribe(ctx, "news")
		if _, err := s.Receive(ctx); err != nil { // the subscribe confirmation
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	pub := redis.NewClient(&redis.Options{Addr: ps[1].addr()})
	t.Cleanup(func() { pub.Close() })
	if n, err := pub.Publish(ctx, "news", "hello").Result(); err != nil || n != 1 {
		t.Fatalf("PUBLISH = %d, %v (local receivers only, as Redis Cluster)", n, err)
	}
	for i, s := range subs {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := s.ReceiveMessage(rctx)
		cancel()
		if err != nil || m.Channel != "news" || m.Payload != "hello" {
			t.Fatalf("subscriber on node %d: %+v, %v", i, m, err)
		}
	}
	// Sharded: the slot's leader serves; others redirect.
	key := "shard-chan"
	owner := -1
	for i, p := range ps {
		c := mustDial(t, p.addr())
		r, err := c.do("SPUBLISH", key, "x")
		c.close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(r, []byte("-MOVED ")) {
			continue
		}
		if !bytes.HasPrefix(r, []byte(":")) {
			t.Fatalf("SPUBLISH on node %d: %q", i, r)
		}
		owner = i
	}
	if owner < 0 {
		t.Fatal("no node serves SPUBLISH for the channel's slot")
	}
	cc := clusterClient(t, ps[0])
	ss := cc.SSubscribe(ctx, key)
	if _, err := ss.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cc.SPublish(ctx, key, "sharded hello").Err(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if m, err := ss.ReceiveMessage(rctx); err != nil || m.Payload != "sharded hello" {
		t.Fatalf("sharded message: %+v, %v", m, err)
	}
	// cluster-mode is cluster-wide: CONFIG SET on one node is committed
	// through the meta group and shows on every node.
	c0 := mustDial(t, ps[0].addr())
	defer c0.close()
	if r := c0.mustDo(t, "CONFIG", "SET", "cluster-mode", "ap"); r != "+OK\r\n" {
		t.Fatalf("CONFIG SET cluster-mode ap: %q", r)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c2 := mustDial(t, ps[2].addr())
		info := c2.mustDo(t, "INFO", "cluster")
		conf := c2.mustDo(t, "CONFIG", "GET", "cluster-mode")
		c2.close()
		if strings.Contains(info, "troika_cluster_mode:ap") && strings.Contains(conf, "\r\nap\r\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mode not propagated: INFO %q CONFIG GET %q", info, conf)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
