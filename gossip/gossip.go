package gossip

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// MaxMetaSize is the largest metadata a node may publish: memberlist's
// MetaMaxSize. The metadata travels inside a single UDP alive message.
const MaxMetaSize = memberlist.MetaMaxSize

// ErrMetaTooLarge is wrapped by New and UpdateMeta when Config.Meta returns
// more than MaxMetaSize bytes.
var ErrMetaTooLarge = errors.New("gossip: node metadata too large")

// ErrClosed is wrapped by operations on a closed Gossip.
var ErrClosed = errors.New("gossip: closed")

// Config configures New. Name, BindAddr and Dial are required.
type Config struct {
	// Name is the node id (Troika: 40 hex characters). It must be unique
	// in the cluster and stable across restarts.
	Name string
	// BindAddr is the host:port the UDP socket binds: the cluster port
	// number. Port 0 picks a free port (tests).
	BindAddr string
	// Advertise is the host:port announced to peers (NAT, containers).
	// Empty means BindAddr. A host name is resolved once, in New; an
	// unspecified IP (0.0.0.0, ::) is refused.
	Advertise string
	// Meta returns the node's metadata, opaque to gossip. It is read by New
	// and by UpdateMeta, never by memberlist directly, and must return at
	// most MaxMetaSize bytes. Nil means no metadata.
	Meta func() []byte
	// Dial opens a stream to a peer's cluster port, through the node's
	// Mux; the peer's Mux hands it to that peer's HandleStream.
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
	// Allow, when set, filters links between gossip addresses (partition
	// tests): UDP packets are dropped on the sending side unless
	// Allow(local, to) and on the receiving side unless Allow(source,
	// local); streams are refused the same way.
	Allow func(from, to string) bool
	// OnEvent, when set, receives membership events in order, from one
	// goroutine owned by the Gossip, never while memberlist holds a lock.
	// It must not call Close.
	OnEvent func(Event)
	// Tuning holds the protocol timings; zero fields take LANTuning's.
	Tuning Tuning
	// Logger receives the package's logs; memberlist's own lines are
	// logged at Debug. Nil means slog.Default().
	Logger *slog.Logger
}

// Gossip is one node's membership in the cluster: a memberlist running on
// the cluster port. Its methods are safe for concurrent use.
type Gossip struct {
	cfg    Config
	tuning Tuning
	logger *slog.Logger
	tr     *transport
	ml     *memberlist.Memberlist
	tbl    *table

	updateMu sync.Mutex // serialises UpdateMeta: read, store and broadcast in order
	metaMu   sync.Mutex
	meta     []byte // last validated Config.Meta result, served to memberlist

	seedsMu sync.Mutex
	seeds   []string // every seed ever given to Join, for the rejoin loop

	// life serialises Leave (memberlist panics on Leave after Shutdown)
	// with Close.
	life      sync.RWMutex
	closed    bool
	closeOnce sync.Once
	closeErr  error
	ctx       context.Context // cancelled by Close: stops the goroutines and DNS lookups
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New binds the UDP socket and starts memberlist, without joining anyone:
// the node is a cluster of one until Join. The node must route accepted
// gossip streams to HandleStream.
func New(cfg Config) (*Gossip, error) {
	if cfg.Name == "" {
		return nil, errors.New("gossip: Config.Name is required")
	}
	if cfg.BindAddr == "" {
		return nil, errors.New("gossip: Config.BindAddr is required")
	}
	if cfg.Dial == nil {
		return nil, errors.New("gossip: Config.Dial is required")
	}
	tuning, err := cfg.Tuning.withDefaults()
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "gossip")
	meta, err := readMeta(cfg.Meta)
	if err != nil {
		return nil, err
	}

	g := &Gossip{
		cfg:    cfg,
		tuning: tuning,
		logger: logger,
		meta:   meta,
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.tbl = newTable(cfg.Name, cfg.OnEvent != nil)
	g.tr, err = newTransport(transportConfig{
		bind:       cfg.BindAddr,
		advertise:  cfg.Advertise,
		dial:       cfg.Dial,
		allow:      cfg.Allow,
		tcpTimeout: tuning.TCPTimeout,
		logger:     logger,
		observeOut: g.tbl.observeSent,
		observeIn:  g.tbl.observeReceived,
	})
	if err != nil {
		g.cancel()
		return nil, err
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.Transport = g.tr
	mc.BindAddr = g.tr.ip.String()
	mc.BindPort = g.tr.port // default port of seeds given without one
	mc.AdvertiseAddr = g.tr.ip.String()
	mc.AdvertisePort = g.tr.port
	mc.Delegate = (*metaDelegate)(g)
	mc.Events = (*eventDelegate)(g.tbl)
	mc.Conflict = (*conflictDelegate)(g)
	mc.Logger = log.New(&logWriter{logger: logger}, "", 0)
	mc.EnableCompression = false // small packets; keeps the observed wire format plain
	tuning.apply(mc)

	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = g.tr.Shutdown()
		g.cancel()
		return nil, fmt.Errorf("gossip: start memberlist on %s: %w", cfg.BindAddr, err)
	}
	g.ml = ml
	g.wg.Add(2)
	go g.runEvents()
	go g.runRejoin()
	logger.Debug("gossip started", "name", cfg.Name, "addr", g.tr.local)
	return g, nil
}

// readMeta calls f and checks the size limit; the result is a private copy.
func readMeta(f func() []byte) ([]byte, error) {
	if f == nil {
		return nil, nil
	}
	meta := f()
	if len(meta) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMetaTooLarge, len(meta), MaxMetaSize)
	}
	return append([]byte(nil), meta...), nil
}

