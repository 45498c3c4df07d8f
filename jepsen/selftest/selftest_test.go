package selftest

import (
	"sort"
	"testing"

	"github.com/troika-db/troika/jepsen/nemesis"
	"github.com/troika-db/troika/jepsen/workload"
	"github.com/troika-db/troika/node/config"
)

// Every planted bug the server offers has a self-test case, every case
// names a real bug, workload and nemeses, stays within the budget
// (≤ 20 runs), and the unmodified server has its case.
func TestCasesCoverEveryPlantedBug(t *testing.T) {
	var cased []string
	unmodified := false
	for _, c := range Cases {
		if c.Bug == "" {
			unmodified = true
		} else {
			cased = append(cased, c.Bug)
		}
		if _, err := workload.New(c.Workload, workload.Options{}); err != nil {
			t.Errorf("case %q: %v", c.Bug, err)
		}
		for _, n := range c.Nemeses {
			if _, err := nemesis.Parse(n); err != nil {
				t.Errorf("case %q: %v", c.Bug, err)
			}
		}
		if c.Runs < 1 || c.Runs > 20 {
			t.Errorf("case %q: budget %d runs, want 1..20", c.Bug, c.Runs)
		}
	}
	if !unmodified {
		t.Error("no case for the unmodified server")
	}
	bugs := config.BugNames()
	sort.Strings(bugs)
	sort.Strings(cased)
	if len(bugs) != len(cased) {
		t.Fatalf("server bugs %v, self-test cases %v", bugs, cased)
	}
	for i := range bugs {
		if bugs[i] != cased[i] {
			t.Fatalf("server bugs %v, self-test cases %v", bugs, cased)
		}
	}
}
