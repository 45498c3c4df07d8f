package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrUnsupported is returned by a fault method the backend cannot inject
// (every fault of the "existing" backend).
var ErrUnsupported = errors.New("cluster: fault not supported by this backend")

// Node is one member of the cluster under test.
type Node struct {
	// Index is the node's position (0-based), stable for the whole test;
	// nodes added during the test get the next indexes.
	Index int
	// Name is a short label for logs and plots ("n1", "n2", ...).
	Name string
	// Addr is the client (RESP) address the harness dials, host:port.
	Addr string
	// IP is the node's own address on the test network (partitions are
	// expressed between IPs); empty for the existing backend.
	IP string
}

// Cut selects which traffic between cut-off nodes a partition drops.
type Cut int

const (
	// CutAll drops all traffic between the components.
	CutAll Cut = iota
	// CutRaft drops node-to-node TCP on the cluster port (Raft, RPCs and
	// gossip's TCP push/pull) but lets gossip's UDP probes through.
	CutRaft
	// CutGossip drops node-to-node UDP on the cluster port (gossip probes)
	// only.
	CutGossip
)

func (c Cut) String() string {
	switch c {
	case CutRaft:
		return "raft"
	case CutGossip:
		return "gossip"
	}
	return "all"
}

// Cluster is a running cluster under test. The harness (the client side)
// always reaches every node's Addr, whatever the partition: partitions
// cut node-to-node traffic only. Methods may be called from several
// goroutines.
type Cluster interface {
	// Nodes returns every node started so far, in Index order (removed
	// and killed nodes included).
	Nodes() []Node
	// Kill sends SIGKILL to node i (no-op when it is not running).
	Kill(ctx context.Context, i int) error
	// Start (re)starts node i on its existing data dir and returns when
	// its client port accepts connections.
	Start(ctx context.Context, i int) error
	// Pause stops node i with SIGSTOP (docker pause); Resume continues it.
	Pause(ctx context.Context, i int) error
	Resume(ctx context.Context, i int) error
	// Partition replaces any current partition: nodes in different
	// components cannot exchange the traffic cut selects. Nodes not listed
	// in any component are isolated from all listed ones (they form one
	// implicit component together: Partition(ctx, [][]int{{0}}, CutAll)
	// isolates node 0 from the rest).
	Partition(ctx context.Context, components [][]int, cut Cut) error
	// Heal removes every partition.
	Heal(ctx context.Context) error
	// AddNode starts a new node with an empty data dir that joins the
	// cluster, and returns its index.
	AddNode(ctx context.Context) (int, error)
	// RemoveNode removes node i from the cluster (CLUSTER FORGET <its id>
	// sent to another running node, which drains it) and stops it once the
	// cluster no longer lists it (or ctx ends).
	RemoveNode(ctx context.Context, i int) error
	// LogPath returns node i's server log file ("" if none).
	LogPath(i int) string
	// Close stops every node, removes partitions, namespaces, containers
	// and networks it created; data and logs stay under Options.Dir.
	Close() error
}

// Options configure a backend.
type Options struct {
	// Nodes is the initial number of nodes.
	Nodes int
	// Binary is the troika-server binary to run (built from the working
	// tree by the caller; a static CGO_ENABLED=0 build for docker).
	Binary string
	// Dir holds the nodes' data dirs and logs (one subfolder per node).
	Dir string
	// ServerArgs are extra directives passed to every node
	// (e.g. "--cluster-node-timeout", "3000", "--debug-unsafe", "yes").
	ServerArgs []string
	// Existing lists host:port client addresses of an already running
	// cluster (backend "existing").
	Existing []string
	// Log receives progress and errors (nil: discarded).
	Log *slog.Logger
	// ReadyTimeout bounds how long New waits for the initial nodes to
	// start and form the cluster (0: 2 minutes); ctx may end it sooner.
	ReadyTimeout time.Duration
}
