package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/cluster"
	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/jepsen/nemesis"
	"github.com/troika-db/troika/jepsen/workload"
)

// Config describes one test run.
type Config struct {
	Backend     string // local, docker, existing or auto
	Nodes       int
	Existing    []string // backend existing: client addresses
	Workload    string
	Nemeses     []string
	TimeLimit   time.Duration
	Concurrency int
	Seed        int64
	// Rate is the target number of operations per second over all
	// workers (0: as fast as they go).
	Rate float64
	// OpTimeout bounds each request; a request that times out is info.
	OpTimeout time.Duration
	// RandomFirst: the probability that a request goes to a random node
	// first instead of the slot's owner (see client.Options).
	RandomFirst float64
	// Tags is how many hash tags the workload spreads keys over (0: the
	// workload's default).
	Tags int
	// Quiet and FaultDuration tune the nemesis schedule.
	Quiet, FaultDuration time.Duration
	// Binary is the troika-server to run (built by the caller).
	Binary string
	// ServerArgs are extra directives for every node.
	ServerArgs []string
	// Store is the folder under which the run's results folder is made.
	Store string
	// Name, when set, names the results folder (default: workload,
	// nemeses, time and seed).
	Name string
	Log  *slog.Logger
}

// Result is the outcome of a run.
type Result struct {
	Dir         string             `json:"dir"`
	Seed        int64              `json:"seed"`
	Workload    string             `json:"workload"`
	Nemeses     []string           `json:"nemeses"`
	Backend     string             `json:"backend"`
	Nodes       int                `json:"nodes"`
	TimeLimitS  float64            `json:"time_limit_s"`
	Concurrency int                `json:"concurrency"`
	Valid       bool               `json:"valid"`
	Verdicts    []workload.Verdict `json:"verdicts"`
	Counts      map[string]int     `json:"counts"` // ok, fail, info, nemesis events
	Errors      []string           `json:"errors,omitempty"`
}

// Run runs the test and writes its results folder. The error is for a run
// that could not be carried out (the cluster did not start, the history
// could not be written); a run that found anomalies returns Valid false.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 3 * time.Second
	}
	w, err := workload.New(cfg.Workload, workload.Options{Tags: cfg.Tags})
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		// No ':' or ',' in folder names (kill:all -> kill-all).
		nem := strings.NewReplacer(":", "-", ",", "+").Replace(strings.Join(cfg.Nemeses, "+"))
		if nem == "" {
			nem = "none"
		}
		name = fmt.Sprintf("%s-%s-%s-seed%d", cfg.Workload, nem, time.Now().Format("20060102T150405"), cfg.Seed)
	}
	dir := filepath.Join(cfg.Store, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results folder: %w", err)
	}
	latest := filepath.Join(cfg.Store, "latest")
	os.Remove(latest)
	os.Symlink(name, latest)
	logf, err := os.Create(filepath.Join(dir, "jepsen.log"))
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	defer logf.Close()
	log := slog.New(teeHandler{cfg.Log.Handler(), slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	log.Info("test starting", "seed", cfg.Seed, "workload", cfg.Workload, "nemesis", cfg.Nemeses, "dir", dir)

	res := &Result{Dir: dir, Seed: cfg.Seed, Workload: cfg.Workload, Nemeses: cfg.Nemeses, Nodes: cfg.Nodes,
		TimeLimitS: cfg.TimeLimit.Seconds(), Concurrency: cfg.Concurrency}
	args := append([]string(nil), cfg.ServerArgs...)
	if nemesis.NeedsDebug(cfg.Nemeses) && !hasArg(args, "--debug-unsafe") {
		args = append(args, "--debug-unsafe", "yes")
	}
	cl, kind, err := cluster.New(ctx, cfg.Backend, cluster.Options{Nodes: cfg.Nodes, Binary: cfg.Binary,
		Dir: filepath.Join(dir, "nodes"), ServerArgs: args, Existing: cfg.Existing, Log: log})
	if err != nil {
		return res, fmt.Errorf("start cluster: %w", err)
	}
	res.Backend, res.Nodes = kind, len(cl.Nodes())
	log.Info("cluster up", "backend", kind, "nodes", len(cl.Nodes()))
	ops, runErrs, err := run(ctx, cfg, w, cl, log)
	if err != nil {
		cl.Close()
		return res, err
	}
	if err := cl.Close(); err != nil {
		runErrs = append(runErrs, fmt.Errorf("stop cluster: %w", err))
	}
	for _, e := range runErrs {
		res.Errors = append(res.Errors, e.Error())
	}
	if err := finish(res, w, ops, dir, log); err != nil {
		return res, err
	}
	return res, nil
}

func hasArg(args []string, name string) bool {
	for _, a := range args {
		if a == name {
			return true
		}
	}
	return false
}

// run drives clients and nemesis, heals, runs the final reads and returns
// the history.
func run(ctx context.Context, cfg Config, w workload.Workload, cl cluster.Cluster, log *slog.Logger) ([]history.Op, []error, error) {
	var errs []error
	seeds := addrs(cl)
	prep := client.NewRouter(seeds, client.Options{Timeout: cfg.OpTimeout, Rand: rand.New(rand.NewSource(cfg.Seed))})
	err := retry(ctx, 30*time.Second, func() error { return w.Prepare(ctx, prep) })
	prep.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("prepare %s: %w", w.Name(), err)
	}

	rec := newRecorder()
	testCtx, cancel := context.WithTimeout(ctx, cfg.TimeLimit)
	defer cancel()
	nem := nemesis.New(nemesis.Config{Cluster: cl, Faults: cfg.Nemeses, Seed: cfg.Seed, Quiet: cfg.Quiet,
		Duration: cfg.FaultDuration, Record: rec.nemesis, Log: log})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); nem.Run(testCtx) }()
	procs := make([]int, cfg.Concurrency)
	for i := 0; i < cfg.Concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			procs[i] = worker(testCtx, cfg, w, seeds, i, rec)
		}(i)
	}
	wg.Wait()
	log.Info("time limit reached: healing")
	hctx, hcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer hcancel()
	if err := nem.Heal(hctx); err != nil {
		errs = append(errs, fmt.Errorf("heal: %w", err))
	}
	if final := w.Final(); len(final) > 0 {
		waitHealthy(hctx, cl, log)
		p := 0
		for _, x := range procs {
			p = max(p, x)
		}
		finalReads(hctx, cfg, w, seeds, final, p+1, rec, log)
	}
	return rec.snapshot(), errs, nil
}

