package cluster

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dockerLabel marks every container, network and image of a run.
const dockerLabel = "troika-jepsen.run"

// dockerfile is equivalent to the project's Dockerfile, for a build
// context holding only the binary and an empty data dir.
const dockerfile = `FROM scratch
COPY --chown=65532:65532 data /data
COPY troika-server /troika-server
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379/tcp 16379/tcp 16379/udp
ENTRYPOINT ["/troika-server", "--dir", "/data", "--protected-mode", "no"]
`

// dockerDriver runs each node in a container on a private docker network
// with a fixed IP. Partitions are iptables rules entered into each
// container's network namespace from the host with nsenter (the image has
// no shell and no iptables).
type dockerDriver struct {
	id      string
	image   string
	network string
	subnet  netip.Prefix
	log     *slog.Logger
}

func dockerImage(id string) string { return "troika-jepsen:" + id }

// newDocker builds the image and creates the network; the caller's
// cluster.Close removes them.
func newDocker(ctx context.Context, id string, opt Options) (*dockerDriver, error) {
	d := &dockerDriver{id: id, image: dockerImage(id), network: NamePrefix + id + "net", log: opt.Log}
	if err := checkStatic(opt.Binary); err != nil {
		return nil, err
	}
	if err := d.build(ctx, opt.Binary); err != nil {
		return d, err
	}
	if err := d.createNetwork(ctx); err != nil {
		return d, err
	}
	return d, nil
}

// checkStatic rejects a dynamically linked binary: the image has no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("docker backend: binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("docker backend: %s is dynamically linked; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

