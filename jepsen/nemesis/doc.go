// Package nemesis injects faults into a cluster under test on a schedule
// drawn from the test's seed: partitions (random halves, a group leader
// isolated, a majorities ring, raft-only and gossip-only cuts), kill -9
// (one node, a majority, all), SIGSTOP pauses, membership changes (a node
// added then removed), leadership transfers (CLUSTER FAILOVER) and clock
// offsets (an injected clock: the servers' debug-clock-offset-ms).
//
// One fault is active at a time: a quiet period, a fault, its repair.
// Every start and stop is recorded in the history as a nemesis event
// (history.NemesisProcess), so checkers' reports and the plots can be read
// against the faults.
package nemesis
