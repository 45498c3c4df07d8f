package node

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/troika-db/troika/node/transport"
)

// Connection kinds on the cluster port besides raft (transport.KindRaft).
// Stable numbers: they are on the wire between nodes of different builds.
const (
	kindGossip byte = 2 // memberlist streams (push/pull, fallback probes)
	kindRPC    byte = 3 // node-to-node requests (rpcRequest / rpcResponse)
)

// RPC methods. Stable strings.
const (
	rpcApplied     = "applied"      // Group: the local FSM's applied index of a group
	rpcReadIndex   = "read-index"   // Group: a leader's verified commit index (follower reads)
	rpcProposeMeta = "propose-meta" // Body: a metaCmd for the meta leader
	rpcPublish     = "publish"      // Body: a pubsubMessage, delivered to local subscribers
	rpcVoters      = "voters"       // Group: the voters of a group this node leads
	rpcFailover    = "failover"     // Group, Body: node id; the leader transfers leadership to that voter (CLUSTER FAILOVER)
)

// maxRPCFrame bounds one request or response frame.
const maxRPCFrame = 16 << 20

// rpcTimeout bounds one call.
const rpcTimeout = 5 * time.Second

type rpcRequest struct {
	Method string          `json:"m"`
	Group  uint32          `json:"g,omitempty"`
	Body   json.RawMessage `json:"b,omitempty"`
}

type rpcResponse struct {
	Err   string          `json:"e,omitempty"`
	Index uint64          `json:"i,omitempty"`
	Body  json.RawMessage `json:"b,omitempty"`
}

// errRemote is wrapped by errors a peer returned.
var errRemote = errors.New("remote")

func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(append(hdr[:], b...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxRPCFrame {
		return fmt.Errorf("rpc frame of %d bytes exceeds %d", n, maxRPCFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// rpcClient keeps a few idle connections per peer.
type rpcClient struct {
	mux *transport.Mux

	mu     sync.Mutex
	idle   map[string][]*rpcConn
	closed bool
}

type rpcConn struct {
	c net.Conn
	r *bufio.Reader
}

const rpcIdlePerPeer = 4

func newRPCClient(m *transport.Mux) *rpcClient {
	return &rpcClient{mux: m, idle: map[string][]*rpcConn{}}
}

func (rc *rpcClient) get(addr string) (*rpcConn, error) {
	rc.mu.Lock()
	if rc.closed {
		rc.mu.Unlock()
		return nil, errClosed
	}
	if l := rc.idle[addr]; len(l) > 0 {
		c := l[len(l)-1]
		rc.idle[addr] = l[:len(l)-1]
		rc.mu.Unlock()
		return c, nil
	}
	rc.mu.Unlock()
	c, err := rc.mux.Dial(kindRPC, addr, rpcTimeout)
	if err != nil {
		return nil, err
	}
	return &rpcConn{c: c, r: bufio.NewReader(c)}, nil
}

func (rc *rpcClient) put(addr string, c *rpcConn) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.closed || len(rc.idle[addr]) >= rpcIdlePerPeer {
		c.c.Close()
		return
	}
	rc.idle[addr] = append(rc.idle[addr], c)
}

// call sends req to the node at bus address addr and waits for its answer.
// A pooled connection that fails before anything was read is retried once
// on a fresh connection (the peer may have closed it while idle).
func (rc *rpcClient) call(addr string, req rpcRequest, timeout time.Duration) (rpcResponse, error) {
	for attempt := 0; ; attempt++ {
		c, err := rc.get(addr)
		if err != nil {
			return rpcResponse{}, fmt.Errorf("rpc %s to %s: %w", req.Method, addr, err)
		}
		_ = c.c.SetDeadline(time.Now().Add(timeout))
		var resp rpcResponse
		err = writeFrame(c.c, req)
		if err == nil {
			err = readFrame(c.r, &resp)
		}
		if err != nil {
			c.c.Close()
			if attempt == 0 && !errors.Is(err, transport.ErrLinkDown) && !isTimeout(err) {
				continue
			}
			return rpcResponse{}, fmt.Errorf("rpc %s to %s: %w", req.Method, addr, err)
		}
		_ = c.c.SetDeadline(time.Time{})
		rc.put(addr, c)
		if resp.Err != "" {
			return resp, fmt.Errorf("rpc %s to %s: %w: %s", req.Method, addr, errRemote, resp.Err)
		}
		return resp, nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (rc *rpcClient) close() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.closed = true
	for _, l := range rc.idle {
		for _, c := range l {
			c.c.Close()
		}
	}
	rc.idle = nil
}

// serveRPC answers requests on one accepted connection until it fails. It
// runs on the Mux's per-connection goroutine (the Mux owns and waits for
// it; closing the Mux closes the connection).
func (n *Node) serveRPC(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		var req rpcRequest
		if err := readFrame(r, &req); err != nil {
			return
		}
		resp := n.handleRPC(req)
		if err := writeFrame(c, resp); err != nil {
			return
		}
	}
}

func (n *Node) handleRPC(req rpcRequest) rpcResponse {
	switch req.Method {
	case rpcApplied:
		if req.Group == 0 {
			return rpcResponse{Index: n.meta.raft.AppliedIndex()}
		}
		g := n.group(req.Group)
		if g == nil {
			return rpcResponse{Err: "group not hosted"}
		}
		return rpcResponse{Index: g.fsm.applied.Load()}
	case rpcReadIndex:
		g := n.group(req.Group)
		if g == nil {
			return rpcResponse{Err: "group not hosted"}
		}
		idx, err := g.reads.leaderIndex()
		if err != nil {
			return rpcResponse{Err: err.Error()}
		}
		return rpcResponse{Index: idx}
	case rpcVoters:
		g := n.group(req.Group)
		if g == nil {
			return rpcResponse{Err: "group not hosted"}
		}
		if _, ok := g.host.ready(); !ok {
			return rpcResponse{Err: "not the leader"}
		}
		v, ok := votersOf(g.host.raft)
		if !ok {
			return rpcResponse{Err: "configuration unavailable"}
		}
		b, _ := json.Marshal(sortedIDs(v))
		return rpcResponse{Body: b}
	case rpcFailover:
		return n.acceptFailover(req)
	case rpcProposeMeta:
		var cmd metaCmd
		if err := json.Unmarshal(req.Body, &cmd); err != nil {
			return rpcResponse{Err: "bad meta command: " + err.Error()}
		}
		if err := n.proposeMetaLocal(&cmd); err != nil {
			return rpcResponse{Err: err.Error()}
		}
		return rpcResponse{}
	case rpcPublish:
		var m pubsubMessage
		if err := json.Unmarshal(req.Body, &m); err != nil {
			return rpcResponse{Err: "bad message: " + err.Error()}
		}
		if sink := n.pubsubSink.Load(); sink != nil {
			(*sink)(m.Channel, m.Message, m.Sharded)
		}
		return rpcResponse{}
	}
	return rpcResponse{Err: "unknown method " + req.Method}
}
