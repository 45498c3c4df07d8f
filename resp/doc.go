// Package resp is Troika's client-facing RESP server: it accepts Redis
// clients, reads their requests with a bounded, incremental parser,
// answers connection and server commands itself (PING, HELLO, AUTH,
// CLIENT, CONFIG, INFO, COMMAND, SLOWLOG...), and hands data commands to
// the node through the Backend interface, batching a connection's
// pipeline into one Backend.Exec call.
//
// The package owns everything a client sees byte for byte: the command
// table (arity, flags, key specs, docs, copied from redis-server 7.0 by
// gen_commands.go), the mapping from fsm.Code to Redis's exact error texts
// (errors.go), and the RESP2/RESP3 encoding of fsm.Reply values
// (writer.go). It never imports the node; see DESIGN.md for the reasons
// behind the reader, the batching and the error table.
package resp
