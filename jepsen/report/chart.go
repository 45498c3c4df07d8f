package report

import (
	"image"
	"image/color"
	"math"

	"github.com/troika-db/troika/jepsen/history"
)

// PlotOptions configures LatencyPNG and ThroughputPNG.
type PlotOptions struct {
	// Title heads the plot (the plot kind is appended to it).
	Title string
	// Width and Height are the image size in pixels; zero means the
	// default 1200x500. Sizes are kept within 320x200 and 10000x10000.
	Width, Height int
}

const (
	defaultWidth  = 1200
	defaultHeight = 500
	minWidth      = 320
	minHeight     = 200
	maxSize       = 10000
)

var (
	colorBG     = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colorText   = color.RGBA{0x22, 0x22, 0x22, 0xff}
	colorAxis   = color.RGBA{0x55, 0x55, 0x55, 0xff}
	colorGrid   = color.RGBA{0x00, 0x00, 0x00, 0xff} // blended at gridAlpha
	colorMarker = color.RGBA{0x55, 0x55, 0x55, 0xff} // F shapes in the legend
)

const gridAlpha = 24

type tick struct {
	v     float64
	label string // empty for a minor tick
}

// chartSpec describes what a chart frame shows, before layout.
type chartSpec struct {
	title, xLabel, yLabel string
	yShort                string  // yLabel when that does not fit
	x1                    float64 // end of the x axis, in seconds (x starts at 0)
	logY                  bool
	y0, y1                float64 // y axis range (actual values, also when logY)
	yTicks                []tick
	legend                []legendItem
	windows               []history.Window
	kinds                 map[string]int
}

type legendItem struct {
	label  string
	swatch func(c *canvas, r image.Rectangle)
}

func markerSwatch(shape int, col color.RGBA) func(*canvas, image.Rectangle) {
	return func(c *canvas, r image.Rectangle) {
		m := r.Min.Add(r.Max).Div(2)
		c.marker(m.X, m.Y, shape, r.Dy()/2-1, col)
	}
}

func lineSwatch(col color.RGBA) func(*canvas, image.Rectangle) {
	return func(c *canvas, r image.Rectangle) {
		y := (r.Min.Y + r.Max.Y) / 2
		c.fill(image.Rect(r.Min.X, y-1, r.Max.X, y+1), col)
	}
}

func faultSwatch(col color.RGBA) func(*canvas, image.Rectangle) {
	return func(c *canvas, r image.Rectangle) {
		c.blendRect(r, col, faultAlpha*2)
		c.outline(r, col)
	}
}

// chart is a laid-out frame: the canvas, the plot area and the mapping
// from data to pixels.
type chart struct {
	c      *canvas
	s      int // text scale
	plot   image.Rectangle
	x0, x1 float64
	y0, y1 float64 // log10 of the range when logY
	logY   bool
}

// px maps seconds since the start to a pixel column.
func (ch *chart) px(x float64) int {
	f := (x - ch.x0) / (ch.x1 - ch.x0)
	return ch.plot.Min.X + int(math.Round(f*float64(ch.plot.Dx()-1)))
}

// py maps a y value to a pixel row (values off a log axis are clamped).
func (ch *chart) py(y float64) int {
	if ch.logY {
		y = math.Log10(math.Max(y, math.Pow(10, ch.y0)))
	}
	f := (y - ch.y0) / (ch.y1 - ch.y0)
	return ch.plot.Max.Y - 1 - int(math.Round(f*float64(ch.plot.Dy()-1)))
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }

