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
	"time"
)

// Backend kinds New accepts.
const (
	KindLocal    = "local"
	KindDocker   = "docker"
	KindExisting = "existing"
	KindAuto     = "auto"
)

// New starts a cluster with the backend kind names ("local", "docker",
// "existing" or "auto") and returns it with the kind actually used. A local
// or docker cluster is returned once every node answers, every node's
// CLUSTER INFO says cluster_state:ok and knows opt.Nodes nodes, and node
// 0's CLUSTER NODES lists them all; an existing one once every address
// answers PING. "auto" picks local when running as root with ip and
// iptables working in a new network namespace, else docker when `docker
// info` works, else fails saying what each lacks. On error everything New
// created is removed again.
func New(ctx context.Context, kind string, opt Options) (Cluster, string, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.ReadyTimeout <= 0 {
		opt.ReadyTimeout = 2 * time.Minute
	}
	switch kind {
	case KindExisting:
		c, err := newExisting(ctx, opt)
		return c, kind, err
	case KindAuto:
		k, err := chooseBackend(ctx, opt.Log)
		if err != nil {
			return nil, "", err
		}
		opt.Log.Info("backend chosen", "backend", k)
		kind = k
	case KindLocal, KindDocker:
	default:
		return nil, "", fmt.Errorf("cluster: unknown backend %q (want local, docker, existing or auto)", kind)
	}
	if err := checkOptions(&opt); err != nil {
		return nil, kind, err
	}
	if err := CleanupStale(ctx, opt.Log); err != nil {
		opt.Log.Warn("cleaning up stale runs failed", "err", err)
	}
	id, err := newRunID()
	if err != nil {
		return nil, kind, err
	}
	if err := registerRun(id, kind); err != nil {
		return nil, kind, err
	}
	opt.Log = opt.Log.With("backend", kind, "run", id)
	// undo removes whatever was created so far, even if ctx has ended.
	undo := func(cause error) error {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Cleanup(cctx, kind, id, opt.Log); err != nil {
			return errors.Join(cause, err)
		}
		return cause
	}
	var drv driver
	var ipOf func(int) string
	switch kind {
	case KindLocal:
		d, err := newLocal(ctx, id, opt)
		if err != nil {
			return nil, kind, undo(fmt.Errorf("local backend: %w", err))
		}
		drv, ipOf = d, d.ip
	case KindDocker:
		d, err := newDocker(ctx, id, opt)
		if err != nil {
			return nil, kind, undo(fmt.Errorf("docker backend: %w", err))
		}
		drv, ipOf = d, d.ip
	}
	c := newCluster(kind, id, opt, drv, ipOf)
	if err := c.start(ctx); err != nil {
		err = fmt.Errorf("%s backend: %w", kind, err)
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, kind, err
	}
	return c, kind, nil
}

