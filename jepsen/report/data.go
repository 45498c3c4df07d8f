package report

import (
	"image/color"
	"math"
	"strconv"

	"github.com/troika-db/troika/jepsen/history"
)

// Outcome colours, shared by the plots and (as CSS) the timeline.
var (
	colorOK   = color.RGBA{0x2c, 0xa0, 0x2c, 0xff} // green
	colorFail = color.RGBA{0xd6, 0x27, 0x28, 0xff} // red
	colorInfo = color.RGBA{0xff, 0x8c, 0x00, 0xff} // orange
)

// faultPalette colours fault kinds, in order of first appearance.
var faultPalette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
}

// faultAlpha is the opacity of fault-window shading in the plots.
const faultAlpha = 40

func outcomeColor(t history.Type) color.RGBA {
	switch t {
	case history.OK:
		return colorOK
	case history.Fail:
		return colorFail
	}
	return colorInfo
}

// pairs matches invocations with completions like history.Pairs, but
// leniently, so a report can still be drawn for a malformed history: a
// completion without an invocation is dropped, and an invocation by a
// process whose previous operation is still open leaves that one open
// (never completed). Nemesis events are left out.
func pairs(ops []history.Op) []history.Pair {
	open := map[int]int{}
	var out []history.Pair
	for i := range ops {
		op := ops[i]
		if op.Process == history.NemesisProcess {
			continue
		}
		switch op.Type {
		case history.Invoke:
			open[op.Process] = len(out)
			out = append(out, history.Pair{Invoke: op})
		case history.OK, history.Fail, history.Info:
			if j, ok := open[op.Process]; ok {
				c := op
				out[j].Complete = &c
				delete(open, op.Process)
			}
		}
	}
	return out
}

// endTime is the time of the last event of the history (0 when empty).
func endTime(ops []history.Op) int64 {
	var end int64
	for _, op := range ops {
		end = max(end, op.Time)
	}
	return end
}

// outcome is the result type of a pair: Info when it never completed.
func outcome(p history.Pair) history.Type {
	if p.Complete == nil {
		return history.Info
	}
	return p.Complete.Type
}

// finish is when a pair completed, or end when it never did.
func finish(p history.Pair, end int64) int64 {
	if p.Complete == nil {
		return max(end, p.Invoke.Time)
	}
	return p.Complete.Time
}

// faultKinds numbers the fault kinds of ws in order of first appearance.
func faultKinds(ws []history.Window) (kinds []string, index map[string]int) {
	index = map[string]int{}
	for _, w := range ws {
		if _, ok := index[w.Fault]; !ok {
			index[w.Fault] = len(kinds)
			kinds = append(kinds, w.Fault)
		}
	}
	return kinds, index
}

func faultColor(kind int) color.RGBA { return faultPalette[kind%len(faultPalette)] }

// funcs lists the distinct F of the pairs in order of first appearance.
func funcs(ps []history.Pair) (fs []string, index map[string]int) {
	index = map[string]int{}
	for _, p := range ps {
		if _, ok := index[p.Invoke.F]; !ok {
			index[p.Invoke.F] = len(fs)
			fs = append(fs, p.Invoke.F)
		}
	}
	return fs, index
}

// niceStep is the smallest 1, 2 or 5 times a power of ten that divides
// span into at most target steps.
func niceStep(span float64, target int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(max(target, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// formatTick prints v with as many decimals as step needs.
func formatTick(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	if math.Abs(v) < step*1e-6 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// formatMS prints a duration in nanoseconds as milliseconds.
func formatMS(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e6, 'f', 3, 64)
}
