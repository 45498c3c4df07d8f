// Package transport multiplexes one TCP port per node, the cluster port,
// between the raft traffic of every raft group hosted on the node and other
// node-to-node protocols (joining, forwarding, ...).
//
// Every connection starts with a small versioned header (see header.go for
// the byte layout): magic "TK", version, kind, group id and the dialing
// node's address. The Mux accepts connections, reads the header under a
// deadline (Config.HandshakeTimeout, default 5s, so a silent or slow peer
// cannot pin a goroutine) and dispatches:
//
//   - KindRaft: to the StreamLayer registered for the group with Listen.
//   - any other kind: to the handler registered with Mux.Handle. Peers reach
//     it with Mux.Dial(kind, addr, timeout).
//
// A StreamLayer implements raft.StreamLayer, so each group runs a stock
// raft.NetworkTransport on top of it:
//
//	sl, err := mux.Listen(groupID, advertiseAddr)
//	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: sl, ...})
//
// Connections with a bad header, an unknown group or an unregistered kind
// are closed and logged at debug level. They do not affect other
// connections.
//
// LinkFilter (Config.LinkFilter, Mux.SetLinkFilter) simulates partitions
// in-process for tests; see its documentation for the exact semantics.
//
// Shutdown order: close raft instances and their NetworkTransports, then
// their StreamLayers (optional: Mux.Close closes them), then the Mux. Every
// goroutine the Mux starts (accept loop, per-connection handshakes and
// handoffs, handlers) is waited for by Mux.Close.
package transport
