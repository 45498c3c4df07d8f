// Command troika-jepsen tests a Troika cluster (or any Redis Cluster
// protocol server) for consistency under faults: see jepsen/ and the
// README's "Jepsen tests" section.
//
//	troika-jepsen test --nodes 5 --workload list-append --nemesis partition,kill,pause --time-limit 60 --concurrency 10 --seed 42
//	troika-jepsen test --existing 127.0.0.1:7000,127.0.0.1:7001 --workload register
//	troika-jepsen selftest
//	troika-jepsen check store/latest
//
// Exit status: 0 when every checker says valid, 1 when a checker found
// anomalies (or could not decide), 2 when the test could not run.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/troika-db/troika/jepsen/nemesis"
	"github.com/troika-db/troika/jepsen/runner"
	"github.com/troika-db/troika/jepsen/selftest"
	"github.com/troika-db/troika/jepsen/workload"
)

// exitError carries an exit status through cobra.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{Use: "troika-jepsen", Short: "Jepsen-style consistency tests for Troika and Redis Cluster protocol servers",
		SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(testCmd(), selftestCmd(), checkCmd())
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, ee.msg)
		}
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "troika-jepsen:", err)
		os.Exit(2)
	}
}

type common struct {
	backend, store, binary string
	nodes                  int
	seed                   int64
	verbose                bool
}

func (c *common) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.backend, "backend", "auto", "cluster backend: local (network namespaces, needs root), docker, or auto")
	f.StringVar(&c.store, "store", "store", "folder for results folders (one per run; store/latest links the newest)")
	f.StringVar(&c.binary, "server-binary", "", "troika-server binary to test (default: build ./cmd/troika-server from the working tree)")
	f.IntVar(&c.nodes, "nodes", 5, "number of nodes")
	f.Int64Var(&c.seed, "seed", 0, "seed for the operation and fault schedule (0: random, printed)")
	f.BoolVarP(&c.verbose, "verbose", "v", false, "log progress to stderr")
}

func (c *common) prepare(ctx context.Context, needServer bool) (*slog.Logger, error) {
	if c.seed == 0 {
		c.seed = rand.New(rand.NewSource(time.Now().UnixNano())).Int63n(1<<31) + 1
	}
	fmt.Printf("seed: %d\n", c.seed)
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if needServer && c.binary == "" {
		c.binary = filepath.Join(c.store, "bin", "troika-server")
		if err := os.MkdirAll(filepath.Dir(c.binary), 0o755); err != nil {
			return nil, err
		}
		fmt.Println("building troika-server from the working tree")
		if err := runner.BuildServer(ctx, c.binary); err != nil {
			return nil, err
		}
	}
	if c.binary != "" {
		abs, err := filepath.Abs(c.binary)
		if err != nil {
			return nil, err
		}
		c.binary = abs
	}
	return log, nil
}

func testCmd() *cobra.Command {
	var (
		c                 common
		wl, nem, existing string
		limit             float64
		conc, tags        int
		rate, randomFirst float64
		opTimeout         time.Duration
		quiet, faultLen   time.Duration
		serverArgs        []string
		debugBugs         string
	)
	cmd := &cobra.Command{
		Use:   "test",
		Short: "run one test: start a cluster, run a workload under faults, check the history",
		Example: "  troika-jepsen test --nodes 5 --workload list-append --nemesis partition,kill,pause --time-limit 60 --concurrency 10 --seed 42\n" +
			"  troika-jepsen test --existing 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --workload register --time-limit 30",
		RunE: func(cmd *cobra.Command, _ []string) error {
			faults, err := nemesis.Parse(nem)
			if err != nil {
				return exitError{2, err.Error()}
			}
			var addrs []string
			if existing != "" {
				addrs = strings.Split(existing, ",")
				c.backend, c.nodes = "existing", len(addrs)
				if len(faults) > 0 {
					return exitError{2, "--existing runs the client side only: it cannot inject faults (use --nemesis none)"}
				}
			}
			if debugBugs != "" {
				serverArgs = append(serverArgs, "--debug-unsafe", "yes", "--debug-bugs", debugBugs)
			}
			log, err := c.prepare(cmd.Context(), existing == "")
			if err != nil {
				return exitError{2, err.Error()}
			}
			res, err := runner.Run(cmd.Context(), runner.Config{Backend: c.backend, Nodes: c.nodes, Existing: addrs,
				Workload: wl, Nemeses: faults, TimeLimit: time.Duration(limit * float64(time.Second)), Concurrency: conc,
				Seed: c.seed, Rate: rate, OpTimeout: opTimeout, Tags: tags, RandomFirst: randomFirst, Quiet: quiet, FaultDuration: faultLen,
				Binary: c.binary, ServerArgs: serverArgs, Store: c.store, Log: log})
			if err != nil {
				return exitError{2, "test could not run: " + err.Error()}
			}
			fmt.Print(runner.Summary(res))
			if !res.Valid {
				return exitError{1, ""}
			}
			return nil
		},
	}
	c.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&wl, "workload", "list-append", "workload: "+strings.Join(workload.Names(), ", "))
	f.StringVar(&nem, "nemesis", "none", "comma-separated faults, each kind or kind:variant: "+strings.Join(nemesis.Kinds(), ", ")+
		" (partition:halves|leader|ring, kill:one|majority|all, pause:one|leader)")
	f.StringVar(&existing, "existing", "", "host:port,... of an already running cluster: run the clients only, no faults")
	f.Float64Var(&limit, "time-limit", 60, "seconds of operations (faults included); healing and final reads follow")
	f.IntVar(&conc, "concurrency", 10, "client workers")
	f.IntVar(&tags, "tags", 0, "hash tags the keys are spread over (0: the workload's default, 32); fewer means more operations per key")
	f.Float64Var(&rate, "rate", 1000, "target operations per second over all workers (0: unlimited)")
	f.DurationVar(&opTimeout, "op-timeout", 3*time.Second, "request timeout; a timed-out request is recorded as info (unknown outcome)")
	f.Float64Var(&randomFirst, "random-first", 0.25, "share of requests sent first to a random node rather than the slot's owner (it must redirect or serve them)")
	f.DurationVar(&quiet, "quiet", 3*time.Second, "minimum quiet time between faults (drawn in [x, 2x))")
	f.DurationVar(&faultLen, "fault-duration", 5*time.Second, "minimum fault duration (drawn in [x, 2x))")
	f.StringArrayVar(&serverArgs, "server-arg", nil, "extra troika-server argument (repeatable), e.g. --server-arg=--cluster-node-timeout --server-arg=3000")
	f.StringVar(&debugBugs, "debug-bugs", "", "plant a known bug in every node (see `troika-jepsen selftest`): starts the servers with --debug-unsafe yes --debug-bugs <list>")
	return cmd
}

