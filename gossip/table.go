package gossip

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// table is this node's view of the members and the queue of events not yet
// delivered. memberlist's public API lists only alive-or-suspect members
// and never says which of the two (Node.State is not maintained in v0.6.0)
// nor whether a member died or left, so the table is built from:
//
//   - memberlist's EventDelegate (authoritative for join, metadata update
//     and leave), called with memberlist's node lock held;
//   - the alive/suspect/dead broadcasts this node sends: memberlist
//     re-broadcasts exactly the state changes it applies, so the outgoing
//     stream mirrors its internal state machine (observeSent);
//   - received leave announcements (dead messages a node sends about
//     itself), seen before memberlist processes them (observeReceived).
//
// Lock order: memberlist's locks, then t.mu. Nothing that holds t.mu calls
// into memberlist, so t.mu is a leaf lock.
type table struct {
	self       string
	wantEvents bool
	signal     chan struct{} // capacity 1: events are queued

	mu       sync.Mutex
	entries  map[string]*entry
	selfLeft bool
	queue    []Event
}

type entry struct {
	m Member
	// inc is the incarnation of the latest alive/suspect message this node
	// broadcast about the member; incKnown is false until one is seen and
	// after a join (a member that rejoins from a new address may restart
	// its incarnation numbers).
	inc      uint32
	incKnown bool
	// leaving: a leave announcement for incarnation leaveInc was received
	// and memberlist has not processed it yet.
	leaving  bool
	leaveInc uint32
}

func newTable(self string, wantEvents bool) *table {
	return &table{
		self:       self,
		wantEvents: wantEvents,
		signal:     make(chan struct{}, 1),
		entries:    make(map[string]*entry),
	}
}

// emit queues an event for e's current member. Caller holds t.mu.
func (t *table) emit(kind EventKind, e *entry) {
	if !t.wantEvents {
		return
	}
	t.queue = append(t.queue, Event{Kind: kind, Member: e.m.clone()})
	select {
	case t.signal <- struct{}{}:
	default:
	}
}

// takeEvents returns and clears the queued events.
func (t *table) takeEvents() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queue
	t.queue = nil
	return q
}

func (m Member) clone() Member {
	m.Meta = slices.Clone(m.Meta)
	return m
}

func (t *table) members() []Member {
	t.mu.Lock()
	out := make([]Member, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e.m.clone())
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (t *table) member(name string) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[name]
	if !ok {
		return Member{}, false
	}
	return e.m.clone(), true
}

func (t *table) setSelfLeft() {
	t.mu.Lock()
	t.selfLeft = true
	t.mu.Unlock()
}

func (t *table) hasLeft() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.selfLeft
}

func nodeAddr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// eventDelegate receives memberlist's notifications. They are called with
// memberlist's node lock held: they only update the table and queue events.
type eventDelegate table

func (d *eventDelegate) NotifyJoin(n *memberlist.Node) {
	t := (*table)(d)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[n.Name]
	if e == nil {
		e = &entry{}
		t.entries[n.Name] = e
	}
	e.m = Member{Name: n.Name, Addr: nodeAddr(n), Meta: slices.Clone(n.Meta), State: StateAlive, Since: time.Now()}
	e.incKnown = false
	e.leaving = false
	t.emit(EventJoin, e)
}

func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) {
	t := (*table)(d)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[n.Name]
	if e == nil { // forgotten by our retention but still known to memberlist
		e = &entry{m: Member{Name: n.Name, State: StateDead}}
		t.entries[n.Name] = e
	}
	e.m.Addr = nodeAddr(n)
	e.m.Meta = slices.Clone(n.Meta)
	if e.m.State != StateAlive { // memberlist applies an update as alive
		e.m.State = StateAlive
		e.m.Since = time.Now()
	}
	t.emit(EventUpdate, e)
}