func addrs(cl cluster.Cluster) []string {
	var out []string
	for _, n := range cl.Nodes() {
		out = append(out, n.Addr)
	}
	return out
}

// worker runs operations until ctx ends and returns its last process.
func worker(ctx context.Context, cfg Config, w workload.Workload, seeds []string, i int, rec *recorder) int {
	rng := rand.New(rand.NewSource(cfg.Seed*7919 + int64(i) + 1))
	r := client.NewRouter(seeds, client.Options{Timeout: cfg.OpTimeout, RandomFirst: cfg.RandomFirst, Rand: rng})
	defer r.Close()
	process := i
	for ctx.Err() == nil {
		op := w.Next(rng)
		op.Process, op.Type = process, history.Invoke
		inv := rec.add(op)
		// The operation runs to its own timeout even when the test's time
		// is up, so that it completes with a real outcome.
		c := w.Invoke(context.WithoutCancel(ctx), r, inv)
		c.Process = process
		rec.add(c)
		if c.Type == history.Info {
			process += cfg.Concurrency // Jepsen: a process with an unknown outcome is retired
		}
		if cfg.Rate > 0 {
			mean := float64(cfg.Concurrency) / cfg.Rate
			if !sleep(ctx, time.Duration(rng.Float64()*2*mean*float64(time.Second))) {
				break
			}
		}
	}
	return process
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// finalReads runs each final operation until it succeeds (reads are safe
// to repeat), for at most a minute each, recording every attempt.
func finalReads(ctx context.Context, cfg Config, w workload.Workload, seeds []string, final []history.Op, process int, rec *recorder, log *slog.Logger) {
	r := client.NewRouter(seeds, client.Options{Timeout: cfg.OpTimeout, Rand: rand.New(rand.NewSource(cfg.Seed + 17))})
	defer r.Close()
	for _, op := range final {
		deadline := time.Now().Add(time.Minute)
		for {
			op.Process, op.Type = process, history.Invoke
			inv := rec.add(op)
			c := w.Invoke(ctx, r, inv)
			c.Process = process
			rec.add(c)
			if c.Type == history.Info {
				process++
			}
			if c.Type == history.OK {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				log.Warn("final read never succeeded", "op", op.F, "err", c.Error)
				break
			}
			sleep(ctx, 500*time.Millisecond)
			r.Refresh(ctx)
		}
	}
}

// waitHealthy waits until every reachable node says cluster_state:ok.
func waitHealthy(ctx context.Context, cl cluster.Cluster, log *slog.Logger) {
	err := retry(ctx, time.Minute, func() error {
		for _, n := range cl.Nodes() {
			c, err := client.Dial(ctx, n.Addr, time.Second)
			if err != nil {
				continue // a removed node
			}
			rep, err := c.Do(2*time.Second, "CLUSTER", "INFO")
			c.Close()
			if err != nil {
				return err
			}
			if !strings.Contains(rep.Str, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster_state not ok", n.Name)
			}
		}
		return nil
	})
	if err != nil {
		log.Warn("cluster not healthy after healing; final reads may fail", "err", err)
	}
}

func retry(ctx context.Context, d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) || errors.Is(err, workload.ErrUnsupported) {
			return err
		}
		if !sleep(ctx, 300*time.Millisecond) {
			return errors.Join(err, ctx.Err())
		}
	}
}

// teeHandler sends records to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if t.a.Enabled(ctx, r.Level) {
		errs = append(errs, t.a.Handle(ctx, r.Clone()))
	}
	if t.b.Enabled(ctx, r.Level) {
		errs = append(errs, t.b.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(g string) slog.Handler {
	return teeHandler{t.a.WithGroup(g), t.b.WithGroup(g)}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
