package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// localDriver runs each node as a troika-server process in its own network
// namespace, attached by a veth pair to a bridge in the root namespace
// that also holds the harness's address (.1 of the subnet).
type localDriver struct {
	id     string // run id
	binary string
	subnet netip.Prefix
	bridge string
	log    *slog.Logger
}

// process is a running server started by the local driver.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Local names: everything starts with NamePrefix+id, followed by a letter
// saying what it is: b (bridge), h<i> (veth, root side), p<i> (veth, node
// side), n<i> (network namespace). Interface names stay ≤ 15 bytes.
func localBridge(id string) string   { return NamePrefix + id + "b" }
func localNSPrefix(id string) string { return NamePrefix + id + "n" }
func localComment(id string) string  { return "troika-jepsen:" + id }

// forwardRule is the root namespace FORWARD rule (without -I/-D) that lets
// bridged traffic between node namespaces through (Docker sets the FORWARD
// policy to DROP, and br_netfilter sends bridged frames through it).
func forwardRule(id string) []string {
	b := localBridge(id)
	return []string{"FORWARD", "-i", b, "-o", b, "-m", "comment", "--comment", localComment(id), "-j", "ACCEPT"}
}

// newLocal creates the bridge (on a free 10.213.X.0/24) and the FORWARD
// rule; the caller's cluster.Close removes them.
func newLocal(ctx context.Context, id string, opt Options) (*localDriver, error) {
	d := &localDriver{id: id, binary: opt.Binary, bridge: localBridge(id), log: opt.Log}
	unlock, err := lockState()
	if err != nil {
		return nil, err
	}
	defer unlock()
	used, err := usedPrefixes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	d.subnet, err = freeSubnet("10.213", used, nil)
	if err != nil {
		return nil, err
	}
	gw := hostIP(d.subnet, 1) + "/24"
	d.log.Info("local network", "bridge", d.bridge, "subnet", d.subnet, "harness", gw)
	steps := [][]string{
		{"ip", "link", "add", d.bridge, "type", "bridge"},
		{"ip", "addr", "add", gw, "dev", d.bridge},
		{"ip", "link", "set", d.bridge, "up"},
	}
	for _, tool := range forwardTools(ctx) {
		steps = append(steps, append([]string{tool, "-I"}, forwardRule(id)...))
	}
	for _, s := range steps {
		if _, err := runCmd(ctx, "", s[0], s[1:]...); err != nil {
			return d, fmt.Errorf("create bridge: %w", err)
		}
	}
	return d, nil
}

// forwardTools returns the iptables commands whose FORWARD chain needs the
// bridge rule: iptables, plus iptables-legacy when something (an older
// Docker) filters there too, since a DROP in either drops the packet.
func forwardTools(ctx context.Context) []string {
	tools := []string{"iptables"}
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		return tools
	}
	out, err := runCmd(ctx, "", "iptables-legacy", "-S", "FORWARD")
	if err == nil && (strings.Contains(out, "-P FORWARD DROP") || strings.Contains(out, "-A FORWARD")) {
		tools = append(tools, "iptables-legacy")
	}
	return tools
}

func (d *localDriver) ip(i int) string { return hostIP(d.subnet, 10+i) }

