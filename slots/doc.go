// Package slots implements Redis Cluster hash slots as pure values.
//
// Every function here is byte-exact with Redis: CRC16 is the CRC16-CCITT
// (XMODEM) variant of Redis's crc16.c, and Slot applies the same hash-tag
// rule as Redis's keyHashSlot, so a key maps to the slot CLUSTER KEYSLOT
// reports on a real Redis server and cluster-aware clients route correctly.
//
// Map is the slot→group table. It is a plain array-backed value: copying a
// Map copies the table, and two Maps compare equal with == when every slot
// belongs to the same group. Its binary encoding (MarshalBinary) is a
// canonical run-length encoding, so equal Maps always encode to equal bytes,
// which matters when the map is part of replicated, deterministic state.
//
// The package has no internal dependencies (standard library only).
package slots