func (d *dockerDriver) build(ctx context.Context, binary string) error {
	dir, err := os.MkdirTemp("", "troika-jepsen-image-")
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := copyFile(binary, filepath.Join(dir, "troika-server"), 0o755); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	d.log.Info("building image", "image", d.image)
	if _, err := runCmd(ctx, "", "docker", "build", "-q", "-t", d.image, "--label", dockerLabel+"="+d.id, dir); err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// createNetwork creates the run's network on a free 10.214.X.0/24 (free of
// this machine's routes and of every docker network's subnet), retrying
// with another subnet when docker reports an overlap.
func (d *dockerDriver) createNetwork(ctx context.Context) error {
	unlock, err := lockState()
	if err != nil {
		return err
	}
	defer unlock()
	used, err := usedPrefixes(ctx)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	if ids, err := runCmd(ctx, "", "docker", "network", "ls", "-q"); err == nil && strings.TrimSpace(ids) != "" {
		out, err := runCmd(ctx, "", "docker", append([]string{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, strings.Fields(ids)...)...)
		if err == nil {
			for _, s := range strings.Fields(out) {
				if p, ok := parsePrefix(s); ok {
					used = append(used, p)
				}
			}
		}
	}
	tried := map[string]bool{}
	for attempt := 0; ; attempt++ {
		d.subnet, err = freeSubnet("10.214", used, tried)
		if err != nil {
			return err
		}
		tried[d.subnet.String()] = true
		_, err = runCmd(ctx, "", "docker", "network", "create", "--driver", "bridge",
			"--subnet", d.subnet.String(), "--gateway", hostIP(d.subnet, 1),
			"--label", dockerLabel+"="+d.id, d.network)
		if err == nil {
			d.log.Info("docker network", "network", d.network, "subnet", d.subnet)
			return nil
		}
		if attempt >= 4 || !strings.Contains(strings.ToLower(err.Error()), "overlap") {
			return fmt.Errorf("create network: %w", err)
		}
	}
}

func (d *dockerDriver) ip(i int) string { return hostIP(d.subnet, 10+i) }

func (d *dockerDriver) prepare(_ context.Context, n *node) error {
	if n.Index > 200 {
		return errors.New("docker backend: at most 201 nodes per run")
	}
	return nil
}

// state returns whether n's container runs and its init pid.
func (d *dockerDriver) state(ctx context.Context, n *node) (bool, int, error) {
	if n.container == "" {
		return false, 0, nil
	}
	out, err := runCmd(ctx, "", "docker", "inspect", "-f", "{{.State.Running}} {{.State.Pid}}", n.container)
	if err != nil {
		return false, 0, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return false, 0, fmt.Errorf("docker inspect %s: unexpected %q", n.container, out)
	}
	pid, _ := strconv.Atoi(f[1])
	return f[0] == "true" && pid > 0, pid, nil
}

func (d *dockerDriver) launch(ctx context.Context, n *node) error {
	if n.container == "" {
		name := NamePrefix + d.id + "-" + n.Name
		args := []string{"run", "-d", "--name", name, "--hostname", n.Name,
			"--label", dockerLabel + "=" + d.id, "--network", d.network, "--ip", n.IP,
			"--user", "0", "-v", n.dir + ":/data", d.image,
			"--port", "6379", "--logfile", "/data/troika.log"}
		args = append(args, n.args...)
		if _, err := runCmd(ctx, "", "docker", args...); err != nil {
			return err
		}
		n.container = name
	} else if _, err := runCmd(ctx, "", "docker", "start", n.container); err != nil {
		return err
	}
	// A (re)started container has a fresh network namespace: set up the
	// partition chain in it.
	running, pid, err := d.state(ctx, n)
	if err != nil {
		return err
	}
	if !running {
		return errors.New("container exited at once")
	}
	if _, err := runCmd(ctx, chainSetupScript, "nsenter", "-t", strconv.Itoa(pid), "-n", "iptables-restore", "--noflush"); err != nil {
		return fmt.Errorf("partition chain: %w", err)
	}
	return nil
}

func (d *dockerDriver) alive(ctx context.Context, n *node) bool {
	running, _, err := d.state(ctx, n)
	return err == nil && running
}

// waitStopped polls until n's container no longer runs.
func (d *dockerDriver) waitStopped(ctx context.Context, n *node) error {
	return poll(ctx, 100*time.Millisecond, func() error {
		running, _, err := d.state(ctx, n)
		if err != nil {
			return err
		}
		if running {
			return errors.New("still running")
		}
		return nil
	})
}

func (d *dockerDriver) kill(ctx context.Context, n *node) error {
	if n.container == "" {
		return nil
	}
	if _, err := runCmd(ctx, "", "docker", "kill", "-s", "KILL", n.container); err != nil && !strings.Contains(err.Error(), "is not running") {
		return err
	}
	return d.waitStopped(ctx, n)
}

func (d *dockerDriver) terminate(ctx context.Context, n *node) error {
	if n.paused {
		if err := d.resume(ctx, n); err != nil {
			return err
		}
	}
	if _, err := runCmd(ctx, "", "docker", "stop", "-t", strconv.Itoa(int(stopGrace/time.Second)), n.container); err != nil {
		return err
	}
	return d.waitStopped(ctx, n)
}

func (d *dockerDriver) pause(ctx context.Context, n *node) error {
	_, err := runCmd(ctx, "", "docker", "pause", n.container)
	return err
}

func (d *dockerDriver) resume(ctx context.Context, n *node) error {
	_, err := runCmd(ctx, "", "docker", "unpause", n.container)
	return err
}

func (d *dockerDriver) setRules(ctx context.Context, n *node, rules []string) error {
	running, pid, err := d.state(ctx, n)
	if err != nil || !running {
		return err // not running: launch's caller reapplies the rules
	}
	_, err = runCmd(ctx, restoreScript(rules), "nsenter", "-t", strconv.Itoa(pid), "-n", "iptables-restore", "--noflush")
	return err
}

func (d *dockerDriver) diagnose(n *node) string {
	var b strings.Builder
	if n.container != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := runCmd(ctx, "", "docker", "logs", "--tail", "30", n.container)
		if err == nil && strings.TrimSpace(out) != "" {
			fmt.Fprintf(&b, "\n--- docker logs:\n%s", strings.TrimSpace(out))
		}
	}
	if t := tailFile(filepath.Join(n.dir, "troika.log"), 1500); t != "" {
		fmt.Fprintf(&b, "\n--- troika.log:\n%s", t)
	}
	return b.String()
}

func (d *dockerDriver) close(ctx context.Context, _ []*node) error {
	return cleanupDocker(ctx, d.id, d.log)
}

// cleanupDocker removes the containers, network and image labeled with run
// id (also what a crashed run left).
func cleanupDocker(ctx context.Context, id string, log *slog.Logger) error {
	var errs []error
	filter := "label=" + dockerLabel + "=" + id
	list := func(args ...string) []string {
		out, err := runCmd(ctx, "", "docker", args...)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		var ids []string
		for _, f := range strings.Fields(out) {
			if !slices.Contains(ids, f) {
				ids = append(ids, f)
			}
		}
		return ids
	}
	if ids := list("ps", "-aq", "--filter", filter); len(ids) > 0 {
		log.Debug("removing containers", "ids", ids)
		if _, err := runCmd(ctx, "", "docker", append([]string{"rm", "-f", "-v"}, ids...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if ids := list("network", "ls", "-q", "--filter", filter); len(ids) > 0 {
		if _, err := runCmd(ctx, "", "docker", append([]string{"network", "rm"}, ids...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if ids := list("images", "-q", "--filter", filter); len(ids) > 0 {
		if _, err := runCmd(ctx, "", "docker", append([]string{"rmi", "-f"}, ids...)...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
