// Package checker checks the histories (jepsen/history) of the simple
// single-object workloads of the chaos harness: a grow-only set
// (CheckSet), a counter (CheckCounter), a bank of accounts whose total is
// conserved (CheckBank) and keys written with a time to live (CheckTTL).
//
// Every checker takes the history's events in history order (invocations
// and completions; nemesis events, Process == history.NemesisProcess, are
// skipped) and returns a Result: Valid, example anomalies (at most
// MaxExamples per type, each naming the history indexes of the operations
// involved and explaining itself in one line), and Stats, which count the
// operations by outcome and every anomaly found, reported or not.
//
// "Before" and "after" are history order: an operation A precedes B when
// A's completion comes before B's invocation in the history. Completions
// are interpreted as Jepsen does:
//   - ok: the operation took effect once, between its invocation and its
//     completion, with the recorded result;
//   - fail: it certainly did not take effect;
//   - info, or no completion at all: its outcome is unknown. It may have
//     taken effect at any time after its invocation, even after the
//     history ends, or never. Info is never treated as fail.
//
// Values may be Go values (int64, int, []int64, map[string]int64, ...)
// when the history was built in memory, or JSON-decoded values (float64,
// []any, map[string]any) when it was read back with history.Read: both are
// accepted (integers must be integral and fit in an int64; JSON keeps
// integers exact up to 2^53).
//
// The value formats per workload (history.Op.F, Key, Value):
//
//	set:     "add"      Value: element (int)
//	         "read"     ok completion Value: elements ([]int; nil = empty)
//	counter: "add"      Value: delta (int, normally positive)
//	         "read"     ok completion Value: the counter (int; nil = 0)
//	bank:    "transfer" Value: {"from": acct, "to": acct, "amount": n} (not checked)
//	         "read"     ok completion Value: account -> balance (map; missing = 0)
//	ttl:     "write"    Key, Value: v (int), written with SET key v EX <long>
//	         "read"     Key, ok completion Value: [v, deadline ms] or nil (absent)
//
// An operation with any other F is an error, as is a malformed history
// (see history.Pairs) or a value of the wrong shape.
package checker
