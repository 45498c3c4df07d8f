// Package fsm is Troika's deterministic state machine: the keyspace of one
// raft group (DB), the Redis commands that read and change it, the op table
// that gives every command a stable opcode, and the log-entry codec.
//
// Every command is "typed parse, then run" (one file per command family:
// cmd_string.go, cmd_keys.go, ...). Writes have a Prepare step that runs on
// the leader before proposing: it validates (an invalid command never reaches
// the log) and turns relative times into absolute ones with the leader's
// clock. Run is deterministic: no clock but the entry's timestamp, no
// randomness, no I/O. Replies are fsm.Reply values; error texts live in
// resp/errors.go, keyed by Code.
//
// fsm imports only slots and snapshot.
package fsm
