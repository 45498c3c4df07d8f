package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// partChain is the iptables chain, in every node's network namespace, that
// INPUT jumps to and that holds the current partition's DROP rules.
const partChain = "TJ-PART"

// partition is the current partition (nil when healed): either components
// or, when grudge is set, a per-node drop list.
type partition struct {
	comps  [][]int
	grudge map[int][]int
	cut    Cut
}

func (c *cluster) currentPartition() *partition {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.part
}

func (c *cluster) Partition(ctx context.Context, components [][]int, cut Cut) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	c.mu.Lock()
	nn := len(c.nodes)
	c.mu.Unlock()
	if _, err := componentOf(components, nn); err != nil {
		return err
	}
	comps := make([][]int, len(components))
	for k, comp := range components {
		comps[k] = slices.Clone(comp)
	}
	c.mu.Lock()
	c.part = &partition{comps: comps, cut: cut}
	c.mu.Unlock()
	c.log.Info("partition", "components", components, "cut", cut.String())
	return c.applyPartition(ctx)
}

// Grudge replaces any current partition with a one-directional one: node
// i drops the traffic cut selects that it receives from every node in
// grudge[i] (a symmetric cut lists both directions). It expresses
// partitions components cannot, such as a majorities ring. Nodes absent
// from the map drop nothing.
func (c *cluster) Grudge(ctx context.Context, grudge map[int][]int, cut Cut) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	c.mu.Lock()
	nn := len(c.nodes)
	c.mu.Unlock()
	g := make(map[int][]int, len(grudge))
	for i, from := range grudge {
		for _, j := range append([]int{i}, from...) {
			if j < 0 || j >= nn {
				return fmt.Errorf("grudge: no node %d (have %d)", j, nn)
			}
		}
		if slices.Contains(from, i) {
			return fmt.Errorf("grudge: node %d cannot drop its own traffic", i)
		}
		g[i] = slices.Clone(from)
	}
	c.mu.Lock()
	c.part = &partition{grudge: g, cut: cut}
	c.mu.Unlock()
	c.log.Info("grudge", "drops", grudge, "cut", cut.String())
	return c.applyPartition(ctx)
}

func (c *cluster) Heal(ctx context.Context) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	c.mu.Lock()
	c.part = nil
	c.mu.Unlock()
	c.log.Info("heal")
	return c.applyPartition(ctx)
}

// applyPartition installs the current partition's rules on every node.
func (c *cluster) applyPartition(ctx context.Context) error {
	var errs []error
	for _, n := range c.snapshot() {
		if err := c.drv.setRules(ctx, n, c.rulesFor(n.Index)); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("apply partition: %w", err)
	}
	return nil
}

// componentOf maps each of n nodes to its component index; nodes listed in
// no component share the implicit component -1. It rejects unknown or
// repeated indexes.
func componentOf(components [][]int, n int) ([]int, error) {
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	for k, c := range components {
		for _, i := range c {
			if i < 0 || i >= n {
				return nil, fmt.Errorf("partition: no node %d (have %d)", i, n)
			}
			if comp[i] != -1 {
				return nil, fmt.Errorf("partition: node %d listed twice", i)
			}
			comp[i] = k
		}
	}
	return comp, nil
}

// rulesFor returns node i's DROP rules under the current partition.
func (c *cluster) rulesFor(i int) []string {
	c.mu.Lock()
	part := c.part
	ips := make([]string, len(c.nodes))
	for k, n := range c.nodes {
		ips[k] = n.IP
	}
	c.mu.Unlock()
	if part == nil || i >= len(ips) {
		return nil
	}
	var peers []string
	if part.grudge != nil {
		for _, j := range part.grudge[i] {
			peers = append(peers, ips[j])
		}
		return dropRules(peers, part.cut, c.clusterPort)
	}
	comp, err := componentOf(part.comps, len(ips))
	if err != nil {
		return nil // validated when set; a node added since is in -1
	}
	for j, ip := range ips {
		if comp[j] != comp[i] {
			peers = append(peers, ip)
		}
	}
	return dropRules(peers, part.cut, c.clusterPort)
}

// dropRules returns the iptables rule specs (for the INPUT path) that drop
// the traffic cut selects arriving from peers. Dropping on input only, at
// every receiver, is what a real partition does: packets leave and vanish.
// An OUTPUT DROP would instead fail the sender's sendto/connect at once
// with EPERM, which memberlist takes for a local error and does not count
// against the peer (it never suspects it). The rules name peer addresses
// only, so the harness (on another address) is never cut off.
func dropRules(peers []string, cut Cut, clusterPort int) []string {
	var out []string
	cp := strconv.Itoa(clusterPort)
	for _, p := range peers {
		switch cut {
		case CutRaft, CutGossip:
			proto := "tcp"
			if cut == CutGossip {
				proto = "udp"
			}
			// Either end of the flow may be the peer's cluster port.
			for _, port := range []string{"--dport", "--sport"} {
				out = append(out, fmt.Sprintf("-s %s -p %s -m %s %s %s -j DROP", p, proto, proto, port, cp))
			}
		default:
			out = append(out, "-s "+p+" -j DROP")
		}
	}
	return out
}

// restoreScript is the iptables-restore --noflush input that replaces the
// contents of partChain (declaring a chain flushes it) with rules.
func restoreScript(rules []string) string {
	var b strings.Builder
	b.WriteString("*filter\n:" + partChain + " - [0:0]\n")
	for _, r := range rules {
		b.WriteString("-A " + partChain + " " + r + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// chainSetupScript creates partChain and jumps to it first thing from
// INPUT (in a fresh network namespace); see dropRules for why not OUTPUT.
const chainSetupScript = "*filter\n:" + partChain + " - [0:0]\n" +
	"-I INPUT 1 -j " + partChain + "\nCOMMIT\n"