// newChart lays out and draws everything but the data: title, legend,
// fault shading, grid, ticks and axis labels.
func newChart(opt PlotOptions, sp chartSpec) *chart {
	w, h := opt.Width, opt.Height
	if w == 0 {
		w = defaultWidth
	}
	if h == 0 {
		h = defaultHeight
	}
	w, h = min(max(w, minWidth), maxSize), min(max(h, minHeight), maxSize)
	s := 1
	if w >= 800 && h >= 350 {
		s = 2
	}
	ch := &chart{c: newCanvas(w, h, colorBG), s: s, x1: sp.x1, logY: sp.logY, y0: sp.y0, y1: sp.y1}
	if ch.x1 <= ch.x0 {
		ch.x1 = 1
	}
	if sp.logY {
		ch.y0, ch.y1 = math.Log10(sp.y0), math.Log10(sp.y1)
	}
	if ch.y1 <= ch.y0 {
		ch.y1 = ch.y0 + 1
	}
	c, pad := ch.c, 6*s

	// Title, centred; smaller or cut short when it does not fit.
	ts := s + 1
	for ts > 1 && textWidth(sp.title, ts) > w-2*pad {
		ts--
	}
	title := fitText(sp.title, ts, w-2*pad)
	c.text((w-textWidth(title, ts))/2, pad, title, ts, colorText)
	top := pad + glyphRows*ts + 4*s

	// Margins around the plot area.
	tickLen := 2 * s
	labelW := 0
	for _, t := range sp.yTicks {
		labelW = max(labelW, textWidth(t.label, s))
	}
	left := pad + textHeight(s) + 3*s + labelW + tickLen + 2*s
	right := w - 10*s - pad
	bottom := h - pad - textHeight(s) - 3*s - textHeight(s) - tickLen

	// Legend rows, left-aligned with the plot, wrapping at its right.
	sh := glyphRows * s // swatch height; swatches are twice as wide
	sw := 2 * sh
	x, y := left, top+2*s
	for _, it := range sp.legend {
		iw := sw + 3*s + textWidth(it.label, s)
		if x > left && x+iw > right {
			x, y = left, y+textHeight(s)+2*s
		}
		it.swatch(c, image.Rect(x, y, x+sw, y+sh))
		c.text(x+sw+3*s, y, it.label, s, colorText)
		x += iw + 12*s
	}
	if len(sp.legend) > 0 {
		top = y + textHeight(s) + 2*s
	}
	ch.plot = image.Rect(left, top, right, max(bottom, top+20))

	// Fault windows, one colour per kind.
	for _, win := range sp.windows {
		x0, x1 := ch.px(seconds(win.Start)), ch.px(seconds(win.End))
		r := image.Rect(x0, ch.plot.Min.Y, x1+1, ch.plot.Max.Y).Intersect(ch.plot)
		c.blendRect(r, faultColor(sp.kinds[win.Fault]), faultAlpha)
	}

	// Y grid, ticks and labels.
	for _, t := range sp.yTicks {
		ty := ch.py(t.v)
		if ty < ch.plot.Min.Y || ty >= ch.plot.Max.Y {
			continue
		}
		n := tickLen
		if t.label != "" {
			c.blendRect(image.Rect(ch.plot.Min.X, ty, ch.plot.Max.X, ty+1), colorGrid, gridAlpha)
			c.text(left-tickLen-2*s-textWidth(t.label, s), ty-glyphRows*s/2, t.label, s, colorText)
		} else {
			n = tickLen / 2
		}
		c.fill(image.Rect(left-n, ty, left, ty+1), colorAxis)
	}
	// X grid, ticks and labels: as many as fit.
	step := niceStep(ch.x1-ch.x0, max(2, ch.plot.Dx()/(textWidth("00000", s)+8*s)))
	for i := 0; ; i++ {
		v := ch.x0 + float64(i)*step
		if v > ch.x1+step*1e-9 {
			break
		}
		tx := ch.px(v)
		label := formatTick(v, step)
		c.blendRect(image.Rect(tx, ch.plot.Min.Y, tx+1, ch.plot.Max.Y), colorGrid, gridAlpha)
		c.fill(image.Rect(tx, ch.plot.Max.Y, tx+1, ch.plot.Max.Y+tickLen), colorAxis)
		c.text(tx-textWidth(label, s)/2, ch.plot.Max.Y+tickLen+2*s, label, s, colorText)
	}
	// Axis labels.
	xl := fitText(sp.xLabel, s, ch.plot.Dx())
	c.text(ch.plot.Min.X+(ch.plot.Dx()-textWidth(xl, s))/2, h-pad-textHeight(s), xl, s, colorText)
	yl := sp.yLabel
	if textWidth(yl, s) > ch.plot.Dy() && sp.yShort != "" {
		yl = sp.yShort
	}
	yl = fitText(yl, s, ch.plot.Dy())
	c.textUp(pad, ch.plot.Min.Y+(ch.plot.Dy()+textWidth(yl, s))/2, yl, s, colorText)
	return ch
}

// finish draws the plot border, and a note in the middle when the plot
// has no data.
func (ch *chart) finish(note string) {
	ch.c.outline(ch.plot.Inset(-1), colorAxis)
	if note != "" {
		s := ch.s
		note = fitText(note, s, ch.plot.Dx())
		ch.c.text(ch.plot.Min.X+(ch.plot.Dx()-textWidth(note, s))/2, ch.plot.Min.Y+(ch.plot.Dy()-glyphRows*s)/2, note, s, colorAxis)
	}
}

// fitText cuts s short with ".." so that it is at most width pixels wide.
func fitText(s string, scale, width int) string {
	if textWidth(s, scale) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && textWidth(string(r)+"..", scale) > width {
		r = r[:len(r)-1]
	}
	return string(r) + ".."
}

// legendFaults appends an entry per fault kind to items.
func legendFaults(items []legendItem, kinds []string) []legendItem {
	for i, k := range kinds {
		items = append(items, legendItem{label: k, swatch: faultSwatch(faultColor(i))})
	}
	return items
}
