// Package gossip is Troika's node membership: which nodes exist, whether
// they are alive, and a small opaque metadata blob per node (addresses,
// leader hints) that every node can read. It wraps hashicorp/memberlist
// (SWIM: random probes, indirect probes, suspicion, infection-style
// dissemination, periodic push/pull anti-entropy); no other package
// imports memberlist.
//
// Gossip runs on the node's cluster port: UDP packets on a socket bound to
// the cluster port number, and memberlist's TCP streams (push/pull, probe
// fallback) through the node's connection Mux. The package does not import
// the Mux: the node passes Config.Dial (open a gossip stream to a peer's
// cluster port) and routes accepted gossip streams to HandleStream.
//
// Typical wiring:
//
//	g, err := gossip.New(gossip.Config{
//		Name:      nodeID,
//		BindAddr:  clusterBind, // UDP on the cluster port
//		Advertise: clusterAdvertise,
//		Meta:      encodeNodeMeta, // <= 512 bytes
//		Dial: func(addr string, d time.Duration) (net.Conn, error) {
//			return mux.Dial(kindGossip, addr, d)
//		},
//		OnEvent: onMembershipEvent,
//		Logger:  logger,
//	})
//	mux.Handle(kindGossip, g.HandleStream)
//	g.Join(seeds)
//	...
//	g.Leave(time.Second) // graceful shutdown only
//	g.Close()
//
// Members lists every known member with its State (alive, suspect, dead,
// left) and the local time it was observed; OnEvent receives the changes in
// order. See DESIGN.md for why it is built this way and for the limits.
package gossip
