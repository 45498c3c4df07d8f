package resp

import (
	"context"

	"github.com/troika-db/troika/fsm"
)

// Cmd is one data command handed to the Backend. Args[0] is the command
// name as the client sent it; the Backend matches names case-insensitively.
type Cmd struct {
	Args [][]byte
	// Slot is the hash slot of the command's keys (all keys share it: resp
	// has already answered CROSSSLOT otherwise), or -1 for a command without
	// keys that the Backend runs node-wide (DBSIZE, KEYS, SCAN, RANDOMKEY,
	// FLUSHALL, FLUSHDB).
	Slot int
	// Write is true for commands flagged "write" in the command table.
	Write bool
	// ReadOnly is true when the connection sent READONLY (replica reads allowed).
	ReadOnly bool
	// Asking is true for the command right after ASKING.
	Asking bool
}

// Backend is what the RESP server needs from the node. resp declares it and
// node implements it, so resp never imports node and node never writes RESP.
//
// Errors come back as fsm error replies (fsm.Reply with Kind KindError and a
// Code); resp turns codes into Redis's exact texts (resp/errors.go).
type Backend interface {
	// Exec runs a connection's pipeline of data commands and returns one
	// reply per command, in order. A later command observes every earlier
	// one. Routing errors (MOVED, CLUSTERDOWN, TRYAGAIN) are replies too.
	Exec(ctx context.Context, cmds []Cmd) []fsm.Reply
	// ExecTxn runs the data commands of a MULTI/EXEC block atomically: all
	// keyed commands hash to one slot (resp checked), and no other client's
	// command may interleave with them. It returns one reply per command,
	// or, when the block cannot run at all (MOVED, CLUSTERDOWN, TRYAGAIN,
	// an indeterminate outcome), that one error reply for EXEC instead.
	// watches are the slot versions WATCH read: if any slot moved on when
	// the block is applied, nothing runs and whole is fsm.NilArray.
	ExecTxn(ctx context.Context, cmds []Cmd, watches []Watch) (replies []fsm.Reply, whole fsm.Reply)
	// Watch reads, linearizably, the version of slot that a later EXEC
	// compares (WATCH), or returns the reply redirecting the client.
	Watch(ctx context.Context, slot int) (version uint64, redirect fsm.Reply)
	// Cluster answers a CLUSTER subcommand; args[0] is "CLUSTER".
	Cluster(ctx context.Context, args [][]byte) fsm.Reply
	// Info returns the text of one INFO section owned by the node
	// ("cluster", "keyspace", "raft", "persistence", "replication"),
	// without the "# Title" line; "" when the section is unknown to it.
	Info(section string) string
}

// Settings is the server configuration as CONFIG GET/SET see it. The wiring
// passes node/config's store; resp applies the directives it owns itself
// (requirepass, limits, slowlog, timeout) after a successful Set.
type Settings interface {
	// Get returns name/value pairs of every directive whose name matches
	// the glob pattern (Redis glob rules, case-insensitive), sorted by name.
	Get(pattern string) [][2]string
	// Set validates and changes a runtime-changeable directive. The error
	// text is sent to the client verbatim after "ERR ".
	Set(name, value string) error
}

// SettingsRewriter is implemented by a Settings that can persist itself to
// the configuration file (CONFIG REWRITE). Without it, or without
// Config.ConfigFile, CONFIG REWRITE answers Redis's "running without a
// config file" error.
type SettingsRewriter interface {
	Rewrite() error
}

// PubSubBackend connects Pub/Sub to the rest of the cluster (Config.PubSub).
// Messages published on other nodes come back through Server.Deliver.
// Both methods run on the publishing or subscribing client's goroutine and
// must not block on the network.
type PubSubBackend interface {
	// Publish hands a message published on this node to the other nodes of
	// the cluster (fire and forget; delivery there calls Server.Deliver).
	// sharded is true for SPUBLISH; slot is its slot (-1 otherwise).
	// channel and message alias the client's read buffer: Publish must
	// copy what it keeps after returning.
	Publish(channel, message []byte, sharded bool, slot int)
	// RouteSlot reports whether this node serves slot for SPUBLISH,
	// SSUBSCRIBE and SUNSUBSCRIBE; when it does not, redirect is the error
	// reply to send instead (MOVED <slot> host:port, or CLUSTERDOWN).
	RouteSlot(slot int) (redirect fsm.Reply, ok bool)
}

// Watch is a slot version read by WATCH.
type Watch struct {
	Slot    int
	Version uint64
}
