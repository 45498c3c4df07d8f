package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NumSlots is the number of Redis Cluster hash slots.
const NumSlots = 16384

// Outcome classifies how an operation ended, in Jepsen's terms.
type Outcome int

const (
	// OK: the command ran and its reply is known.
	OK Outcome = iota
	// Fail: the command certainly did not take effect.
	Fail
	// Info: the outcome is unknown (timeout, connection lost, a server
	// that says the outcome is unknown): it may have taken effect, now or
	// later.
	Info
)

func (o Outcome) String() string {
	switch o {
	case Fail:
		return "fail"
	case Info:
		return "info"
	}
	return "ok"
}

// ErrorOutcome classifies an error returned by Router.Exec or
// Conn.Pipeline: certainly not run (Fail) only when nothing was sent.
func ErrorOutcome(err error) Outcome {
	if errors.Is(err, ErrNotSent) {
		return Fail
	}
	return Info
}

// ReplyOutcome classifies an error reply. Redis answers errors before
// running a command, so an error is a failure, except Troika's TIMEOUT
// (the write was proposed and its outcome is unknown).
func ReplyOutcome(r Reply) Outcome {
	if !r.IsErr() {
		return OK
	}
	if r.ErrPrefix() == "TIMEOUT" {
		return Info
	}
	return Fail
}

// Options configure a Router.
type Options struct {
	// Timeout bounds each request (dial, write and reply).
	Timeout time.Duration
	// RandomFirst is the probability that a request goes first to a
	// random known node instead of the slot's owner (the way Jepsen binds
	// clients to nodes): the node must redirect it with MOVED, or serve it
	// when it may. 0 routes by the slot map only.
	RandomFirst float64
	// Rand drives RandomFirst and the order in which nodes are asked for
	// the slot map (required).
	Rand *rand.Rand
}

// Router sends commands to the node serving a slot, following MOVED. It is
// not safe for concurrent use: every worker has its own.
type Router struct {
	seeds []string
	opt   Options
	slots [NumSlots]string
	known []string
	conns map[string]*Conn
	stale bool
	last  string
	// suspect holds nodes that failed a request recently, until when:
	// RandomFirst and Refresh avoid them, so that one paused node does not
	// absorb every worker (the slot map still routes to it while it owns
	// the slot).
	suspect map[string]time.Time
}

// NewRouter returns a router that learns the slot map from seeds.
func NewRouter(seeds []string, opt Options) *Router {
	if opt.Timeout <= 0 {
		opt.Timeout = 3 * time.Second
	}
	return &Router{seeds: seeds, opt: opt, conns: map[string]*Conn{}, stale: true, known: append([]string(nil), seeds...),
		suspect: map[string]time.Time{}}
}

// Close closes every connection.
func (r *Router) Close() {
	for a, c := range r.conns {
		c.Close()
		delete(r.conns, a)
	}
}

func (r *Router) conn(ctx context.Context, addr string) (*Conn, error) {
	if c, ok := r.conns[addr]; ok && !c.Dead() {
		return c, nil
	}
	c, err := Dial(ctx, addr, r.opt.Timeout)
	if err != nil {
		return nil, err
	}
	r.conns[addr] = c
	return c, nil
}

// Refresh reloads the slot map with CLUSTER SLOTS from the first node
// that answers, trying the known nodes in random order.
func (r *Router) Refresh(ctx context.Context) error {
	order := r.opt.Rand.Perm(len(r.known))
	// Nodes that failed recently are asked last.
	sort.SliceStable(order, func(a, b int) bool { return !r.isSuspect(r.known[order[a]]) && r.isSuspect(r.known[order[b]]) })
	var errs []error
	for _, i := range order {
		addr := r.known[i]
		c, err := r.conn(ctx, addr)
		if err != nil {
			r.markSuspect(addr)
			errs = append(errs, err)
			continue
		}
		rep, err := c.Do(r.opt.Timeout, "CLUSTER", "SLOTS")
		if err != nil {
			r.markSuspect(addr)
			errs = append(errs, err)
			continue
		}
		if err := r.load(rep); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		r.stale = false
		return nil
	}
	return fmt.Errorf("cluster slots: no node answered: %w", errors.Join(errs...))
}

