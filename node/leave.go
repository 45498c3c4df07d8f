package node

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// Leave prepares a graceful shutdown (SIGTERM): every group this node leads,
// and the meta group, hands leadership to an up-to-date follower, then the
// node announces through gossip that it is leaving. Its replicas stay
// placed here (a restart on the same directory resumes them); CLUSTER
// FORGET, or staying away longer than the node timeout, has them placed
// elsewhere. Close must still be called.
func (n *Node) Leave(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var errs []error
	transfer := func(h *raftHost, prop *proposer) {
		if h.raft.State() != raft.Leader {
			return
		}
		if prop != nil {
			// In-flight writes commit before leadership moves.
			prop.pause(time.Until(deadline))
			defer prop.resume()
		}
		if servers, ok := raftServers(h.raft); ok {
			voters := 0
			for _, s := range servers {
				if s.Suffrage == raft.Voter {
					voters++
				}
			}
			if voters < 2 {
				return
			}
		}
		f := h.raft.LeadershipTransfer()
		done := make(chan error, 1)
		go func() { done <- f.Error() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, err)
			}
		case <-time.After(time.Until(deadline)):
			errs = append(errs, errors.New("leadership transfer timed out"))
		}
	}
	for _, g := range n.localGroups() {
		transfer(g.host, g.prop)
	}
	transfer(n.meta, nil)
	if n.gossip != nil {
		if err := n.gossip.Leave(max(time.Until(deadline), 100*time.Millisecond)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rejoinLoop keeps gossip connected to every configured member: a member
// the gossip layer does not see alive is contacted directly at its cluster
// address every few seconds (after a restart, or once a partition heals).
func (n *Node) rejoinLoop() {
	defer n.wg.Done()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		cfg := n.Config()
		if cfg == nil || n.gossip == nil {
			continue
		}
		var addrs []string
		for _, ni := range cfg.Nodes {
			if ni.ID != n.id.ID && !n.alive(ni.ID) {
				addrs = append(addrs, ni.BusAddr())
			}
		}
		if len(addrs) == 0 {
			continue
		}
		if _, err := n.gossip.Join(addrs); err != nil {
			n.log.Debug("gossip rejoin", "addrs", addrs, "err", err)
		}
	}
}
