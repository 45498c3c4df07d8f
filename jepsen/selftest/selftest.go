// Package selftest proves that the harness can fail: it runs the server
// with each planted bug (troika-server --debug-unsafe yes --debug-bugs
// <bug>) under the workload and faults that expose it, and requires an
// anomaly within a budget of runs; and it runs the unmodified server,
// which must be found valid.
package selftest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/troika-db/troika/jepsen/runner"
)

// Case is one self-test case.
type Case struct {
	// Bug is the planted bug (a debug-bugs name), "" for the unmodified
	// server.
	Bug      string
	Workload string
	Nemeses  []string
	// RandomFirst sends that share of requests to a random node first.
	RandomFirst float64
	// Tags, when set, is how many hash tags (keys at a time) the workload
	// uses: fewer keys see more operations each, so a short window of
	// staleness is more likely to be observed.
	Tags int
	// Quiet, when set, replaces the 2 s minimum between faults.
	Quiet time.Duration
	// Runs is the budget: how many runs may be needed to find the bug
	// (the unmodified server runs once and must be valid).
	Runs int
	// Why says how the bug shows.
	Why string
}

// Cases are the self-test cases, the fastest to detect first.
var Cases = []Case{
	{Bug: "retry-proposals", Workload: "list-append", Runs: 5,
		Why: "a proposal repeated after 5 ms applies twice: duplicated elements"},
	{Bug: "follower-reads", Workload: "register", RandomFirst: 0.5, Runs: 10,
		Why: "followers answer GET from state that lags the leader: stale reads"},
	// The bug shows when a new leader answers reads before applying its
	// predecessor's last acknowledged writes (it serves before its term's
	// barrier): leadership must change while writes are in flight, as
	// often as possible. A transfer (CLUSTER FAILOVER) moves every group a
	// node replicates at once.
	{Bug: "unverified-leader-reads", Workload: "register", Nemeses: []string{"transfer", "partition:leader", "kill:one"},
		RandomFirst: 0.5, Tags: 4, Quiet: time.Second, Runs: 20,
		Why: "a new leader answers reads before it has applied the writes its predecessor acknowledged: stale reads"},
	{Bug: "skip-fsync", Workload: "list-append", Nemeses: []string{"kill:all", "kill:majority"}, Runs: 20,
		Why: "acknowledged entries held in memory are lost when a majority is killed: lost appends"},
	{Bug: "apply-time-ttl", Workload: "ttl", Nemeses: []string{"transfer", "kill:one"}, Runs: 20,
		Why: "each replica computes deadlines with its own clock at apply time: deadlines change with the leader"},
	{Bug: "", Workload: "list-append", Nemeses: []string{"partition", "kill", "pause"}, Runs: 1,
		Why: "the unmodified server must be valid"},
}

// Config configures a self-test.
type Config struct {
	// Bugs selects cases by bug name ("none" for the unmodified server);
	// empty runs all.
	Bugs      []string
	TimeLimit time.Duration // per run (≤ 30 s)
	Nodes     int
	Backend   string
	Binary    string
	Store     string
	Seed      int64
	Log       *slog.Logger
	// Print receives progress lines.
	Print func(string)
}

// Outcome is one case's result.
type Outcome struct {
	Case     Case
	Passed   bool
	Runs     int
	Detected []string // anomaly types of the detecting run
	Dirs     []string
	Err      error
}

// Run runs the selected cases and returns their outcomes; ok is true when
// every case passed.
func Run(ctx context.Context, cfg Config) ([]Outcome, bool) {
	all := true
	var out []Outcome
	for _, c := range Cases {
		name := c.Bug
		if name == "" {
			name = "none"
		}
		if !selected(cfg.Bugs, name) {
			continue
		}
		o := runCase(ctx, cfg, c, name)
		all = all && o.Passed
		out = append(out, o)
	}
	return out, all
}

func selected(bugs []string, name string) bool {
	if len(bugs) == 0 {
		return true
	}
	for _, b := range bugs {
		if b == name {
			return true
		}
	}
	return false
}

func runCase(ctx context.Context, cfg Config, c Case, name string) Outcome {
	o := Outcome{Case: c}
	var args []string
	if c.Bug != "" {
		args = []string{"--debug-unsafe", "yes", "--debug-bugs", c.Bug}
	}
	quiet := 2 * time.Second
	if c.Quiet > 0 {
		quiet = c.Quiet
	}
	for run := 1; run <= c.Runs; run++ {
		seed := cfg.Seed + int64(run) - 1
		cfg.Print(fmt.Sprintf("selftest %s: run %d/%d (workload %s, nemesis %s, seed %d)", name, run, c.Runs, c.Workload, strings.Join(c.Nemeses, ","), seed))
		res, err := runner.Run(ctx, runner.Config{Backend: cfg.Backend, Nodes: cfg.Nodes, Workload: c.Workload, Nemeses: c.Nemeses,
			TimeLimit: cfg.TimeLimit, Concurrency: 10, Seed: seed, Rate: 1000, RandomFirst: c.RandomFirst, Tags: c.Tags,
			Quiet: quiet, FaultDuration: 3 * time.Second, Binary: cfg.Binary, ServerArgs: args, Store: cfg.Store,
			Name: fmt.Sprintf("selftest-%s-run%d-seed%d", name, run, seed), Log: cfg.Log})
		o.Runs = run
		if res != nil {
			o.Dirs = append(o.Dirs, res.Dir)
		}
		if err != nil {
			o.Err = err
			return o
		}
		if c.Bug == "" {
			o.Passed = res.Valid
			o.Detected = anomalies(res)
			return o
		}
		if !res.Valid {
			if a := anomalies(res); len(a) > 0 {
				o.Passed, o.Detected = true, a
				return o
			}
		}
		if ctx.Err() != nil {
			o.Err = ctx.Err()
			return o
		}
	}
	return o
}

// anomalies lists the anomaly types the run's checkers found (a run that
// is invalid only because nothing succeeded does not count as detection).
func anomalies(res *runner.Result) []string {
	var out []string
	for _, v := range res.Verdicts {
		if v.Checker == "stats" {
			continue
		}
		out = append(out, v.Anomalies...)
	}
	return out
}
