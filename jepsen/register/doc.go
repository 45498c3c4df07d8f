// Package register checks a register workload's history for
// linearizability with porcupine (github.com/anishathalye/porcupine).
//
// Each key is an integer register (nil until written) with three
// operations: read, write and compare-and-set (cas: [expected, new]). The
// history (jepsen/history) records every operation's invoke and completion.
// Completions are interpreted as Jepsen does:
//   - ok: the operation took effect once, between its invoke and its
//     completion, with the recorded result;
//   - fail: it certainly did not take effect: it is left out;
//   - info (or no completion): its outcome is unknown. It may have taken
//     effect at any time after its invoke, even after the history ends, or
//     never: its completion time is taken as the end of time, a read of
//     unknown result constrains nothing (left out), and a write or cas may
//     either apply or not (a nondeterministic step).
//
// Keys are independent registers, so the history is partitioned by key and
// each key is checked on its own.
package register
