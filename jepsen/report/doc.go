// Package report renders a Jepsen-style test history (package history)
// for people to look at, using only the standard library:
//
//   - LatencyPNG: a scatter plot of operation latency (log scale) against
//     invocation time, coloured by outcome (ok green, fail red, info
//     orange), with one marker shape per operation function;
//   - ThroughputPNG: completed operations per second over time, one line
//     per outcome;
//   - TimelineHTML: a self-contained HTML page like Jepsen's
//     timeline.html, one column per process, each operation a box from
//     invocation to completion with its details in a hover title.
//
// All three shade the nemesis's fault windows (history.Windows), one
// colour per fault kind, and name them in a legend. Operations that never
// completed count as info, lasting to the end of the history. Empty
// histories and histories without faults give valid, mostly empty,
// output. The plots draw their text with a small built-in 5x7 bitmap font
// (font.go), so no font files are needed.
package report
