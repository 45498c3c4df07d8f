package snapshot

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// writeBufferSize is the bufio buffer between the Writer and its sink.
const writeBufferSize = 64 << 10

// Writer writes a snapshot to an io.Writer. It is not safe for concurrent
// use. The first error is sticky: every later call returns it.
type Writer struct {
	bw      *bufio.Writer
	crc     uint32 // CRC-32C of every byte written so far
	count   uint64 // records written
	ioErr   error  // first error from the sink
	err     error  // sticky error returned by Write and Close
	closed  bool
	scratch [1 + recordFixedLen]byte
}

// NewWriter writes the header of a snapshot described by h to w and returns
// a Writer for its records. Output is buffered; nothing is guaranteed to
// reach w before Close.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if !validKind(h.Kind) {
		return nil, fmt.Errorf("snapshot: new writer: kind %q is neither %q nor %q", h.Kind, KindData, KindMeta)
	}
	if uint64(len(h.Meta)) > MaxMetaLen {
		return nil, fmt.Errorf("snapshot: new writer: meta of %d bytes exceeds %d", len(h.Meta), MaxMetaLen)
	}
	sw := &Writer{bw: bufio.NewWriterSize(w, writeBufferSize)}
	hdr := make([]byte, 0, len(Magic)+2+1+len(h.Kind)+4+4)
	hdr = append(hdr, Magic...)
	hdr = binary.BigEndian.AppendUint16(hdr, Version)
	hdr = append(hdr, byte(len(h.Kind)))
	hdr = append(hdr, h.Kind...)
	hdr = binary.BigEndian.AppendUint32(hdr, h.Group)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(h.Meta)))
	sw.write(hdr)
	sw.write(h.Meta)
	sw.write(binary.BigEndian.AppendUint32(nil, sw.crc)) // header checksum
	if sw.ioErr != nil {
		return nil, fmt.Errorf("snapshot: write header: %w", sw.ioErr)
	}
	return sw, nil
}

// Write appends a record. The Writer does not retain r's slices.
func (w *Writer) Write(r Record) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := checkRecordLens(uint64(len(r.Key)), uint64(len(r.Value))); err != nil {
		return fmt.Errorf("snapshot: write record %d: %w", w.count, err)
	}
	b := w.scratch[:0]
	b = append(b, tagRecord, r.Type)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Expire))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Key)))
	b = binary.BigEndian.AppendUint64(b, uint64(len(r.Value)))
	w.write(b)
	w.write(r.Key)
	w.write(r.Value)
	if w.ioErr != nil {
		w.err = fmt.Errorf("snapshot: write record %d: %w", w.count, w.ioErr)
		return w.err
	}
	w.count++
	return nil
}

// Close writes the trailer and flushes buffered output. It does not close
// the underlying io.Writer. Calling Close again returns the first Close's
// result.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	b := w.scratch[:0]
	b = append(b, tagTrailer)
	b = binary.BigEndian.AppendUint64(b, w.count)
	w.write(b)
	w.write(binary.BigEndian.AppendUint32(w.scratch[:0], w.crc))
	if w.ioErr == nil {
		w.ioErr = w.bw.Flush()
	}
	if w.ioErr != nil {
		w.err = fmt.Errorf("snapshot: write trailer: %w", w.ioErr)
	}
	return w.err
}

// write sends p to the buffer and folds it into the running checksum,
// recording the first I/O failure in w.ioErr.
func (w *Writer) write(p []byte) {
	if w.ioErr != nil || len(p) == 0 {
		return
	}
	w.crc = crc32.Update(w.crc, castagnoli, p)
	_, w.ioErr = w.bw.Write(p)
}

// checkRecordLens enforces the length limits shared by Writer and Reader.
func checkRecordLens(keyLen, valueLen uint64) error {
	if keyLen > MaxKeyLen {
		return fmt.Errorf("key of %d bytes exceeds %d", keyLen, MaxKeyLen)
	}
	if valueLen > MaxValueLen {
		return fmt.Errorf("value of %d bytes exceeds %d", valueLen, MaxValueLen)
	}
	return nil
}
