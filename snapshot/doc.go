// Package snapshot implements Troika's versioned, checksummed, streaming
// snapshot format, used by the FSM's Persist and Restore to write and read
// raft snapshots.
//
// A snapshot is a header (magic, format version, kind, group, opaque
// metadata, header checksum), a sequence of records, and a trailer holding
// the record count and a CRC-32C (Castagnoli) of every byte before the
// checksum. The exact byte layout and the reasons behind it are in
// DESIGN.md.
//
// Both sides stream: Writer buffers through a bufio.Writer and Reader
// through a bufio.Reader, so neither holds the whole snapshot in memory;
// only the record being read or written is resident.
//
// Because the whole-stream checksum can only be verified at the end, a
// record returned by Reader.Next is not yet known to be intact. Callers must
// restore into scratch state and adopt it only once Next has returned
// io.EOF, which it does exactly once and only after the trailer's count and
// checksum matched and no bytes follow it. Any other failure is an error;
// damage to the data wraps ErrCorrupt.
//
// The package has no internal dependencies (standard library only).
package snapshot
