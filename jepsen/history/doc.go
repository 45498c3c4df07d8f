// Package history is the operation history of a Jepsen-style test: every
// client operation is recorded when it is invoked and when it completes
// (ok, fail, or info when the outcome is unknown), with times, the process
// that ran it and its value. Checkers (porcupine for registers, the
// list-append checker for transactions) read it; the harness writes it as
// JSON lines (history.jsonl in a run's results folder).
package history
