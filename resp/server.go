package resp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RedisVersion is the redis-server version Troika is compatible with. It
// is what HELLO and INFO report as the server version, because clients
// use it to decide which commands and options they may send.
const RedisVersion = "7.0.15"

// ErrServerClosed is returned by Serve and ListenAndServe after Close.
var ErrServerClosed = errors.New("resp: server closed")

// Config configures a Server. Zero values select Redis's defaults.
type Config struct {
	// Addr is the TCP address ListenAndServe listens on.
	Addr string
	// Backend runs data and CLUSTER commands. Required.
	Backend Backend
	// Settings serves CONFIG GET/SET. Optional: without it CONFIG GET
	// returns nothing and CONFIG SET fails.
	Settings Settings

	// RequirePass is the default user's password ("" = no password).
	RequirePass string
	// ProtoMaxBulkLen bounds one request argument (default 512MB).
	ProtoMaxBulkLen int64
	// MaxMultibulkLen bounds the argument count of one request (default
	// 1024*1024; redis-server 7.0 accepts up to 2^31-1).
	MaxMultibulkLen int64
	// QueryBufferLimit closes a client whose unprocessed input exceeds it
	// (client-query-buffer-limit, default 1GB).
	QueryBufferLimit int64
	// MaxClients bounds simultaneous clients (default 10000).
	MaxClients int
	// Timeout closes clients idle for longer (0 = never).
	Timeout time.Duration
	// SlowlogSlowerThan logs commands that run longer (0 = default 10ms;
	// negative disables; SetOption("slowlog-log-slower-than", "0") logs
	// every command, as in Redis).
	SlowlogSlowerThan time.Duration
	// SlowlogMaxLen bounds the slow log (0 = default 128).
	SlowlogMaxLen int

	// PubSub connects Pub/Sub to the rest of the cluster; nil = this node only.
	PubSub PubSubBackend
	// PubSubOutputLimit is client-output-buffer-limit's pubsub class: a
	// subscribed client whose output backs up past it is disconnected
	// (zero value = Redis's default, 32mb hard, 8mb soft for 60s).
	PubSubOutputLimit OutputLimit

	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger

	// Version is Troika's version (INFO troika_version).
	Version string
	// RunID identifies this process (INFO run_id); random when empty.
	RunID string
	// ConfigFile is the configuration file path (INFO config_file).
	ConfigFile string
	// Executable is the server binary's path (default os.Executable()).
	Executable string
	// TCPPort is reported by INFO (default: the port of the first listener).
	TCPPort int
	// Clock is the node's data clock, which TIME reports (default
	// time.Now). The wiring shifts it by debug-clock-offset-ms (test-only).
	Clock func() time.Time
}

// Server is a RESP server. It owns every goroutine it starts: Close stops
// the accept loops, closes all connections and waits for them.
type Server struct {
	cfg      Config
	log      *slog.Logger
	backend  Backend
	settings Settings
	ctx      context.Context // canceled by Close; parent of every Backend call
	cancel   context.CancelFunc

	// Runtime-changeable options (SetOption).
	requirePass   atomic.Pointer[string]
	protoMaxBulk  atomic.Int64
	queryBufLimit atomic.Int64
	maxClients    atomic.Int64
	timeout       atomic.Int64 // nanoseconds
	slowlog       slowlog
	pubsubLimit   atomic.Pointer[OutputLimit] // normalized: 0 = no limit

	hub          hub // Pub/Sub subscriptions (pubsub.go)
	stats        serverStats
	commandStats []cmdStats // indexed by Command.index
	started      time.Time
	nextID       atomic.Uint64
	tcpPort      atomic.Int64
	firstAddr    atomic.Pointer[net.Addr]

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // accept loops, connections, cron
	done      chan struct{}  // closed by Close
}

