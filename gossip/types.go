package gossip

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// State is a member's liveness as this node sees it.
type State int

const (
	// StateAlive: the member answers probes (or refuted a suspicion).
	StateAlive State = iota
	// StateSuspect: a probe failed; the member is declared dead unless it
	// refutes within the suspicion timeout.
	StateSuspect
	// StateDead: the suspicion timed out (crash, partition).
	StateDead
	// StateLeft: the member announced its departure with Leave.
	StateLeft
)

func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// Member is a node of the cluster as this node sees it.
type Member struct {
	Name  string    // node id
	Addr  string    // gossip address ip:port (the node's advertised cluster address)
	Meta  []byte    // the node's metadata, opaque to gossip
	State State     // liveness
	Since time.Time // local time at which this node observed State
}

// EventKind classifies an Event.
type EventKind int

const (
	// EventJoin: a member became alive: first seen, or back after being
	// dead or left (restart, healed partition).
	EventJoin EventKind = iota
	// EventUpdate: an alive member changed its metadata, or a member's
	// state changed without joining or leaving: alive <-> suspect, and
	// dead -> left when the leave announcement arrives after the death.
	EventUpdate
	// EventLeave: a member is gone: Member.State is StateDead or StateLeft.
	EventLeave
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	default:
		return fmt.Sprintf("EventKind(%d)", int(k))
	}
}

// Event is a membership change, with the member as it is after the change.
// The first event of a Gossip is the Join of the local node.
type Event struct {
	Kind   EventKind
	Member Member
}

// Tuning holds the protocol timings. Zero fields take LANTuning's value.
// Failure detection takes about one probe interval plus the suspicion
// timeout, SuspicionMult * max(1, log10(members)) * ProbeInterval, which
// can stretch to SuspicionMaxTimeoutMult times that when few peers confirm
// the suspicion.
type Tuning struct {
	ProbeInterval    time.Duration // between probes of one random member
	ProbeTimeout     time.Duration // wait for a direct ack before indirect probes; <= ProbeInterval
	GossipInterval   time.Duration // between broadcasts to a few random members
	PushPullInterval time.Duration // between full state exchanges with one random member
	SuspicionMult    int
	// SuspicionMaxTimeoutMult bounds the suspicion timeout when peers do
	// not confirm a suspicion (see above).
	SuspicionMaxTimeoutMult int
	// DeadNodeReclaimTime: a dead member's name may be taken over from
	// another address after it has been dead this long (a node restarted
	// with a new IP). A left member's name is free at once.
	DeadNodeReclaimTime time.Duration
	// DeadRetention: how long dead and left members stay listed (and
	// dead ones are gossiped to and retried by the rejoin loop). Also
	// memberlist's GossipToTheDeadTime.
	DeadRetention time.Duration
	// TCPTimeout bounds dialing and each stream exchange (push/pull, TCP
	// probes). Close may wait this long for a dial in progress.
	TCPTimeout time.Duration
	// RejoinInterval is the period of the rejoin loop: it joins dead
	// members and remembered seeds that are not alive members, which
	// heals partitions memberlist alone would not.
	RejoinInterval time.Duration
}

// LANTuning is the default: memberlist's LAN profile (failure detected in
// about 5-6 s in small clusters, up to ~25 s when unconfirmed), with a
// shorter TCP timeout and a rejoin loop.
func LANTuning() Tuning {
	return Tuning{
		ProbeInterval:           time.Second,
		ProbeTimeout:            500 * time.Millisecond,
		GossipInterval:          200 * time.Millisecond,
		PushPullInterval:        30 * time.Second,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 6,
		DeadNodeReclaimTime:     10 * time.Second,
		DeadRetention:           30 * time.Second,
		TCPTimeout:              5 * time.Second,
		RejoinInterval:          5 * time.Second,
	}
}

// FastTuning is for tests and small local clusters: a failure is detected
// in about 1-3 s, a healed partition rejoins within about a second.
func FastTuning() Tuning {
	return Tuning{
		ProbeInterval:           250 * time.Millisecond,
		ProbeTimeout:            150 * time.Millisecond,
		GossipInterval:          50 * time.Millisecond,
		PushPullInterval:        2 * time.Second,
		SuspicionMult:           3,
		SuspicionMaxTimeoutMult: 3,
		DeadNodeReclaimTime:     time.Second,
		DeadRetention:           30 * time.Second,
		TCPTimeout:              time.Second,
		RejoinInterval:          time.Second,
	}
}

// withDefaults fills zero fields from LANTuning and checks the result.
func (t Tuning) withDefaults() (Tuning, error) {
	d := LANTuning()
	fillD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fillD(&t.ProbeInterval, d.ProbeInterval)
	fillD(&t.ProbeTimeout, d.ProbeTimeout)
	fillD(&t.GossipInterval, d.GossipInterval)
	fillD(&t.PushPullInterval, d.PushPullInterval)
	fillD(&t.DeadNodeReclaimTime, d.DeadNodeReclaimTime)
	fillD(&t.DeadRetention, d.DeadRetention)
	fillD(&t.TCPTimeout, d.TCPTimeout)
	fillD(&t.RejoinInterval, d.RejoinInterval)
	if t.SuspicionMult == 0 {
		t.SuspicionMult = d.SuspicionMult
	}
	if t.SuspicionMaxTimeoutMult == 0 {
		t.SuspicionMaxTimeoutMult = d.SuspicionMaxTimeoutMult
	}
	switch {
	case t.ProbeInterval < 0 || t.ProbeTimeout < 0 || t.GossipInterval < 0 || t.PushPullInterval < 0 ||
		t.DeadNodeReclaimTime < 0 || t.DeadRetention < 0 || t.TCPTimeout < 0 || t.RejoinInterval < 0:
		return Tuning{}, errors.New("gossip: Tuning: negative duration")
	case t.SuspicionMult < 1 || t.SuspicionMaxTimeoutMult < 1:
		return Tuning{}, errors.New("gossip: Tuning: SuspicionMult and SuspicionMaxTimeoutMult must be >= 1")
	case t.ProbeTimeout > t.ProbeInterval:
		return Tuning{}, fmt.Errorf("gossip: Tuning: ProbeTimeout %v exceeds ProbeInterval %v", t.ProbeTimeout, t.ProbeInterval)
	}
	return t, nil
}

// apply copies the timings into a memberlist configuration.
func (t Tuning) apply(c *memberlist.Config) {
	c.ProbeInterval = t.ProbeInterval
	c.ProbeTimeout = t.ProbeTimeout
	c.GossipInterval = t.GossipInterval
	c.PushPullInterval = t.PushPullInterval
	c.SuspicionMult = t.SuspicionMult
	c.SuspicionMaxTimeoutMult = t.SuspicionMaxTimeoutMult
	c.DeadNodeReclaimTime = t.DeadNodeReclaimTime
	c.GossipToTheDeadTime = t.DeadRetention
	c.TCPTimeout = t.TCPTimeout
}

// maxSuspicion is an upper bound of memberlist's suspicion timer for a
// cluster of n members: past it, a member still suspect in our table but
// not dead in memberlist has been refuted.
func (t Tuning) maxSuspicion(n int) time.Duration {
	scale := 1
	for m := n; m >= 10; m /= 10 {
		scale++ // ceil-ish of log10, an over-estimate is fine
	}
	return time.Duration(t.SuspicionMaxTimeoutMult*t.SuspicionMult*scale) * t.ProbeInterval
}
