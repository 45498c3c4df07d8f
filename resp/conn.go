package resp

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// conn is one client connection. Its goroutine (serve) is the only one
// that reads, parses, executes and writes; other goroutines (CLIENT LIST,
// CLIENT KILL, the idle reaper, Close) only read the fields guarded by mu
// or the atomics, and stop the connection through kill.
type conn struct {
	srv     *Server
	nc      net.Conn
	id      uint64
	fd      int
	addr    string
	laddr   string
	created time.Time

	r reader
	w writer

	// State owned by the serve goroutine.
	authenticated bool
	readOnly      bool // READONLY sent: replica reads allowed
	asking        bool // ASKING sent: applies to the next command only
	closeAfter    bool // QUIT or CLIENT KILL of self: close once replies are written
	pending       []pendingReply
	batch         []Cmd
	batchCmds     []*Command
	keyBuf        []keyRef
	mark          int       // length of w.b after the last complete reply
	rejected      bool      // set by a local handler whose error is a rejection (routing)
	txn           *txnState // open MULTI block, nil outside one
	watched       []Watch   // WATCH: slot versions EXEC checks

	// ps is the connection's Pub/Sub state and asynchronous output, from
	// its first subscription until its output is drained after the last
	// unsubscription (pubsub.go). Set and cleared by the serve goroutine
	// only; nil for a connection that never subscribed, so the request
	// path costs one nil check.
	ps         *connPubSub
	subscribed atomic.Bool  // CLIENT_PUBSUB: at least one subscription
	outPending atomic.Int64 // asynchronous output not yet written (omem)

	lastSeen atomic.Int64 // unix nanoseconds of the last input
	busy     atomic.Bool  // running commands: not idle, whatever the Backend's latency
	killed   atomic.Bool

	mu   sync.Mutex // guards info
	info connInfo
}

// connInfo is what other connections can observe (CLIENT LIST).
type connInfo struct {
	name    string
	lastCmd string
	proto   int
	flags   string // "N", "r", ...
	noEvict bool
	libName string
	libVer  string
	qbuf    int
	qbufCap int
	argvMem int
	outLen  int
	outCap  int
	multi   int // commands queued in MULTI; -1 outside one
	sub     int // subscriptions: channels, patterns, shard channels
	psub    int
	ssub    int
}

// pendingReply is a reply slot in a connection's current batch: either an
// error decided by resp (arity, CROSSSLOT, NOAUTH) or the index of a Cmd
// to be sent to Backend.Exec.
type pendingReply struct {
	errText string
	cmd     int // index into batch, or -1
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:     s,
		nc:      nc,
		id:      s.nextID.Add(1),
		fd:      -1,
		addr:    nc.RemoteAddr().String(),
		laddr:   nc.LocalAddr().String(),
		created: time.Now(),
	}
	c.authenticated = s.requiredPass() == ""
	c.w.proto = 2
	c.w.errHook = s.stats.countError
	c.info.proto = 2
	c.info.flags = "N"
	c.info.multi = -1
	c.lastSeen.Store(c.created.UnixNano())
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	return c
}

func (c *conn) lastInteraction() time.Time { return time.Unix(0, c.lastSeen.Load()) }

// kill closes the connection from any goroutine; serve then returns.
func (c *conn) kill() {
	if c.killed.CompareAndSwap(false, true) {
		_ = c.nc.Close()
	}
}

// serve is the connection's goroutine: read, parse every complete request
// (the pipeline), execute them in order, flush the replies once.
func (c *conn) serve() {
	defer c.srv.wg.Done()
	defer c.srv.removeConn(c)
	defer c.kill()
	drain := false // closing after the replies (QUIT, protocol error): write them first
	defer func() { c.endPubSub(drain) }()
	log := c.srv.log.With("client_id", c.id, "addr", c.addr)
	for {
		n, err := c.r.fill(c.nc)
		if n > 0 {
			c.lastSeen.Store(time.Now().UnixNano())
			c.srv.stats.netInput.Add(int64(n))
			if limit := c.srv.queryBufLimit.Load(); int64(c.r.pending()) > limit {
				log.Warn("closing client that reached max query buffer length",
					"qbuf", c.r.pending(), "limit", limit)
				return
			}
			c.busy.Store(true)
			keep := c.process(log)
			ok := c.flush()
			c.busy.Store(false)
			c.lastSeen.Store(time.Now().UnixNano())
			if !ok || !keep {
				drain = ok
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !c.killed.Load() {
				log.Debug("client read failed", "err", err)
			}
			return
		}
	}
}

// process runs every complete request in the read buffer. It returns false
// when the connection must be closed after the replies are flushed
// (protocol error, QUIT, CLIENT KILL, panic).
func (c *conn) process(log *slog.Logger) (keep bool) {
	c.mark = len(c.w.b)
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic while serving client; closing the connection",
				"panic", p, "stack", string(debug.Stack()))
			// Drop a half-written reply and the batch whose replies are lost.
			c.w.b = c.w.b[:c.mark]
			c.pending, c.batch, c.batchCmds = c.pending[:0], c.batch[:0], c.batchCmds[:0]
			c.w.error(msgInternal)
			keep = false
		}
	}()
	for !c.closeAfter {
		args, err := c.r.next(c.limits())
		if err != nil {
			c.flushPending()
			var pe *ProtocolError
			if errors.As(err, &pe) {
				log.Debug("protocol error; closing the connection", "err", pe.Text)
				c.w.error(pe.Text)
			}
			return false
		}
		if args == nil {
			break
		}
		c.handle(args)
	}
	c.flushPending()
	c.updateInfo()
	return !c.closeAfter
}

func (c *conn) limits() readLimits {
	return readLimits{
		maxBulk:      c.srv.protoMaxBulk.Load(),
		maxMultibulk: c.srv.cfg.MaxMultibulkLen,
		unauth:       c.authRequired(),
	}
}

// authRequired is Redis's authRequired(): the default user has a password
// and this connection has not authenticated.
func (c *conn) authRequired() bool {
	return !c.authenticated && c.srv.requiredPass() != ""
}

// flush writes the output buffer. It returns false if the write failed.
func (c *conn) flush() bool {
	if c.ps != nil {
		return c.flushAsync()
	}
	if len(c.w.b) == 0 {
		return true
	}
	n, err := c.nc.Write(c.w.b)
	c.srv.stats.netOutput.Add(int64(n))
	c.w.b = c.w.b[:0]
	if cap(c.w.b) > shrinkAbove {
		c.w.b = nil
	}
	if err != nil {
		if !c.killed.Load() && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
			c.srv.log.Debug("client write failed", "client_id", c.id, "err", err)
		}
		return false
	}
	return true
}

// updateInfo publishes buffer sizes for CLIENT LIST.
func (c *conn) updateInfo() {
	c.mu.Lock()
	c.info.qbuf = c.r.pending()
	c.info.qbufCap = c.r.bufCap()
	c.info.argvMem = 0
	c.info.outLen = len(c.w.b)
	c.info.outCap = cap(c.w.b)
	c.mu.Unlock()
}

func (c *conn) setInfo(f func(*connInfo)) {
	c.mu.Lock()
	f(&c.info)
	c.mu.Unlock()
}

func (c *conn) snapshot() connInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// sortConns orders clients by id.
func sortConns(cs []*conn) {
	slices.SortFunc(cs, func(a, b *conn) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
}
