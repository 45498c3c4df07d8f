package config

import (
	"fmt"
	"strings"
)

// Planted bugs (debug-bugs). They exist only so that troika-jepsen can
// prove it detects real consistency bugs; each breaks a guarantee on
// purpose. Where each one lives is described in node/DESIGN.md.
const (
	// BugFollowerReads: a replica that is not the leader answers reads from
	// its local state at once (no MOVED, no read index).
	BugFollowerReads = "follower-reads"
	// BugUnverifiedLeaderReads: a node that believes it leads answers reads
	// from its local state without confirming leadership or waiting for
	// its term's barrier.
	BugUnverifiedLeaderReads = "unverified-leader-reads"
	// BugSkipFsync: data groups' log appends are acknowledged while held
	// only in memory and written to the file every 2 s (a skipped fsync
	// followed by a power loss).
	BugSkipFsync = "skip-fsync"
	// BugApplyTimeTTL: relative expiries are resolved by each replica's
	// own clock at apply time instead of by the leader before proposing.
	BugApplyTimeTTL = "apply-time-ttl"
	// BugRetryProposals: a proposal not applied within 5 ms (or failed) is
	// proposed once more, without deduplication.
	BugRetryProposals = "retry-proposals"
)

// BugNames returns every planted bug's name, in documentation order.
func BugNames() []string {
	return []string{BugFollowerReads, BugUnverifiedLeaderReads, BugSkipFsync, BugApplyTimeTTL, BugRetryProposals}
}

// maxClockOffsetMs bounds debug-clock-offset-ms: one day either way.
const maxClockOffsetMs = 24 * 60 * 60 * 1000

// unsafeDirectives are refused with a value other than their default
// unless debug-unsafe is yes (at startup and by CONFIG SET).
var unsafeDirectives = []string{"debug-bugs", "debug-clock-offset-ms"}

// unsafeRefusal returns the error for setting directive name to value
// (canonical) while debug-unsafe is off, or nil.
func unsafeRefusal(name, value string, unsafe bool) error {
	if unsafe {
		return nil
	}
	for _, u := range unsafeDirectives {
		if u == name && value != byName[name].Default {
			return fmt.Errorf("%s requires --debug-unsafe yes", name)
		}
	}
	return nil
}

// bugsKind is a comma-separated list of planted bug names; the canonical
// value is the names in lower case, without blanks or duplicates, joined
// with commas ("" = none).
func bugsKind() kind {
	return kind{typ: "list of bug names", set: single(func(v string) (string, error) {
		names, err := splitBugs(v)
		if err != nil {
			return "", err
		}
		return strings.Join(names, ","), nil
	})}
}

func splitBugs(v string) ([]string, error) {
	valid := BugNames()
	var out []string
	for _, part := range strings.Split(v, ",") {
		name := asciiToLower(strings.TrimSpace(part))
		if name == "" {
			continue
		}
		known := false
		for _, b := range valid {
			if b == name {
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("unknown bug '%s'; valid bugs: %s", name, strings.Join(valid, ", "))
		}
		dup := false
		for _, o := range out {
			if o == name {
				dup = true
			}
		}
		if !dup {
			out = append(out, name)
		}
	}
	return out, nil
}

// clockOffsetKind is debug-clock-offset-ms: milliseconds, may be negative.
func clockOffsetKind() kind {
	return intKind(-maxClockOffsetMs, maxClockOffsetMs)
}

// checkUnsafe refuses unsafe directives set without debug-unsafe yes.
func (c *Config) checkUnsafe() error {
	on := c.vals["debug-unsafe"] == "yes"
	for _, name := range unsafeDirectives {
		if err := unsafeRefusal(name, c.vals[name], on); err != nil {
			return &Error{Directive: name, Msg: err.Error()}
		}
	}
	return nil
}