func (d *eventDelegate) NotifyLeave(n *memberlist.Node) {
	t := (*table)(d)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[n.Name]
	if e == nil {
		e = &entry{m: Member{Name: n.Name, Addr: nodeAddr(n), Meta: slices.Clone(n.Meta)}}
		t.entries[n.Name] = e
	}
	state := StateDead
	switch {
	case n.Name == t.self && t.selfLeft:
		state = StateLeft
	case e.leaving && (!e.incKnown || e.leaveInc >= e.inc):
		state = StateLeft
	}
	e.leaving = false
	e.m.State = state
	e.m.Since = time.Now()
	t.emit(EventLeave, e)
}

// observeSent is called with every state message this node sends.
func (t *table) observeSent(msg stateMsg) {
	if msg.Node == t.self {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[msg.Node]
	if e == nil {
		return // memberlist's NotifyJoin is on its way
	}
	switch msg.Kind {
	case msgAlive:
		// memberlist applies alive(inc) over suspect(inc') only if inc > inc'.
		if e.incKnown && msg.Incarnation <= e.inc {
			return
		}
		e.inc, e.incKnown = msg.Incarnation, true
		if e.m.State == StateSuspect {
			e.m.State = StateAlive
			e.m.Since = time.Now()
			t.emit(EventUpdate, e)
		}
	case msgSuspect:
		// ... and suspect(inc) over alive(inc') if inc >= inc'.
		if e.incKnown && msg.Incarnation < e.inc {
			return
		}
		e.inc, e.incKnown = msg.Incarnation, true
		if e.m.State == StateAlive {
			e.m.State = StateSuspect
			e.m.Since = time.Now()
			t.emit(EventUpdate, e)
		}
	case msgDead:
		// A leave that memberlist applied after declaring the member dead
		// through another path (push/pull): refine dead into left.
		if msg.From == msg.Node && e.m.State == StateDead && (!e.incKnown || msg.Incarnation >= e.inc) {
			e.m.State = StateLeft
			e.m.Since = time.Now()
			t.emit(EventUpdate, e)
		}
	}
}

// observeReceived is called with every state message received over UDP,
// before memberlist sees it: a member's announcement of its own departure
// lets the following NotifyLeave report it as left rather than dead.
func (t *table) observeReceived(msg stateMsg) {
	if msg.Kind != msgDead || msg.From != msg.Node || msg.Node == t.self {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.entries[msg.Node]; e != nil && (e.m.State == StateAlive || e.m.State == StateSuspect) {
		e.leaving, e.leaveInc = true, msg.Incarnation
	}
}

// refuted marks alive the members suspect for longer than maxSuspect that
// memberlist still lists (alive or suspect: not dead): memberlist's
// suspicion timer has expired, so they were refuted and the alive
// broadcast escaped observeSent. A safety net, rarely needed.
func (t *table) refuted(listed map[string]bool, maxSuspect time.Duration, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, e := range t.entries {
		if e.m.State == StateSuspect && listed[name] && now.Sub(e.m.Since) > maxSuspect {
			e.m.State = StateAlive
			e.m.Since = now
			e.incKnown = false
			t.emit(EventUpdate, e)
		}
	}
}

// suspects reports whether some member is suspect.
func (t *table) suspects() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.entries {
		if e.m.State == StateSuspect {
			return true
		}
	}
	return false
}

// reap forgets dead and left members older than retention, as memberlist
// does (GossipToTheDeadTime).
func (t *table) reap(retention time.Duration, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, e := range t.entries {
		if name != t.self && (e.m.State == StateDead || e.m.State == StateLeft) && now.Sub(e.m.Since) > retention {
			delete(t.entries, name)
		}
	}
}

// rejoinTargets returns the addresses of dead members and the set of
// addresses of alive or suspect members (self included).
func (t *table) rejoinTargets() (dead []string, live map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	live = make(map[string]bool)
	for name, e := range t.entries {
		switch {
		case name == t.self:
			live[e.m.Addr] = true
		case e.m.State == StateAlive || e.m.State == StateSuspect:
			live[e.m.Addr] = true
		case e.m.State == StateDead:
			dead = append(dead, e.m.Addr)
		}
	}
	slices.Sort(dead)
	return slices.Compact(dead), live
}