// checkOptions validates opt for the local and docker backends and makes
// its paths absolute.
func checkOptions(opt *Options) error {
	if opt.Nodes < 1 {
		return fmt.Errorf("cluster: Options.Nodes is %d, want at least 1", opt.Nodes)
	}
	if opt.Binary == "" {
		return errors.New("cluster: Options.Binary (the troika-server binary) is empty")
	}
	if opt.Dir == "" {
		return errors.New("cluster: Options.Dir is empty")
	}
	var err error
	if opt.Binary, err = filepath.Abs(opt.Binary); err != nil {
		return fmt.Errorf("cluster: binary path: %w", err)
	}
	st, err := os.Stat(opt.Binary)
	if err != nil {
		return fmt.Errorf("cluster: binary: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("cluster: binary %s is not an executable file", opt.Binary)
	}
	if opt.Dir, err = filepath.Abs(opt.Dir); err != nil {
		return fmt.Errorf("cluster: dir: %w", err)
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return fmt.Errorf("cluster: dir: %w", err)
	}
	return nil
}

// chooseBackend implements "auto".
func chooseBackend(ctx context.Context, log *slog.Logger) (string, error) {
	lerr := localUsable(ctx)
	if lerr == nil {
		return KindLocal, nil
	}
	log.Info("local backend unusable", "why", lerr)
	derr := dockerUsable(ctx)
	if derr == nil {
		return KindDocker, nil
	}
	return "", fmt.Errorf("cluster: no usable backend: local: %v; docker: %v", lerr, derr)
}

// localUsable reports why the local backend cannot run here (nil if it
// can): it needs root, ip, iptables(-restore), and network namespaces in
// which iptables works.
func localUsable(ctx context.Context) error {
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("not running as root (euid %d)", uid)
	}
	for _, tool := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("no %s command: %w", tool, err)
		}
	}
	if _, err := runCmd(ctx, "", "iptables", "-S", "FORWARD"); err != nil {
		return fmt.Errorf("iptables unusable: %w", err)
	}
	id, err := newRunID()
	if err != nil {
		return err
	}
	ns := NamePrefix + id + "probe"
	if _, err := runCmd(ctx, "", "ip", "netns", "add", ns); err != nil {
		return fmt.Errorf("cannot create a network namespace: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = runCmd(dctx, "", "ip", "netns", "del", ns)
	}()
	if _, err := runCmd(ctx, "", "ip", "netns", "exec", ns, "iptables", "-S", "INPUT"); err != nil {
		return fmt.Errorf("iptables does not work in a network namespace: %w", err)
	}
	return nil
}

// dockerUsable reports why the docker backend cannot run here (nil if it
// can).
func dockerUsable(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("no docker command: %w", err)
	}
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := runCmd(ictx, "", "docker", "info"); err != nil {
		return fmt.Errorf("docker engine unusable: %w", err)
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		return fmt.Errorf("no nsenter command (needed for partitions): %w", err)
	}
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("not running as root (euid %d), needed to enter containers' network namespaces", uid)
	}
	return nil
}

// existing is the backend for a cluster someone else runs: no faults.
type existing struct {
	nodes []Node
}

func newExisting(ctx context.Context, opt Options) (*existing, error) {
	if len(opt.Existing) == 0 {
		return nil, errors.New("existing backend: Options.Existing lists no address")
	}
	if opt.Nodes > 0 && opt.Nodes != len(opt.Existing) {
		opt.Log.Warn("existing backend: Options.Nodes ignored", "nodes", opt.Nodes, "addresses", len(opt.Existing))
	}
	e := &existing{}
	var errs []error
	for i, addr := range opt.Existing {
		n := Node{Index: i, Name: "n" + strconv.Itoa(i+1), Addr: addr}
		e.nodes = append(e.nodes, n)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := respCommand(pctx, addr, "PING")
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", n.Name, addr, err))
		} else if v != "PONG" {
			errs = append(errs, fmt.Errorf("%s (%s): PING answered %v", n.Name, addr, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("existing backend: %w", err)
	}
	return e, nil
}

func (e *existing) Nodes() []Node { return append([]Node(nil), e.nodes...) }

func (e *existing) Kill(context.Context, int) error   { return ErrUnsupported }
func (e *existing) Start(context.Context, int) error  { return ErrUnsupported }
func (e *existing) Pause(context.Context, int) error  { return ErrUnsupported }
func (e *existing) Resume(context.Context, int) error { return ErrUnsupported }
func (e *existing) Partition(context.Context, [][]int, Cut) error {
	return ErrUnsupported
}
func (e *existing) Grudge(context.Context, map[int][]int, Cut) error {
	return ErrUnsupported
}
func (e *existing) Heal(context.Context) error            { return ErrUnsupported }
func (e *existing) AddNode(context.Context) (int, error)  { return -1, ErrUnsupported }
func (e *existing) RemoveNode(context.Context, int) error { return ErrUnsupported }
func (e *existing) LogPath(int) string                    { return "" }
func (e *existing) Close() error                          { return nil }
