package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

// NamePrefix starts the name of everything a local or docker backend
// creates: network namespaces, interfaces, containers, docker networks,
// and (in a comment) iptables rules; run IDs are 6 hex digits after it.
const NamePrefix = "tj"

// StateDir holds one JSON record per live run (owner pid and start time),
// so that CleanupStale can tell leftovers of crashed runs from resources of
// runs still going. It is under /run (a tmpfs), cleared at boot like the
// namespaces and interfaces it describes.
var StateDir = "/run/troika-jepsen"

// runRecord is the file StateDir/<id>.json.
type runRecord struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	PID     int       `json:"pid"`
	Start   string    `json:"start"` // /proc/<pid>/stat start time, for pid reuse
	Created time.Time `json:"created"`
}

// newRunID returns 6 random hex digits.
func newRunID() (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// procStart returns the start time field of /proc/<pid>/stat ("" when the
// process does not exist).
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) may contain spaces: skip past its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); the start time is field 22.
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// registerRun writes the record of a new run owned by this process.
func registerRun(id, kind string) error {
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	rec := runRecord{ID: id, Kind: kind, PID: os.Getpid(), Start: procStart(os.Getpid()), Created: time.Now()}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode run record: %w", err)
	}
	if err := os.WriteFile(filepath.Join(StateDir, id+".json"), b, 0o644); err != nil {
		return fmt.Errorf("write run record: %w", err)
	}
	return nil
}

func unregisterRun(id string) error {
	err := os.Remove(filepath.Join(StateDir, id+".json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove run record: %w", err)
	}
	return nil
}

// lockState takes an exclusive lock serializing subnet choices between
// harness processes on this machine; the returned func releases it.
func lockState() (func(), error) {
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(StateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Cleanup removes everything run id created (of backend kind "local" or
// "docker"): server processes in its namespaces, namespaces, interfaces,
// the FORWARD rule, containers, the docker network and image, and its run
// record. It only matches names and labels carrying that run id, so it
// never touches anything another run made; do not call it for a run still
// in use.
func Cleanup(ctx context.Context, kind, id string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(id) != 6 {
		return fmt.Errorf("cleanup: bad run id %q", id)
	}
	var err error
	switch kind {
	case "local":
		err = cleanupLocal(ctx, id, log)
	case "docker":
		err = cleanupDocker(ctx, id, log)
	default:
		return fmt.Errorf("cleanup: unknown backend %q", kind)
	}
	if err != nil {
		return fmt.Errorf("cleanup run %s (%s): %w", id, kind, err)
	}
	return unregisterRun(id)
}

// CleanupStale removes the leftovers of runs whose owning process is gone
// (a harness killed before Close). Runs of live processes are left alone.
// New calls it before starting a local or docker cluster.
func CleanupStale(ctx context.Context, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ents, err := os.ReadDir(StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", StateDir, err)
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(StateDir, name))
		if err != nil {
			continue // removed meanwhile
		}
		var rec runRecord
		if err := json.Unmarshal(b, &rec); err != nil || rec.ID+".json" != name {
			log.Warn("ignoring unreadable run record", "file", name, "err", err)
			continue
		}
		if ownerAlive(rec) {
			continue
		}
		log.Info("cleaning up a stale run", "run", rec.ID, "kind", rec.Kind, "pid", rec.PID, "created", rec.Created)
		if err := Cleanup(ctx, rec.Kind, rec.ID, log); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ownerAlive reports whether the process that registered rec still runs
// (the same process: the start time guards against pid reuse).
func ownerAlive(rec runRecord) bool {
	if rec.PID <= 0 {
		return false
	}
	if rec.Start != "" {
		return procStart(rec.PID) == rec.Start
	}
	err := syscall.Kill(rec.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// runCmd runs a command and returns its standard output; the error names
// the command and carries its standard error.
func runCmd(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

// usedPrefixes lists the IPv4 prefixes of this machine's routes and
// addresses (and extra ones, e.g. docker networks' subnets).
func usedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	var out []netip.Prefix
	routes, err := runCmd(ctx, "", "ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(routes, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if dst == "local" || dst == "broadcast" || dst == "unicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if p, ok := parsePrefix(dst); ok {
			out = append(out, p)
		}
	}
	addrs, err := runCmd(ctx, "", "ip", "-4", "-o", "addr", "show")
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(addrs, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, ok := parsePrefix(f[i+1]); ok {
					out = append(out, p.Masked())
				}
			}
		}
	}
	return out, nil
}

// parsePrefix parses "a.b.c.d/n" or "a.b.c.d" (a /32).
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return netip.PrefixFrom(a, 32), true
	}
	return netip.Prefix{}, false
}

// freeSubnet returns a /24 "a.b.X.0/24" (base is "a.b") that overlaps none
// of used, starting at a random X so concurrent runs rarely collide.
func freeSubnet(base string, used []netip.Prefix, skip map[string]bool) (netip.Prefix, error) {
	var r [1]byte
	_, _ = rand.Read(r[:])
	for k := range 256 {
		x := (int(r[0]) + k) % 256
		p, err := netip.ParsePrefix(fmt.Sprintf("%s.%d.0/24", base, x))
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("subnet base %q: %w", base, err)
		}
		if skip[p.String()] {
			continue
		}
		clash := false
		for _, u := range used {
			if u.Overlaps(p) && u.Bits() > 0 {
				clash = true
				break
			}
		}
		if !clash {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 under %s.0.0/16", base)
}

// hostIP returns the address .n of a /24 subnet.
func hostIP(subnet netip.Prefix, n int) string {
	b := subnet.Addr().As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b).String()
}
