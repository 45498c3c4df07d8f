package resp

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// cmdStats are one command's INFO commandstats counters.
type cmdStats struct {
	calls    atomic.Int64
	usec     atomic.Int64
	rejected atomic.Int64 // refused before running: arity, NOAUTH, CROSSSLOT, MOVED...
	failed   atomic.Int64 // ran and replied an error
}

func (s *cmdStats) reset() {
	s.calls.Store(0)
	s.usec.Store(0)
	s.rejected.Store(0)
	s.failed.Store(0)
}

// opsSamples is Redis's STATS_METRIC_SAMPLES.
const opsSamples = 16

// serverStats are the server-wide INFO counters.
type serverStats struct {
	connectionsReceived atomic.Int64
	rejectedConns       atomic.Int64
	commands            atomic.Int64
	netInput            atomic.Int64
	netOutput           atomic.Int64
	errorReplies        atomic.Int64
	peakMemory          atomic.Uint64

	mu         sync.Mutex
	errorsByPx map[string]int64 // errorstats: error prefix -> count

	// ops/sec sampling (cron goroutine writes, INFO reads under mu)
	lastSampleTime time.Time
	lastSampleOps  int64
	samples        [opsSamples]float64
	sampleIdx      int
}

// countError is the writer's error hook.
func (s *serverStats) countError(text string) {
	s.errorReplies.Add(1)
	px := errPrefix(text)
	s.mu.Lock()
	if s.errorsByPx == nil {
		s.errorsByPx = make(map[string]int64)
	}
	// Like Redis, stop tracking new prefixes past 128 of them.
	if _, ok := s.errorsByPx[px]; ok || len(s.errorsByPx) < 128 {
		s.errorsByPx[px]++
	}
	s.mu.Unlock()
}

type errorStat struct {
	prefix string
	count  int64
}

// errorStats returns the errorstats counters sorted by prefix.
func (s *serverStats) errorStats() []errorStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]errorStat, 0, len(s.errorsByPx))
	for k, v := range s.errorsByPx {
		out = append(out, errorStat{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].prefix < out[j].prefix })
	return out
}

// notePeakMemory records a used_memory sample and returns the peak.
func (s *serverStats) notePeakMemory(used uint64) uint64 {
	for {
		p := s.peakMemory.Load()
		if used <= p {
			return p
		}
		if s.peakMemory.CompareAndSwap(p, used) {
			return used
		}
	}
}

// sampleOps records one instantaneous ops/sec sample.
func (s *serverStats) sampleOps(now time.Time) {
	ops := s.commands.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastSampleTime.IsZero() {
		if dt := now.Sub(s.lastSampleTime).Seconds(); dt > 0 {
			s.samples[s.sampleIdx] = float64(ops-s.lastSampleOps) / dt
			s.sampleIdx = (s.sampleIdx + 1) % opsSamples
		}
	}
	s.lastSampleTime, s.lastSampleOps = now, ops
}

func (s *serverStats) opsPerSec() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum float64
	for _, v := range s.samples {
		sum += v
	}
	return int64(sum/opsSamples + 0.5)
}

// reset is CONFIG RESETSTAT.
func (s *serverStats) reset() {
	s.connectionsReceived.Store(0)
	s.rejectedConns.Store(0)
	s.commands.Store(0)
	s.netInput.Store(0)
	s.netOutput.Store(0)
	s.errorReplies.Store(0)
	s.mu.Lock()
	s.errorsByPx = nil
	s.samples = [opsSamples]float64{}
	s.mu.Unlock()
}