func (r *Router) load(rep Reply) error {
	if rep.Kind != '*' || len(rep.Array) == 0 {
		return fmt.Errorf("CLUSTER SLOTS answered %s", rep)
	}
	var slots [NumSlots]string
	seen := map[string]bool{}
	for _, rng := range rep.Array {
		if len(rng.Array) < 3 || len(rng.Array[2].Array) < 2 {
			return fmt.Errorf("CLUSTER SLOTS: bad range %s", rng)
		}
		lo, hi := rng.Array[0].Int, rng.Array[1].Int
		m := rng.Array[2].Array
		addr := net.JoinHostPort(m[0].Str, strconv.FormatInt(m[1].Int, 10))
		if lo < 0 || hi >= NumSlots || lo > hi {
			return fmt.Errorf("CLUSTER SLOTS: bad range %d-%d", lo, hi)
		}
		for s := lo; s <= hi; s++ {
			slots[s] = addr
		}
		seen[addr] = true
		for _, rep := range rng.Array[3:] {
			if len(rep.Array) >= 2 {
				seen[net.JoinHostPort(rep.Array[0].Str, strconv.FormatInt(rep.Array[1].Int, 10))] = true
			}
		}
	}
	r.slots = slots
	for a := range seen {
		r.learn(a)
	}
	return nil
}

func (r *Router) learn(addr string) {
	for _, k := range r.known {
		if k == addr {
			return
		}
	}
	r.known = append(r.known, addr)
}

// Exec runs cmds as one pipeline (one command, or MULTI ... EXEC) on the
// node serving slot and returns their replies. It follows up to five
// redirections when the replies prove that nothing ran: a MOVED reply to a
// single command or to EXEC, or an EXECABORT caused by MOVED. An error
// means an I/O failure (see ErrorOutcome); error replies are returned as
// replies (see ReplyOutcome).
func (r *Router) Exec(ctx context.Context, slot int, cmds [][]string) ([]Reply, error) {
	if r.stale {
		if err := r.Refresh(ctx); err != nil && r.slots[slot] == "" {
			return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
		}
	}
	addr := r.slots[slot]
	if r.opt.RandomFirst > 0 && r.opt.Rand.Float64() < r.opt.RandomFirst {
		if a := r.known[r.opt.Rand.Intn(len(r.known))]; !r.isSuspect(a) {
			addr = a
		}
	}
	if addr == "" {
		r.stale = true
		return nil, fmt.Errorf("slot %d has no node: %w", slot, ErrNotSent)
	}
	asking := false
	for hop := 0; ; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
		}
		c, err := r.conn(ctx, addr)
		if err != nil {
			r.stale = true
			r.markSuspect(addr)
			return nil, err
		}
		send := cmds
		if asking {
			send = append([][]string{{"ASKING"}}, cmds...)
		}
		reps, err := c.Pipeline(send, r.opt.Timeout)
		if err != nil {
			r.stale = true
			r.markSuspect(addr)
			return nil, err
		}
		if asking {
			reps = reps[1:]
		}
		to, ask := redirect(reps)
		r.last = addr
		if to == "" || hop >= 5 {
			return reps, nil
		}
		if ask && len(cmds) > 1 {
			return reps, nil // ASK inside MULTI: EXECABORT, a failure
		}
		r.learn(to)
		if !ask {
			r.slots[slot] = to
			r.stale = true // the map moved: reload it before the next request
		}
		addr, asking = to, ask
	}
}

// redirect returns the target of a MOVED or ASK that proves cmds did not
// run: the reply of a lone command, or of EXEC when the block was aborted
// or redirected as a whole.
func redirect(reps []Reply) (addr string, ask bool) {
	last := reps[len(reps)-1]
	if len(reps) > 1 && last.IsErr() && last.ErrPrefix() == "EXECABORT" {
		for _, r := range reps {
			if p := r.ErrPrefix(); p == "MOVED" || p == "ASK" {
				last = r
				break
			}
		}
	}
	p := last.ErrPrefix()
	if p != "MOVED" && p != "ASK" {
		return "", false
	}
	f := strings.Fields(last.Str)
	if len(f) != 3 {
		return "", false
	}
	return f[2], p == "ASK"
}

// suspectFor is how long a node that failed a request is avoided.
const suspectFor = 5 * time.Second

func (r *Router) markSuspect(addr string) { r.suspect[addr] = time.Now().Add(suspectFor) }

func (r *Router) isSuspect(addr string) bool {
	until, ok := r.suspect[addr]
	if ok && time.Now().After(until) {
		delete(r.suspect, addr)
		return false
	}
	return ok
}

// LastAddr is the node that answered the last Exec.
func (r *Router) LastAddr() string { return r.last }

// ExecSame runs cmds on the live connection to addr that an earlier Exec
// used, without following redirections: WATCH state lives on that
// connection, so a new connection must never be substituted (that would
// run MULTI/EXEC unguarded). When that connection is gone, nothing is sent.
func (r *Router) ExecSame(addr string, cmds [][]string) ([]Reply, error) {
	c, ok := r.conns[addr]
	if !ok || c.Dead() {
		return nil, fmt.Errorf("%s: connection lost since WATCH: %w", addr, ErrNotSent)
	}
	reps, err := c.Pipeline(cmds, r.opt.Timeout)
	if err != nil {
		r.stale = true
	}
	return reps, err
}
