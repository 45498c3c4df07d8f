package report

import (
	"fmt"
	"image/png"
	"io"
	"math"
	"strconv"

	"github.com/troika-db/troika/jepsen/history"
)

// minLatencyMS is the floor of the latency axis (1 µs): shorter
// latencies, zero included, are drawn on it.
const minLatencyMS = 0.001

// heading joins the user's title and the plot kind.
func heading(title, kind string) string {
	if title == "" {
		return kind
	}
	return title + " - " + kind
}

// LatencyPNG writes a PNG scatter plot of operation latency over time:
// one point per client operation at its invocation time (seconds since
// the start of the test) and latency (completion minus invocation, in
// milliseconds on a log scale), coloured by outcome: ok green, fail red,
// info orange. Operations that never completed are drawn as info, with
// the end of the history as their completion. When the history has
// several operation functions (F), each gets its own marker shape. Fault
// windows are shaded as translucent vertical bands, one colour per fault
// kind; the legend names the outcomes, shapes and fault kinds.
func LatencyPNG(w io.Writer, ops []history.Op, opt PlotOptions) error {
	ch := latencyChart(ops, opt)
	if err := png.Encode(w, ch.c.img); err != nil {
		return fmt.Errorf("report: latency png: %w", err)
	}
	return nil
}

type latPoint struct {
	x, ms float64
	typ   history.Type
	shape int
}

func latencyChart(ops []history.Op, opt PlotOptions) *chart {
	end := endTime(ops)
	ps := pairs(ops)
	fs, fIndex := funcs(ps)
	windows := history.Windows(ops, end)
	kinds, kIndex := faultKinds(windows)

	pts := make([]latPoint, 0, len(ps))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		ms := math.Max(float64(finish(p, end)-p.Invoke.Time)/1e6, minLatencyMS)
		lo, hi = math.Min(lo, ms), math.Max(hi, ms)
		pts = append(pts, latPoint{x: seconds(p.Invoke.Time), ms: ms, typ: outcome(p), shape: fIndex[p.Invoke.F]})
	}
	if len(pts) == 0 {
		lo, hi = 1, 1000
	}
	// Whole decades around the data.
	d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	var ticks []tick
	for d := d0; d <= d1; d++ {
		v := math.Pow(10, d)
		ticks = append(ticks, tick{v: v, label: strconv.FormatFloat(v, 'f', -1, 64)})
		for m := 2.0; m < 10 && d < d1; m++ {
			ticks = append(ticks, tick{v: m * v})
		}
	}

	legend := []legendItem{
		{"ok", markerSwatch(shapeCircle, colorOK)},
		{"fail", markerSwatch(shapeCircle, colorFail)},
		{"info", markerSwatch(shapeCircle, colorInfo)},
	}
	if len(fs) > 1 {
		for i, f := range fs {
			legend = append(legend, legendItem{f, markerSwatch(i, colorMarker)})
		}
	}
	ch := newChart(opt, chartSpec{
		title:   heading(opt.Title, "operation latency"),
		xLabel:  "invocation time (s since start)",
		yLabel:  "latency (ms, log scale)",
		yShort:  "latency (ms)",
		x1:      seconds(end),
		logY:    true,
		y0:      math.Pow(10, d0),
		y1:      math.Pow(10, d1),
		yTicks:  ticks,
		legend:  legendFaults(legend, kinds),
		windows: windows,
		kinds:   kIndex,
	})
	// ok first, so that the rarer fail and info points stay visible;
	// smaller markers when there are many.
	r := ch.s + 1
	switch {
	case len(pts) > 50000:
		r = max(ch.s-1, 1)
	case len(pts) > 5000:
		r = ch.s
	}
	for _, t := range []history.Type{history.OK, history.Info, history.Fail} {
		col := outcomeColor(t)
		for _, p := range pts {
			if p.typ == t {
				ch.c.marker(ch.px(p.x), ch.py(p.ms), p.shape, r, col)
			}
		}
	}
	note := ""
	if len(pts) == 0 {
		note = "no operations"
	}
	ch.finish(note)
	return ch
}

// ThroughputPNG writes a PNG line plot of completed client operations
// per second over time, one line per outcome (ok green, fail red, info
// orange), counted by completion time in buckets of a round width chosen
// for about 60 buckets (at least 100 ms). Operations that never completed
// are not counted. Fault windows are shaded as in LatencyPNG.
func ThroughputPNG(w io.Writer, ops []history.Op, opt PlotOptions) error {
	ch := throughputChart(ops, opt)
	if err := png.Encode(w, ch.c.img); err != nil {
		return fmt.Errorf("report: throughput png: %w", err)
	}
	return nil
}

// throughputBucket is the bucket width in seconds for a test of the
// given length in seconds.
func throughputBucket(dur float64) float64 {
	return math.Max(niceStep(dur, 60), 0.1)
}

func throughputChart(ops []history.Op, opt PlotOptions) *chart {
	end := endTime(ops)
	ps := pairs(ops)
	windows := history.Windows(ops, end)
	kinds, kIndex := faultKinds(windows)

	bucket := throughputBucket(seconds(end))
	n := max(int(math.Ceil(seconds(end)/bucket)), 1)
	outcomes := []history.Type{history.OK, history.Fail, history.Info}
	counts := make(map[history.Type][]int, len(outcomes))
	for _, t := range outcomes {
		counts[t] = make([]int, n)
	}
	total := map[history.Type]int{}
	for _, p := range ps {
		if p.Complete == nil {
			continue
		}
		b := min(int(seconds(p.Complete.Time)/bucket), n-1)
		counts[outcome(p)][b]++
		total[outcome(p)]++
	}
	peak := 0.0
	for _, t := range outcomes {
		for _, c := range counts[t] {
			peak = math.Max(peak, float64(c)/bucket)
		}
	}
	ymax := 1.0
	step := 1.0
	if peak > 0 {
		step = niceStep(peak*1.05, 5)
		ymax = math.Ceil(peak*1.05/step) * step
	}
	var ticks []tick
	for v := 0.0; v <= ymax+step*1e-9; v += step {
		ticks = append(ticks, tick{v: v, label: formatTick(v, step)})
	}

	legend := []legendItem{
		{"ok", lineSwatch(colorOK)},
		{"fail", lineSwatch(colorFail)},
		{"info", lineSwatch(colorInfo)},
	}
	ch := newChart(opt, chartSpec{
		title:   heading(opt.Title, "throughput"),
		xLabel:  "completion time (s since start), " + formatTick(bucket, bucket) + " s buckets",
		yLabel:  "completed ops/s",
		x1:      float64(n) * bucket,
		y0:      0,
		y1:      ymax,
		yTicks:  ticks,
		legend:  legendFaults(legend, kinds),
		windows: windows,
		kinds:   kIndex,
	})
	// Draw ok first, so that fail and info lines stay visible over it.
	for _, t := range outcomes {
		if total[t] == 0 {
			continue
		}
		col := outcomeColor(t)
		px, py := 0, 0
		for i, c := range counts[t] {
			x, y := ch.px((float64(i)+0.5)*bucket), ch.py(float64(c)/bucket)
			if i > 0 {
				ch.c.line(px, py, x, y, col, ch.s)
			}
			if c > 0 {
				ch.c.marker(x, y, shapeCircle, ch.s, col)
			}
			px, py = x, y
		}
	}
	note := ""
	if len(ps) == 0 {
		note = "no operations"
	}
	ch.finish(note)
	return ch
}