// New validates cfg and returns a Server. It starts the server's
// housekeeping goroutine (idle timeouts, ops/sec sampling): call Close.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("resp: Config.Backend is required")
	}
	if cfg.ProtoMaxBulkLen < 0 || cfg.MaxMultibulkLen < 0 || cfg.QueryBufferLimit < 0 ||
		cfg.MaxClients < 0 || cfg.Timeout < 0 || cfg.SlowlogMaxLen < 0 {
		return nil, errors.New("resp: negative limit in Config")
	}
	if cfg.ProtoMaxBulkLen == 0 {
		cfg.ProtoMaxBulkLen = defaultProtoMaxBulk
	}
	if cfg.MaxMultibulkLen == 0 {
		cfg.MaxMultibulkLen = defaultMaxMultibulk
	}
	if cfg.QueryBufferLimit == 0 {
		cfg.QueryBufferLimit = defaultQueryBufLimit
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = 10000
	}
	if cfg.SlowlogSlowerThan == 0 {
		cfg.SlowlogSlowerThan = 10 * time.Millisecond
	}
	if cfg.SlowlogMaxLen == 0 {
		cfg.SlowlogMaxLen = 128
	}
	if cfg.PubSubOutputLimit == (OutputLimit{}) {
		cfg.PubSubOutputLimit = defaultPubSubLimit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.RunID == "" {
		var b [20]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("resp: run id: %w", err)
		}
		cfg.RunID = hex.EncodeToString(b[:])
	}
	if cfg.Executable == "" {
		if exe, err := os.Executable(); err == nil {
			cfg.Executable = exe
		}
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "resp"),
		backend:   cfg.Backend,
		settings:  cfg.Settings,
		started:   time.Now(),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		done:      make(chan struct{}),
	}
	s.commandStats = make([]cmdStats, len(commandTable.all))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	pass := cfg.RequirePass
	s.requirePass.Store(&pass)
	s.protoMaxBulk.Store(cfg.ProtoMaxBulkLen)
	s.queryBufLimit.Store(cfg.QueryBufferLimit)
	s.maxClients.Store(int64(cfg.MaxClients))
	s.timeout.Store(int64(cfg.Timeout))
	s.slowlog.init(cfg.SlowlogSlowerThan.Microseconds(), cfg.SlowlogMaxLen)
	if cfg.SlowlogSlowerThan < 0 {
		s.slowlog.slowerThan.Store(-1)
	}
	s.tcpPort.Store(int64(cfg.TCPPort))
	s.hub.init()
	lim := cfg.PubSubOutputLimit.normalized()
	s.pubsubLimit.Store(&lim)
	s.wg.Add(1)
	go s.cron()
	return s, nil
}

// ListenAndServe listens on cfg.Addr and serves until Close.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("resp: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close (then it returns
// ErrServerClosed) or until ln fails. Serve closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()

	addr := ln.Addr()
	s.firstAddr.CompareAndSwap(nil, &addr)
	if ta, ok := addr.(*net.TCPAddr); ok {
		s.tcpPort.CompareAndSwap(0, int64(ta.Port))
	}
	s.log.Info("accepting RESP connections", "addr", addr.String())

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-s.done:
					return ErrServerClosed
				}
			}
			return fmt.Errorf("resp: accept on %s: %w", addr, err)
		}
		backoff = 0
		s.accept(nc)
	}
}

