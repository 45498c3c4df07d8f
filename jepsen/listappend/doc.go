// Package listappend checks list-append transaction histories for
// isolation anomalies, in the manner of Elle (Kingsbury & Alvaro,
// "Elle: Inferring Isolation Anomalies from Experimental Observations",
// VLDB 2020) and Adya's generalized isolation definitions.
//
// The workload: transactions (history.Op with F "txn") of micro-ops that
// append a unique element to a key's list or read a key's whole list.
// Because every element is unique per key and lists only grow, a read
// reveals the order of every append before it; the longest read of a key
// is therefore its version order, and every other read must be a prefix
// of it.
//
// Check infers from the history:
//
//   - per-read anomalies: internal (a txn not seeing its own appends),
//     duplicate-elements, incompatible-order, garbage-read (an element
//     nobody appended), G1a (an element of a failed txn), G1b (another
//     txn's intermediate state), dirty-update, and lost-append (an
//     acknowledged append that must be visible but no read contains);
//   - a dependency graph over ok txns (and info txns whose appends were
//     read) with ww, wr and rw edges from the version orders, plus
//     real-time edges for strict serializability; its cycles are
//     classified as G0, G1c, G-single or G2, with a "-realtime" suffix
//     when the cycle needs a real-time edge.
//
// Result.Valid is false iff anything was found; each anomaly names the
// history indexes of the txns involved and explains itself. DESIGN.md
// explains the inference rules, what is and is not detected, and the
// cost (near-linear in the history for valid histories).
package listappend