func selftestCmd() *cobra.Command {
	var (
		c     common
		bugs  string
		limit float64
	)
	cmd := &cobra.Command{
		Use:   "selftest",
		Short: "prove the harness can fail: each planted bug must be reported as an anomaly, the unmodified server as valid",
		Long: "Runs troika-server with each test-only planted bug (--debug-unsafe yes --debug-bugs <bug>) under the workload and faults " +
			"that expose it, up to the case's budget of runs, and requires the checkers to report an anomaly; then runs the " +
			"unmodified server, which must be valid.\n\nCases:\n" + casesText(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit > 30 {
				return exitError{2, "--time-limit: a self-test run lasts at most 30 s"}
			}
			log, err := c.prepare(cmd.Context(), true)
			if err != nil {
				return exitError{2, err.Error()}
			}
			var sel []string
			if bugs != "" {
				sel = strings.Split(bugs, ",")
			}
			outs, ok := selftest.Run(cmd.Context(), selftest.Config{Bugs: sel, TimeLimit: time.Duration(limit * float64(time.Second)),
				Nodes: c.nodes, Backend: c.backend, Binary: c.binary, Store: c.store, Seed: c.seed, Log: log,
				Print: func(s string) { fmt.Println(s) }})
			if len(outs) == 0 {
				return exitError{2, "no self-test case matches --bugs " + bugs}
			}
			fmt.Println("\nself-test results:")
			for _, o := range outs {
				name := o.Case.Bug
				if name == "" {
					name = "none (unmodified)"
				}
				state := "PASS"
				if !o.Passed {
					state = "FAIL"
				}
				detail := fmt.Sprintf("anomalies %v in run %d of %d", o.Detected, o.Runs, o.Case.Runs)
				switch {
				case o.Err != nil:
					detail = "error: " + o.Err.Error()
				case o.Case.Bug == "" && o.Passed:
					detail = "valid"
				case o.Case.Bug == "":
					detail = fmt.Sprintf("INVALID (%v): the unmodified server failed a check", o.Detected)
				case !o.Passed:
					detail = fmt.Sprintf("not detected in %d runs", o.Runs)
				}
				last := ""
				if len(o.Dirs) > 0 {
					last = o.Dirs[len(o.Dirs)-1]
				}
				fmt.Printf("%s  %-24s %s  (%s)\n", state, name, detail, last)
			}
			if !ok {
				return exitError{1, "self-test failed"}
			}
			return nil
		},
	}
	c.flags(cmd)
	cmd.Flags().Lookup("nodes").DefValue = "3"
	c.nodes = 3
	cmd.Flags().StringVar(&bugs, "bugs", "", "comma-separated cases to run (bug names, or none for the unmodified server); default all")
	cmd.Flags().Float64Var(&limit, "time-limit", 30, "seconds per run (at most 30)")
	return cmd
}

func casesText() string {
	var b strings.Builder
	for _, c := range selftest.Cases {
		name := c.Bug
		if name == "" {
			name = "none"
		}
		fmt.Fprintf(&b, "  %-24s %s, nemesis %s, up to %d run(s): %s\n", name, c.Workload, orNone(c.Nemeses), c.Runs, c.Why)
	}
	return b.String()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

func checkCmd() *cobra.Command {
	var wl string
	cmd := &cobra.Command{
		Use:   "check <results-folder>",
		Short: "check a recorded history again (history.jsonl in a results folder)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := runner.Recheck(args[0], wl, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			if err != nil {
				return exitError{2, err.Error()}
			}
			fmt.Print(runner.Summary(res))
			if !res.Valid {
				return exitError{1, ""}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&wl, "workload", "", "the workload that produced the history (default: the one results.json names)")
	return cmd
}
