// Command troika-server runs one Troika node. It is invoked like
// redis-server: an optional redis.conf-style file, then --directive value
// pairs using redis.conf names.
//
//	troika-server [path/to/troika.conf] [--port 7000 --dir data/7000 ...]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/troika-db/troika/fsm"
	"github.com/troika-db/troika/node"
	"github.com/troika-db/troika/node/config"
	"github.com/troika-db/troika/resp"
)

// version is Troika's version, reported by INFO and --version.
const version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 {
		switch args[0] {
		case "-v", "--version":
			fmt.Fprintf(stdout, "Troika server v=%s (Redis 7.0 compatible)\n", version)
			return 0
		case "-h", "--help":
			fmt.Fprint(stdout, config.Usage("troika-server"))
			return 0
		}
	}
	cfg, err := config.Load(args, stdin)
	if err != nil {
		fmt.Fprint(stderr, config.FatalReport(err, "Troika "+version))
		return 1
	}
	store := config.NewStore(cfg)
	v := store.Values()
	logger, closeLog, err := newLogger(v.LogFile, v.LogLevel, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "troika-server: logfile: %v\n", err)
		return 1
	}
	defer closeLog()
	if err := serve(cfg.File, store, logger); err != nil {
		logger.Error("troika-server stopped", "err", err)
		fmt.Fprintf(stderr, "troika-server: %v\n", err)
		return 1
	}
	return 0
}

