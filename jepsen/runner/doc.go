// Package runner runs one Jepsen-style test: it starts the cluster under
// test (jepsen/cluster), runs a workload's clients concurrently while the
// nemesis injects faults, heals, performs the final reads, records the
// history, checks it and writes the results folder (history.jsonl,
// results.json, summary.txt, timeline.html, latency.png, throughput.png,
// and the checker's own artefacts).
package runner
