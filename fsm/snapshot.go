package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tidwall/btree"

	"github.com/troika-db/troika/snapshot"
)

// Snapshot record types. Append-only, like opcodes: a snapshot written by
// one version must load in the next.
const (
	recString      uint8 = 1
	recStringRaw   uint8 = 2 // RawString
	recStringFloat uint8 = 3 // FloatString
	recList        uint8 = 4 // *List: uvarint count, then uvarint length + bytes per element
)

// Snapshot is a point-in-time view of a DB. Taking it is O(1): the B-trees
// are copied lazily (copy-on-write), and the DB's generation is bumped so
// that aggregate values created before the snapshot are cloned before they
// are mutated (see DB.Gen). A Snapshot is read-only and safe to stream from
// another goroutine while the DB keeps changing.
type Snapshot struct {
	keys *btree.BTreeG[item]
	ttls *btree.BTreeG[ttlItem]
	now  int64
	// versions are the DB's WATCH versions (encodeVersions).
	versions []byte
	// index is the replica's applied log index at the time of the view
	// (set by the owner, see SetIndex), carried in the header so that a
	// restored replica knows which writes it holds.
	index uint64
}

// SetIndex records the applied log index the view reflects.
func (s *Snapshot) SetIndex(i uint64) { s.index = i }

// Snapshot returns a point-in-time view of db.
func (db *DB) Snapshot() *Snapshot {
	s := &Snapshot{keys: db.keys.Copy(), ttls: db.ttls.Copy(), now: db.now}
	// The watch versions are small: copy them now (the view must not see
	// later writes).
	s.versions = db.encodeVersions(nil)
	db.gen++
	return s
}

// Len returns the number of keys in the view.
func (s *Snapshot) Len() int { return s.keys.Len() }

// snapshotMeta is the header's opaque Meta: the group's clock, so that a
// restored replica never applies an entry with an earlier time, then the
// applied index, then the WATCH versions (both absent in older snapshots:
// zero).
func encodeSnapshotMeta(now int64, index uint64, versions []byte) []byte {
	return append(binary.AppendUvarint(binary.AppendVarint(nil, now), index), versions...)
}

// WriteTo streams the view in the snapshot format (snapshot/).
func (s *Snapshot) WriteTo(w io.Writer, group uint32) error {
	sw, err := snapshot.NewWriter(w, snapshot.Header{Kind: "data", Group: group, Meta: encodeSnapshotMeta(s.now, s.index, s.versions)})
	if err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	var werr error
	s.keys.Scan(func(it item) bool {
		var exp int64
		if it.hasTTL() {
			t, _ := s.ttls.Get(ttlItem{ord: it.ord, key: it.key()})
			exp = t.exp
		}
		rec, err := encodeRecord(it, exp)
		if err != nil {
			werr = err
			return false
		}
		if err := sw.Write(rec); err != nil {
			werr = fmt.Errorf("snapshot record: %w", err)
			return false
		}
		return true
	})
	if werr != nil {
		return werr
	}
	return sw.Close()
}

func encodeRecord(it item, exp int64) (snapshot.Record, error) {
	key := []byte(it.key())
	if it.obj == nil {
		typ := recString
		switch {
		case it.meta&flagRaw != 0:
			typ = recStringRaw
		case it.meta&flagNoInt != 0:
			typ = recStringFloat
		}
		return snapshot.Record{Type: typ, Key: key, Expire: exp, Value: []byte(it.strVal())}, nil
	}
	if enc, ok := it.obj.v.(interface{ snapshotRecord() (uint8, []byte) }); ok {
		t, b := enc.snapshotRecord()
		return snapshot.Record{Type: t, Key: key, Expire: exp, Value: b}, nil
	}
	return snapshot.Record{}, fmt.Errorf("snapshot: key %q has unsupported type %T", key, it.obj.v)
}

// decoders maps record types of aggregate values to their decoders; families
// that add types register here.
var decoders = map[uint8]func([]byte) (any, error){
	recList: decodeList,
}

// ReadSnapshot builds a new DB from a snapshot stream.
func ReadSnapshot(r io.Reader) (*DB, error) {
	sr, err := snapshot.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	h := sr.Header()
	if h.Kind != "data" {
		return nil, fmt.Errorf("snapshot kind %q, want data", h.Kind)
	}
	db := NewDB()
	if now, n := binary.Varint(h.Meta); n > 0 {
		db.now = now
		if idx, k := binary.Uvarint(h.Meta[n:]); k > 0 {
			db.restoredIndex = idx
			if !db.decodeVersions(h.Meta[n+k:]) {
				return nil, fmt.Errorf("snapshot: bad watch versions")
			}
		}
	}
	for {
		rec, err := sr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read snapshot: %w", err)
		}
		var val any
		switch rec.Type {
		case recString:
			val = string(rec.Value)
		case recStringRaw:
			val = RawString(rec.Value)
		case recStringFloat:
			val = FloatString(rec.Value)
		default:
			dec, ok := decoders[rec.Type]
			if !ok {
				return nil, fmt.Errorf("snapshot: unknown record type %d", rec.Type)
			}
			if val, err = dec(rec.Value); err != nil {
				return nil, fmt.Errorf("snapshot: key %q: %w", rec.Key, err)
			}
		}
		db.Set(string(rec.Key), val, rec.Expire)
	}
	db.dirty = 0
	return db, nil
}
