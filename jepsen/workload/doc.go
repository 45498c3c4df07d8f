// Package workload defines the operations the harness runs against the
// cluster and how their histories are checked: list-append (MULTI
// RPUSH/LRANGE, Elle-style checker), register (SET/GET and WATCH-based
// compare-and-set, porcupine), set (SADD/SMEMBERS), counter (INCRBY), bank
// (WATCH/MULTI transfers within one hash tag) and ttl (SET EX with
// PEXPIRETIME reads: replicas must agree on deadlines).
//
// A Workload generates operations (Next), performs them through a
// client.Router (Invoke), recording every outcome as ok, fail or info, and
// checks the finished history (Check). Operations on keys use {hash tags}
// so that a multi-key transaction stays in one slot while the tags spread
// the load over every group.
package workload