func (d *localDriver) prepare(ctx context.Context, n *node) error {
	if n.Index > 200 {
		return errors.New("local backend: at most 201 nodes per run")
	}
	n.ns = localNSPrefix(d.id) + strconv.Itoa(n.Index)
	n.veth = NamePrefix + d.id + "h" + strconv.Itoa(n.Index)
	peer := NamePrefix + d.id + "p" + strconv.Itoa(n.Index)
	steps := [][]string{
		{"ip", "netns", "add", n.ns},
		{"ip", "link", "add", n.veth, "type", "veth", "peer", "name", peer},
		{"ip", "link", "set", peer, "netns", n.ns},
		{"ip", "link", "set", n.veth, "master", d.bridge},
		{"ip", "link", "set", n.veth, "up"},
		{"ip", "-n", n.ns, "addr", "add", n.IP + "/24", "dev", peer},
		{"ip", "-n", n.ns, "link", "set", peer, "up"},
		{"ip", "-n", n.ns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if _, err := runCmd(ctx, "", s[0], s[1:]...); err != nil {
			return fmt.Errorf("network namespace: %w", err)
		}
	}
	if _, err := runCmd(ctx, chainSetupScript, "ip", "netns", "exec", n.ns, "iptables-restore", "--noflush"); err != nil {
		return fmt.Errorf("partition chain: %w", err)
	}
	return nil
}

func (d *localDriver) launch(ctx context.Context, n *node) error {
	if n.proc != nil && !n.proc.exited() {
		return errors.New("already running")
	}
	out, err := os.OpenFile(filepath.Join(n.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open stdout log: %w", err)
	}
	args := []string{"netns", "exec", n.ns, d.binary,
		"--port", "6379", "--bind", n.IP, "--dir", n.dir,
		"--logfile", filepath.Join(n.dir, "troika.log"), "--protected-mode", "no"}
	args = append(args, n.args...)
	fmt.Fprintf(out, "---- %s: ip %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	// Not CommandContext: the server must outlive the call that started it.
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = out, out
	// `ip netns exec` execs the server, so cmd's pid is the server's. Its
	// own process group lets Kill reach it alone; Pdeathsig kills it if
	// the harness dies without Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("exec %s: %w", d.binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		out.Close()
		d.log.Debug("server exited", "node", n.Name, "pid", cmd.Process.Pid, "status", err)
		close(p.done)
	}()
	n.proc = p
	return nil
}

func (d *localDriver) alive(_ context.Context, n *node) bool {
	return n.proc != nil && !n.proc.exited()
}

// signal sends sig to n's process group.
func (d *localDriver) signal(n *node, sig syscall.Signal) error {
	if n.proc == nil || n.proc.exited() {
		return nil
	}
	if err := syscall.Kill(-n.proc.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to %d: %w", sig, n.proc.cmd.Process.Pid, err)
	}
	return nil
}

// wait waits until n's process is reaped or ctx ends.
func (d *localDriver) wait(ctx context.Context, n *node) error {
	if n.proc == nil {
		return nil
	}
	select {
	case <-n.proc.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for pid %d to exit: %w", n.proc.cmd.Process.Pid, ctx.Err())
	}
}

func (d *localDriver) kill(ctx context.Context, n *node) error {
	if err := d.signal(n, syscall.SIGKILL); err != nil {
		return err
	}
	return d.wait(ctx, n)
}

func (d *localDriver) terminate(ctx context.Context, n *node) error {
	if err := d.signal(n, syscall.SIGTERM); err != nil {
		return err
	}
	_ = d.signal(n, syscall.SIGCONT) // a paused node must run to exit
	gctx, cancel := context.WithTimeout(ctx, stopGrace)
	defer cancel()
	if d.wait(gctx, n) == nil {
		return nil
	}
	d.log.Warn("node ignored SIGTERM, killing it", "node", n.Name)
	return d.kill(ctx, n)
}

func (d *localDriver) pause(_ context.Context, n *node) error {
	return d.signal(n, syscall.SIGSTOP)
}

func (d *localDriver) resume(_ context.Context, n *node) error {
	return d.signal(n, syscall.SIGCONT)
}

func (d *localDriver) setRules(ctx context.Context, n *node, rules []string) error {
	if n.ns == "" {
		return nil // not created yet
	}
	_, err := runCmd(ctx, restoreScript(rules), "ip", "netns", "exec", n.ns, "iptables-restore", "--noflush")
	return err
}

func (d *localDriver) diagnose(n *node) string {
	var b strings.Builder
	for _, f := range []string{"stdout.log", "troika.log"} {
		if t := tailFile(filepath.Join(n.dir, f), 1500); t != "" {
			fmt.Fprintf(&b, "\n--- %s:\n%s", f, t)
		}
	}
	return b.String()
}

// tailFile returns up to the last max bytes of a file.
func tailFile(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

func (d *localDriver) close(ctx context.Context, nodes []*node) error {
	var errs []error
	for _, n := range nodes {
		if err := d.kill(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
		}
	}
	if err := cleanupLocal(ctx, d.id, d.log); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cleanupLocal removes every namespace, interface and FORWARD rule of run
// id, killing the processes left in its namespaces. It goes by name, so it
// also finds what a crashed run left behind.
func cleanupLocal(ctx context.Context, id string, log *slog.Logger) error {
	var errs []error
	nsList, err := runCmd(ctx, "", "ip", "netns", "list")
	if err != nil {
		errs = append(errs, err)
	}
	for line := range strings.SplitSeq(nsList, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], localNSPrefix(id)) {
			continue
		}
		ns := f[0]
		pids, _ := runCmd(ctx, "", "ip", "netns", "pids", ns)
		for _, s := range strings.Fields(pids) {
			if pid, err := strconv.Atoi(s); err == nil && pid > 1 && pid != os.Getpid() {
				log.Debug("killing leftover process", "ns", ns, "pid", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if _, err := runCmd(ctx, "", "ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	links, err := runCmd(ctx, "", "ip", "-o", "link", "show")
	if err != nil {
		errs = append(errs, err)
	}
	var veths []string
	bridge := false
	for line := range strings.SplitSeq(links, "\n") {
		// "12: tjabc123h0@if11: <...": the name is the second field.
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		switch {
		case name == localBridge(id):
			bridge = true
		case strings.HasPrefix(name, NamePrefix+id):
			veths = append(veths, name)
		}
	}
	for _, v := range veths {
		// Deleting a namespace already removed its pair: ignore "not found".
		if _, err := runCmd(ctx, "", "ip", "link", "del", v); err != nil && !strings.Contains(err.Error(), "Cannot find") {
			errs = append(errs, err)
		}
	}
	if bridge {
		if _, err := runCmd(ctx, "", "ip", "link", "del", localBridge(id)); err != nil {
			errs = append(errs, err)
		}
	}
	// Delete the FORWARD rule (as many copies as there are).
	for _, tool := range []string{"iptables", "iptables-legacy"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		for range 10 {
			if _, err := runCmd(ctx, "", tool, append([]string{"-C"}, forwardRule(id)...)...); err != nil {
				break
			}
			if _, err := runCmd(ctx, "", tool, append([]string{"-D"}, forwardRule(id)...)...); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}
