package main

import (
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/troika-db/troika/gossip"
	"github.com/troika-db/troika/node/config"
)

// newLogger builds the process logger: text lines to logfile ("" = stdout)
// at the redis loglevel's slog equivalent.
func newLogger(file, level string, stdout io.Writer) (*slog.Logger, func(), error) {
	w, closeFn := stdout, func() {}
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, err
		}
		w, closeFn = f, func() { f.Close() }
	}
	lvl := slog.LevelInfo
	switch level {
	case config.LogDebug:
		lvl = slog.LevelDebug - 4
	case config.LogVerbose:
		lvl = slog.LevelDebug
	case config.LogWarning:
		lvl = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), closeFn, nil
}

// hosts returns the address to listen on and the address announced to
// clients and peers. bind "*" (the default "* -::*") listens everywhere and
// announces 127.0.0.1 unless cluster-announce-ip says otherwise.
func hosts(v config.Values) (listen, announce string) {
	listen = "0.0.0.0"
	for _, b := range v.Bind {
		b = trimDash(b) // "-addr": optional address (Redis 7)
		if b == "*" || b == "::*" || b == "" {
			continue
		}
		listen = b
		break
	}
	announce = listen
	if isWildcard(listen) {
		announce = "127.0.0.1"
	}
	if v.ClusterAnnounceIP != "" {
		announce = v.ClusterAnnounceIP
	}
	return listen, announce
}

func trimDash(s string) string {
	if len(s) > 0 && s[0] == '-' {
		return s[1:]
	}
	return s
}

func isWildcard(h string) bool { return h == "0.0.0.0" || h == "::" || h == "" }

func slowlogThreshold(us int64) time.Duration {
	if us < 0 {
		return -1
	}
	if us == 0 {
		return time.Nanosecond
	}
	return time.Duration(us) * time.Microsecond
}

// protectedListener implements protected-mode: with no password and a
// wildcard bind, only loopback clients are accepted; others get Redis's
// DENIED error and are disconnected.
type protectedListener struct{ net.Listener }

const deniedMsg = "-DENIED Troika is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers, either set a password (requirepass), bind to a specific address (bind), or disable protected mode (protected-mode no).\r\n"

func (p protectedListener) Accept() (net.Conn, error) {
	for {
		c, err := p.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, deniedMsg)
			c.Close()
			continue
		}
		return c, nil
	}
}

// everysec returns the periodic fsync interval for appendfsync.
func everysec(mode string) time.Duration {
	if mode == config.FsyncEverysec {
		return time.Second
	}
	return 0
}

// keepAliveListener applies tcp-keepalive to accepted client connections
// (0 turns keepalive off).
type keepAliveListener struct {
	net.Listener
	period time.Duration
}

func (k keepAliveListener) Accept() (net.Conn, error) {
	c, err := k.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: k.period > 0, Idle: k.period, Interval: k.period})
	}
	return c, nil
}

// gossipTuning derives failure-detection timings from cluster-node-timeout:
// the LAN defaults for the usual 15 s, a faster profile when operators (or
// tests) ask for quick failover with a short timeout.
func gossipTuning(nodeTimeout time.Duration) gossip.Tuning {
	if nodeTimeout > 0 && nodeTimeout < 5*time.Second {
		return gossip.FastTuning()
	}
	return gossip.Tuning{}
}