// isTemporary recognizes accept errors worth retrying (EMFILE, ECONNABORTED...).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// accept admits or rejects a new connection.
func (s *Server) accept(nc net.Conn) {
	s.stats.connectionsReceived.Add(1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	if int64(len(s.conns)) >= s.maxClients.Load() {
		s.mu.Unlock()
		s.stats.rejectedConns.Add(1)
		// Like Redis: a best-effort write, no waiting for a slow client.
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write([]byte("-" + msgMaxClients + "\r\n"))
		_ = nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// clients returns a snapshot of the connected clients, by id.
func (s *Server) clients() []*conn {
	s.mu.Lock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	s.mu.Unlock()
	sortConns(out)
	return out
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Addr returns the address of the first listener Serve was given, or nil.
func (s *Server) Addr() net.Addr {
	if a := s.firstAddr.Load(); a != nil {
		return *a
	}
	return nil
}

// Close stops accepting, closes every connection, cancels in-flight
// Backend calls and waits for all the server's goroutines. It is safe to
// call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("resp: close listener %s: %w", ln.Addr(), err))
		}
	}
	for c := range s.conns {
		c.kill()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return errors.Join(errs...)
}

// cron is Redis's clientsCron and the ops/sec sampler: every 100ms it
// closes clients idle for longer than timeout and records an ops sample.
func (s *Server) cron() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.stats.sampleOps(now)
			if to := time.Duration(s.timeout.Load()); to > 0 {
				for _, c := range s.clients() {
					// Like Redis, subscribers never time out.
					if !c.busy.Load() && !c.subscribed.Load() && now.Sub(c.lastInteraction()) > to {
						s.log.Debug("closing idle client", "id", c.id, "addr", c.addr)
						c.kill()
					}
				}
			}
		}
	}
}

// SetOption applies a runtime change of a directive that resp owns and
// reports whether name is one of them and value was valid. Names are
// Redis's: requirepass, proto-max-bulk-len, client-query-buffer-limit,
// maxclients, timeout (seconds), slowlog-log-slower-than (microseconds),
// slowlog-max-len, client-output-buffer-limit (its pubsub class). Sizes
// accept Redis's units (1gb, 512mb, 64k...).
func (s *Server) SetOption(name, value string) bool {
	switch name {
	case "client-output-buffer-limit":
		lim, found, ok := parsePubSubLimit(value)
		if ok && found {
			s.pubsubLimit.Store(&lim)
		}
		return ok
	case "requirepass":
		v := value
		s.requirePass.Store(&v)
		return true
	case "proto-max-bulk-len", "client-query-buffer-limit":
		n, ok := parseMemory(value)
		if !ok || n <= 0 {
			return false
		}
		if name == "proto-max-bulk-len" {
			s.protoMaxBulk.Store(n)
		} else {
			s.queryBufLimit.Store(n)
		}
		return true
	case "maxclients", "timeout", "slowlog-log-slower-than", "slowlog-max-len":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return false
		}
		switch name {
		case "maxclients":
			if n < 1 {
				return false
			}
			s.maxClients.Store(n)
		case "timeout":
			if n < 0 || n > int64(time.Duration(1<<63-1)/time.Second) {
				return false
			}
			s.timeout.Store(int64(time.Duration(n) * time.Second))
		case "slowlog-log-slower-than":
			s.slowlog.slowerThan.Store(n)
		case "slowlog-max-len":
			if n < 0 {
				return false
			}
			s.slowlog.setMaxLen(int(n))
		}
		return true
	}
	return false
}

// parseMemory parses a Redis memory value: a byte count with an optional
// unit k, kb, m, mb, g, gb (k = 1000, kb = 1024), case-insensitive.
func parseMemory(s string) (int64, bool) {
	units := []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}}
	mul := int64(1)
	ls := []byte(s)
	for i, c := range ls {
		if 'A' <= c && c <= 'Z' {
			ls[i] = c + 'a' - 'A'
		}
	}
	num := string(ls)
	for _, u := range units {
		if len(num) > len(u.suffix) && num[len(num)-len(u.suffix):] == u.suffix {
			num, mul = num[:len(num)-len(u.suffix)], u.mul
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<63-1)/mul {
		return 0, false
	}
	return n * mul, true
}

// cmdStats returns the server's counters for cmd.
func (s *Server) cmdStats(cmd *Command) *cmdStats { return &s.commandStats[cmd.index] }

func (s *Server) requiredPass() string { return *s.requirePass.Load() }
