// Package client is the harness's own Redis Cluster client: a minimal RESP2
// connection and a slot router that follows MOVED and ASK.
//
// The harness does not use a general-purpose client library because a
// Jepsen history needs to know, for every operation, whether it certainly
// did not happen (fail) or might have (info). Libraries retry writes on
// network errors, CLUSTERDOWN or TRYAGAIN behind the caller's back, which
// would apply a write twice and make the checkers report anomalies of the
// client's own making. Here nothing is retried unless the reply proves the
// command did not run (MOVED, ASK, a refused connection, an EXECABORT), and
// every other error is classified by Outcome.
package client