// HandleStream serves a gossip stream accepted by the node's Mux: it checks
// the stream preamble and Config.Allow, hands the connection to memberlist
// and returns once memberlist is done with it (or the Gossip closes), so a
// Mux that closes the connection when its handler returns is fine. It
// never keeps the connection after returning.
func (g *Gossip) HandleStream(c net.Conn) {
	g.tr.handleStream(c)
}

// Join contacts the seeds (gossip addresses host:port; a missing port means
// the local cluster port) and merges state with every one that answers. It
// returns how many answered; an error only if none did. The seeds are also
// remembered: while a seed's address is not an alive member, the rejoin
// loop retries it every Tuning.RejoinInterval, so a failed Join (seeds not
// up yet) and a partition that outlived Tuning.DeadRetention both heal.
func (g *Gossip) Join(seeds []string) (int, error) {
	if g.isClosed() {
		return 0, fmt.Errorf("gossip: join: %w", ErrClosed)
	}
	g.rememberSeeds(seeds)
	n, err := g.ml.Join(seeds)
	if err != nil {
		return n, fmt.Errorf("gossip: join %v: %w", seeds, err)
	}
	return n, nil
}

func (g *Gossip) rememberSeeds(seeds []string) {
	g.seedsMu.Lock()
	defer g.seedsMu.Unlock()
outer:
	for _, s := range seeds {
		for _, known := range g.seeds {
			if known == s {
				continue outer
			}
		}
		g.seeds = append(g.seeds, s)
	}
}

// Members returns every member this node knows, itself included, sorted by
// Name. Dead and left members stay listed, with their state, for
// Tuning.DeadRetention (memberlist forgets them at about the same time).
func (g *Gossip) Members() []Member { return g.tbl.members() }

// Member returns the member called name, as Members would list it.
func (g *Gossip) Member(name string) (Member, bool) { return g.tbl.member(name) }

// UpdateMeta calls Config.Meta again and gossips the result. It waits up to
// timeout (0: no limit) for the update to be sent to at least one peer. An
// oversized result is refused (ErrMetaTooLarge) and the previous metadata
// stays published.
func (g *Gossip) UpdateMeta(timeout time.Duration) error {
	g.updateMu.Lock()
	defer g.updateMu.Unlock()
	meta, err := readMeta(g.cfg.Meta)
	if err != nil {
		return err
	}
	g.life.RLock()
	defer g.life.RUnlock()
	if g.closed {
		return fmt.Errorf("gossip: update meta: %w", ErrClosed)
	}
	g.metaMu.Lock()
	g.meta = meta
	g.metaMu.Unlock()
	if err := g.ml.UpdateNode(timeout); err != nil {
		return fmt.Errorf("gossip: update meta: %w", err)
	}
	return nil
}

// Leave broadcasts that this node leaves the cluster on purpose (peers mark
// it left rather than dead) and waits up to timeout (0: no limit) for the
// broadcast to reach a peer. The node keeps answering probes until Close;
// it stops rejoining. Leave is final: a node that wants back in must Close
// and start a new Gossip.
func (g *Gossip) Leave(timeout time.Duration) error {
	g.life.RLock()
	defer g.life.RUnlock()
	if g.closed {
		return fmt.Errorf("gossip: leave: %w", ErrClosed)
	}
	g.tbl.setSelfLeft()
	if err := g.ml.Leave(timeout); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// Close shuts memberlist down without a leave broadcast (peers see a
// failure unless Leave was called), closes the UDP socket and every gossip
// stream, and waits for the goroutines of the Gossip. Pending events are
// not delivered. Close is idempotent; later calls return the first result.
func (g *Gossip) Close() error {
	g.closeOnce.Do(func() {
		g.life.Lock() // waits for a Leave or UpdateMeta in progress
		g.closed = true
		g.life.Unlock()
		g.cancel()
		if err := g.ml.Shutdown(); err != nil {
			g.closeErr = fmt.Errorf("gossip: shutdown: %w", err)
		}
		g.wg.Wait()
		g.logger.Debug("gossip closed", "name", g.cfg.Name)
	})
	return g.closeErr
}

func (g *Gossip) isClosed() bool {
	return g.ctx.Err() != nil
}

// LocalAddr returns the advertised gossip address, ip:port.
func (g *Gossip) LocalAddr() string { return g.tr.local }

// metaDelegate serves memberlist's Delegate: only NodeMeta matters.
type metaDelegate Gossip

func (d *metaDelegate) NodeMeta(limit int) []byte {
	g := (*Gossip)(d)
	g.metaMu.Lock()
	defer g.metaMu.Unlock()
	if len(g.meta) > limit { // cannot happen: readMeta checked MaxMetaSize
		return nil
	}
	return append([]byte(nil), g.meta...)
}

func (d *metaDelegate) NotifyMsg([]byte)                           {}
func (d *metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *metaDelegate) LocalState(join bool) []byte                { return nil }
func (d *metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

// conflictDelegate logs name conflicts: another process announces our
// name, or a known name from a new address before the old one is dead.
type conflictDelegate Gossip

func (d *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	d.logger.Warn("gossip: node name announced from two addresses; the newer one is ignored until the older is dead or left",
		"name", existing.Name, "known_addr", existing.Address(), "other_addr", other.Address())
}
