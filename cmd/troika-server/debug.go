package main

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/troika-db/troika/node"
	"github.com/troika-db/troika/node/config"
)

// bugsOf maps debug-bugs names (validated by node/config) to the node's
// planted-bug switches.
func bugsOf(names []string) (node.Bugs, error) {
	var b node.Bugs
	for _, name := range names {
		switch name {
		case config.BugFollowerReads:
			b.FollowerReads = true
		case config.BugUnverifiedLeaderReads:
			b.UnverifiedLeaderReads = true
		case config.BugSkipFsync:
			b.SkipFsync = true
		case config.BugApplyTimeTTL:
			b.ApplyTimeTTL = true
		case config.BugRetryProposals:
			b.RetryProposals = true
		default:
			return node.Bugs{}, fmt.Errorf("debug-bugs: no such bug %q", name)
		}
	}
	return b, nil
}

// dataClock is the node's data clock: the wall clock shifted by
// debug-clock-offset-ms (changeable at runtime). It stamps TTL deadlines
// and decides expiry, and TIME reports it; raft's timers never use it.
type dataClock struct{ offsetMs atomic.Int64 }

func (c *dataClock) set(d time.Duration) { c.offsetMs.Store(d.Milliseconds()) }

func (c *dataClock) now() time.Time {
	return time.Now().Add(time.Duration(c.offsetMs.Load()) * time.Millisecond)
}

// warnUnsafe logs, loudly, what test-only switches are on.
func warnUnsafe(logger *slog.Logger, v config.Values) {
	if !v.DebugUnsafe {
		return
	}
	logger.Warn("*** DEBUG-UNSAFE IS ON: test-only switches that break consistency are allowed on this node. NEVER USE IN PRODUCTION. ***",
		"debug_bugs", v.DebugBugs, "debug_clock_offset_ms", v.DebugClockOffset.Milliseconds())
}
