package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/troika-db/troika/jepsen/client"
)

// respTimeout bounds one request when the context has no earlier deadline.
const respTimeout = 5 * time.Second

// respError is an error reply (-ERR ...) from the server.
type respError string

func (e respError) Error() string { return string(e) }

// respCommand dials addr, sends one command and closes the connection. The
// reply is a string (simple or bulk), an int64, nil (null bulk or array),
// a []any (array; error elements as respError), or, for an error reply, a
// respError error.
func respCommand(ctx context.Context, addr string, args ...string) (any, error) {
	timeout := respTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	c, err := client.Dial(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Interrupt)
	defer stop()
	rep, err := c.Do(timeout, args...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", args[0], ctx.Err())
		}
		return nil, fmt.Errorf("%s: %w", args[0], err)
	}
	if rep.IsErr() {
		return nil, respError(rep.Str)
	}
	return value(rep), nil
}

// value converts a reply to the plain Go values respCommand returns.
func value(r client.Reply) any {
	switch r.Kind {
	case '-':
		return respError(r.Str)
	case ':':
		return r.Int
	case '*':
		if r.Nil {
			return nil
		}
		out := make([]any, len(r.Array))
		for i, e := range r.Array {
			out[i] = value(e)
		}
		return out
	}
	if r.Nil {
		return nil
	}
	return r.Str
}

// respString runs one command whose reply is a string.
func respString(ctx context.Context, addr string, args ...string) (string, error) {
	v, err := respCommand(ctx, addr, args...)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s %s: unexpected reply %v", addr, strings.Join(args, " "), v)
	}
	return s, nil
}

// infoField returns field's value in an INFO-style "k:v\r\n" text.
func infoField(text, field string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), field+":"); ok {
			return v
		}
	}
	return ""
}

// clusterNodeLine is one line of CLUSTER NODES.
type clusterNodeLine struct {
	ID    string
	Addr  string // ip:port (the @cport suffix removed)
	Flags []string
}

// parseClusterNodes parses a CLUSTER NODES text.
func parseClusterNodes(text string) []clusterNodeLine {
	var out []clusterNodeLine
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		out = append(out, clusterNodeLine{ID: f[0], Addr: addr, Flags: strings.Split(f[2], ",")})
	}
	return out
}

// failing reports whether the line's flags mark the node as failing
// (fail? or fail).
func (l clusterNodeLine) failing() bool {
	for _, f := range l.Flags {
		if f == "fail" || f == "fail?" {
			return true
		}
	}
	return false
}