func serve(configFile string, store *config.Store, logger *slog.Logger) error {
	v := store.Values()
	dir, err := filepath.Abs(v.Dir)
	if err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	listenHost, announce := hosts(v)
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost, strconv.Itoa(v.Port)))
	if err != nil {
		return fmt.Errorf("client port: %w", err)
	}
	ln = keepAliveListener{Listener: ln, period: v.TCPKeepAlive}
	if v.ProtectedMode && v.RequirePass == "" && isWildcard(listenHost) {
		ln = protectedListener{ln}
	}
	clusterLn, err := net.Listen("tcp", net.JoinHostPort(listenHost, strconv.Itoa(v.ClusterPort)))
	if err != nil {
		ln.Close()
		return fmt.Errorf("cluster port: %w", err)
	}
	announcePort := v.Port
	if v.ClusterAnnouncePort != 0 {
		announcePort = v.ClusterAnnouncePort
	}
	warnUnsafe(logger, v)
	bugs, err := bugsOf(v.DebugBugs)
	if err != nil {
		ln.Close()
		clusterLn.Close()
		return err
	}
	clock := &dataClock{}
	clock.set(v.DebugClockOffset)
	n, err := node.New(node.Config{
		Dir:             dir,
		Host:            announce,
		Port:            announcePort,
		ClusterPort:     v.ClusterPort,
		ClusterListener: clusterLn,
		Groups:          v.ClusterGroups,
		Replicas:        v.ClusterReplicas,
		NoSync:          v.AppendFsync != config.FsyncAlways,
		SyncEvery:       everysec(v.AppendFsync),
		Hz:              v.Hz,
		Mode:            v.ClusterMode,
		Join:            v.ClusterJoin,
		BindHost:        listenHost,
		BusPort:         v.ClusterAnnounceBusPort,
		NodeTimeout:     v.ClusterNodeTimeout,
		Gossip:          gossipTuning(v.ClusterNodeTimeout),

		// The committed mode is the cluster's: show it in CONFIG GET here
		// too (setting the same value back proposes nothing).
		OnModeChange: func(mode string) {
			if store.Values().ClusterMode != mode {
				if err := store.Set("cluster-mode", mode); err != nil {
					logger.Warn("cluster-mode", "err", err)
				}
			}
		},

		RequireFullCoverage: v.ClusterRequireFullCoverage,
		AllowReadsWhenDown:  v.ClusterAllowReadsWhenDown,
		Logger:              logger,
		Clock:               clock.now,
		DebugUnsafe:         v.DebugUnsafe,
		Bugs:                bugs,
		Tune: node.RaftTuning{
			HeartbeatTimeout:  v.RaftHeartbeatTimeout,
			ElectionTimeout:   v.RaftElectionTimeout,
			SnapshotThreshold: v.RaftSnapshotThreshold,
			SnapshotInterval:  v.RaftSnapshotInterval,
			TrailingLogs:      v.RaftTrailingLogs,
		},
	})
	if err != nil {
		ln.Close()
		clusterLn.Close()
		return fmt.Errorf("start node: %w", err)
	}
	srv, err := resp.New(resp.Config{
		Backend:           backend{n},
		Settings:          store,
		RequirePass:       v.RequirePass,
		ProtoMaxBulkLen:   v.ProtoMaxBulkLen,
		QueryBufferLimit:  v.ClientQueryBufferLimit,
		MaxClients:        int(v.MaxClients),
		Timeout:           v.Timeout,
		SlowlogSlowerThan: slowlogThreshold(v.SlowlogLogSlowerThan),
		SlowlogMaxLen:     int(v.SlowlogMaxLen),
		Logger:            logger,
		Version:           version,
		ConfigFile:        configFile,
		TCPPort:           v.Port,
		PubSub:            n,
		Clock:             clock.now,
	})
	if err != nil {
		n.Close()
		ln.Close()
		return fmt.Errorf("resp server: %w", err)
	}
	// Messages published on other nodes reach this node's subscribers.
	n.SetPubSubSink(func(channel, message []byte, sharded bool) { srv.Deliver(channel, message, sharded) })
	if addr := os.Getenv("TROIKA_PPROF"); addr != "" {
		stopProf := startPprof(addr, logger)
		defer stopProf()
	}
	store.OnChange(func(name, value string) {
		srv.SetOption(name, value)
		cur := store.Values()
		switch name {
		case "hz":
			n.SetHz(cur.Hz)
		case "cluster-node-timeout":
			n.SetNodeTimeout(cur.ClusterNodeTimeout)
		case "cluster-require-full-coverage", "cluster-allow-reads-when-down":
			n.SetCoverage(cur.ClusterRequireFullCoverage, cur.ClusterAllowReadsWhenDown)
		case "cluster-mode":
			if err := n.SetMode(cur.ClusterMode); err != nil {
				logger.Warn("cluster-mode change not committed", "mode", cur.ClusterMode, "err", err)
			}
		case "debug-bugs":
			b, err := bugsOf(cur.DebugBugs)
			if err == nil {
				err = n.SetBugs(b)
			}
			if err != nil {
				logger.Error("debug-bugs not applied", "bugs", cur.DebugBugs, "err", err)
			}
		case "debug-clock-offset-ms":
			clock.set(cur.DebugClockOffset)
			logger.Warn("data clock shifted (debug-clock-offset-ms)", "offset_ms", cur.DebugClockOffset.Milliseconds())
		}
	})
	logger.Info("Troika ready to accept connections", "version", version, "node", n.ID(),
		"port", v.Port, "cluster_port", v.ClusterPort, "dir", dir, "groups", v.ClusterGroups)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var result error
	select {
	case s := <-sigs:
		logger.Info("shutting down", "signal", s.String())
		if err := n.Leave(5 * time.Second); err != nil {
			logger.Warn("graceful leave incomplete", "err", err)
		}
	case err := <-serveErr:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			result = fmt.Errorf("serve: %w", err)
		}
	}
	if err := srv.Close(); err != nil {
		logger.Warn("closing client port", "err", err)
	}
	if err := n.Close(); err != nil {
		logger.Warn("closing node", "err", err)
	}
	logger.Info("bye")
	return result
}

// backend adapts *node.Node to resp.Backend: the two packages do not import
// each other, so the wiring converts the command type.
type backend struct{ n *node.Node }

func (b backend) Exec(ctx context.Context, cmds []resp.Cmd) []fsm.Reply {
	nc := make([]node.Cmd, len(cmds))
	for i, c := range cmds {
		nc[i] = node.Cmd(c)
	}
	return b.n.Exec(ctx, nc)
}

func (b backend) ExecTxn(ctx context.Context, cmds []resp.Cmd, watches []resp.Watch) ([]fsm.Reply, fsm.Reply) {
	nc := make([]node.Cmd, len(cmds))
	for i, c := range cmds {
		nc[i] = node.Cmd(c)
	}
	nw := make([]node.Watch, len(watches))
	for i, w := range watches {
		nw[i] = node.Watch(w)
	}
	return b.n.ExecTxn(ctx, nc, nw)
}

func (b backend) Watch(ctx context.Context, slot int) (uint64, fsm.Reply) {
	return b.n.WatchVersion(ctx, slot)
}

func (b backend) Cluster(ctx context.Context, args [][]byte) fsm.Reply { return b.n.Cluster(ctx, args) }

func (b backend) Info(section string) string { return b.n.Info(section) }
