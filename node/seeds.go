package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// resolveSeed turns a --cluster-join address into the cluster (bus)
// address to gossip with. The address may be a member's cluster port or
// its client port: a CLUSTER NODES request is sent; a client port answers
// it (the "myself" line gives the announced cluster port), a cluster port
// closes the connection at once on the unexpected bytes, and the address
// is then used as given.
func resolveSeed(addr string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n"); err != nil {
		return []string{addr}, nil
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		// Closed without a RESP answer: a cluster port.
		if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset") {
			return []string{addr}, nil
		}
		return nil, fmt.Errorf("seed %s: %w", addr, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return nil, fmt.Errorf("seed %s answered %q (give its cluster port instead)", addr, line)
	}
	if !strings.HasPrefix(line, "$") {
		return nil, fmt.Errorf("seed %s: unexpected reply %q", addr, line)
	}
	size, err := strconv.Atoi(line[1:])
	if err != nil || size < 0 || size > 1<<24 {
		return nil, fmt.Errorf("seed %s: bad reply length %q", addr, line)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("seed %s: %w", addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	return parseSeedNodes(string(body), host)
}

// parseSeedNodes extracts the bus addresses of every node listed in a
// CLUSTER NODES text (the "myself" line first). fallbackHost replaces an
// empty host.
func parseSeedNodes(text, fallbackHost string) ([]string, error) {
	var self, others []string
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		addr := f[1]
		at := strings.IndexByte(addr, '@')
		if at < 0 {
			continue
		}
		host, _, err := net.SplitHostPort(addr[:at])
		if err != nil {
			continue
		}
		bus := addr[at+1:]
		if i := strings.IndexByte(bus, ','); i >= 0 {
			bus = bus[:i]
		}
		if host == "" {
			host = fallbackHost
		}
		a := net.JoinHostPort(host, bus)
		if strings.Contains(f[2], "myself") {
			self = append(self, a)
		} else {
			others = append(others, a)
		}
	}
	out := append(self, others...)
	if len(out) == 0 {
		return nil, errors.New("CLUSTER NODES listed no node")
	}
	return out, nil
}
