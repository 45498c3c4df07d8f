package raftstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A segment is one file of the log: frames appended from offset 0, the
// first one a checkpoint, followed by zeros or stale bytes (see DESIGN.md).
// Segments are named <Path>.<number>.seg, numbered in creation order.
type segment struct {
	no   uint32
	path string
	f    *os.File
	size int64 // allocated size; frames never cross it

	// Owned by the committer (and by Open before it starts).
	end       int64  // end of the last frame: where the next one goes
	lastSeq   uint64 // seq of the last frame
	live      int    // live entries the indexes map into this segment
	liveBytes int64  // their encoded size
}

const (
	segSuffix = ".seg"
	// zeroChunk is the write size used to zero-fill a spare segment; the
	// preparer syncs every zeroSyncEvery bytes so that it never leaves a
	// large amount of dirty data for a commit's fdatasync to wait behind.
	zeroChunk     = 1 << 20
	zeroSyncEvery = 8 << 20
)

func segPath(base string, no uint32) string { return base + "." + fmt.Sprintf("%08d", no) + segSuffix }

func (s *Store) sparePath() string { return s.path + ".spare" }

// listSegments returns the numbers of the segment files of the store at
// base, ascending.
func listSegments(base string) ([]uint32, error) {
	dir, name := filepath.Split(base)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var out []uint32
	for _, e := range ents {
		mid, ok := strings.CutPrefix(e.Name(), name+".")
		if !ok {
			continue
		}
		if mid, ok = strings.CutSuffix(mid, segSuffix); !ok {
			continue
		}
		n, err := strconv.ParseUint(mid, 10, 32)
		if err != nil || n == 0 {
			continue
		}
		out = append(out, uint32(n))
	}
	slices.Sort(out)
	return out, nil
}

// syncDir makes the creation, renaming or removal of files in the store's
// directory durable.
func (s *Store) syncDir() error {
	d, err := os.Open(filepath.Dir(s.path))
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", filepath.Dir(s.path), err)
	}
	return nil
}

func openSegment(path string, no uint32) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat segment: %w", err)
	}
	return &segment{no: no, path: path, f: f, size: st.Size()}, nil
}

// newSegment makes segment no, at least need bytes long: the spare file if
// one is ready and large enough (zero-filled or recycled, so commits into
// it are plain overwrites), else a file of bridgeSize bytes (or need)
// preallocated on the spot, which the preparer replaces soon. The new
// name is made durable before the segment is used.
func (s *Store) newSegment(no uint32, need int64) (*segment, error) {
	path := segPath(s.path, no)
	// Renames of the spare happen under spareMu: the preparer may be
	// installing a new one.
	s.spareMu.Lock()
	useSpare := s.spareReady && s.spareSize >= need
	if useSpare {
		if err := os.Rename(s.sparePath(), path); err != nil {
			s.spareMu.Unlock()
			return nil, fmt.Errorf("segment %d from spare: %w", no, err)
		}
		s.spareReady = false
	}
	s.spareMu.Unlock()
	if !useSpare {
		if s.active != nil {
			// A bridge: the spare was not ready in time. (A new store's
			// first segment asks for one only once it is half full, so
			// that short-lived stores, as in tests, write no spare.)
			s.kickPreparer()
		}
		size := max(min(s.segSize, bridgeSize), need)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		if err != nil {
			return nil, fmt.Errorf("create segment %d: %w", no, err)
		}
		err = preallocate(f, size)
		if err == nil {
			err = f.Sync()
		}
		_ = f.Close()
		if err != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("allocate segment %d: %w", no, err)
		}
	}
	seg, err := openSegment(path, no)
	if err == nil {
		if err = s.syncDir(); err != nil {
			_ = seg.f.Close()
		}
	}
	if err != nil {
		_ = os.Remove(path) // the number is tried again by the next rotation
		return nil, err
	}
	s.logger.Debug("raft log segment started", "segment", no, "size", seg.size, "from_spare", useSpare)
	return seg, nil
}

// dispose gets rid of a segment that no longer holds anything needed
// (already out of s.segs, file closed): it becomes the spare if the slot is
// free and it has the standard size (a recycled segment's stale frames are
// harmless, see DESIGN.md), else it is removed. Neither needs a directory
// sync: if the change is lost in a crash, the old segment reappears, and
// recovery gives the same state with it (DESIGN.md, "Reclamation").
func (s *Store) dispose(seg *segment) {
	s.spareMu.Lock()
	recycle := !s.spareReady && !s.spareBusy && seg.size == s.segSize
	if recycle {
		if err := os.Rename(seg.path, s.sparePath()); err != nil {
			s.logger.Warn("raft log segment recycling failed", "segment", seg.no, "err", err)
			recycle = false
		} else {
			s.spareReady, s.spareSize = true, seg.size
		}
	}
	s.spareMu.Unlock()
	if !recycle {
		if err := os.Remove(seg.path); err != nil {
			s.logger.Warn("raft log segment removal failed", "segment", seg.no, "err", err)
		}
	}
	s.logger.Debug("raft log segment reclaimed", "segment", seg.no, "recycled", recycle)
}

func (s *Store) kickPreparer() {
	select {
	case s.prepKick <- struct{}{}:
	default:
	}
}

// prepare runs in its own goroutine: when kicked and no spare exists, it
// zero-fills a new spare segment (segSize bytes) off the commit path.
// Writing the zeros for real (not only preallocating) matters: on ext4 a
// commit into preallocated but never written blocks must also journal the
// conversion of those blocks, which costs about 15% more per fdatasync.
func (s *Store) prepare() {
	defer s.prepWG.Done()
	for {
		select {
		case <-s.prepStop:
			return
		case <-s.prepKick:
		}
		s.spareMu.Lock()
		busy := s.spareReady || s.spareBusy
		s.spareBusy = !busy
		s.spareMu.Unlock()
		if busy {
			continue
		}
		err := s.zeroSpare()
		if err != nil && err != errStopped {
			s.logger.Warn("raft log spare segment preparation failed", "err", err)
		}
	}
}

var errStopped = errors.New("raftstore: stopped")

func (s *Store) zeroSpare() error {
	tmp := s.sparePath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return fmt.Errorf("create spare: %w", err)
	}
	err = func() error {
		if err := preallocate(f, s.segSize); err != nil {
			return fmt.Errorf("allocate spare: %w", err)
		}
		zero := make([]byte, zeroChunk)
		for off := int64(0); off < s.segSize; off += zeroChunk {
			select {
			case <-s.prepStop:
				return errStopped
			default:
			}
			n := min(zeroChunk, s.segSize-off)
			if _, err := f.WriteAt(zero[:n], off); err != nil {
				return fmt.Errorf("zero spare: %w", err)
			}
			if (off+n)%zeroSyncEvery == 0 || off+n == s.segSize {
				if err := fdatasync(f); err != nil {
					return fmt.Errorf("sync spare: %w", err)
				}
			}
		}
		return nil
	}()
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close spare: %w", cerr)
	}
	s.spareMu.Lock()
	if err == nil {
		if err = os.Rename(tmp, s.sparePath()); err != nil {
			err = fmt.Errorf("install spare: %w", err)
		} else {
			s.spareReady, s.spareSize = true, s.segSize
		}
	}
	s.spareBusy = false
	s.spareMu.Unlock()
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	s.logger.Debug("raft log spare segment ready", "size", s.segSize)
	return nil
}
