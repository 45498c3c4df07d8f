package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/troika-db/troika/jepsen/history"
)

const sec = int64(1e9)
const ms = int64(1e6)

// Fault windows of the synthetic history.
var (
	partStart, partEnd = 8 * sec, 14 * sec
	killStart, killEnd = 20 * sec, 23 * sec
)

// synthetic builds a 30-second history of 5 concurrent client processes
// doing reads, writes and cas, with a partition (timeouts: info) and a
// kill (fast failures), and one operation that never completes.
func synthetic() []history.Op {
	rng := rand.New(rand.NewPCG(1, 2))
	var ops []history.Op
	add := func(op history.Op) { ops = append(ops, op) }
	add(history.Op{Type: history.Info, Process: history.NemesisProcess, Time: partStart, F: "start-partition", Value: "n1 n2 | n3 n4 n5"})
	add(history.Op{Type: history.Info, Process: history.NemesisProcess, Time: partEnd, F: "stop-partition", Value: "healed"})
	add(history.Op{Type: history.Info, Process: history.NemesisProcess, Time: killStart, F: "start-kill", Value: "n3"})
	add(history.Op{Type: history.Info, Process: history.NemesisProcess, Time: killEnd, F: "stop-kill", Value: "n3 restarted"})
	fs := []string{"read", "write", "cas"}
	for worker := 0; worker < 5; worker++ {
		proc := worker
		t := int64(rng.IntN(20)) * ms
		for t < 30*sec-2*sec {
			f := fs[rng.IntN(len(fs))]
			key := "r" + string(rune('0'+rng.IntN(3)))
			val := any(float64(rng.IntN(10)))
			inv := history.Op{Type: history.Invoke, Process: proc, Time: t, F: f, Key: key}
			if f != "read" {
				inv.Value = val
			}
			lat := int64((1 + rng.ExpFloat64()*6) * float64(ms))
			typ, errs := history.OK, ""
			switch {
			case t >= partStart && t < partEnd && rng.IntN(3) == 0:
				typ, errs, lat = history.Info, "timeout", 1000*ms+int64(rng.IntN(50))*ms
			case t >= killStart && t < killEnd && rng.IntN(2) == 0:
				typ, errs, lat = history.Fail, "connection refused", int64(rng.IntN(500))*1000
			case f == "cas" && rng.IntN(4) == 0:
				typ = history.Fail
			}
			comp := inv
			comp.Type, comp.Time, comp.Error = typ, t+lat, errs
			if f == "read" && typ == history.OK {
				comp.Value = val
			}
			add(inv)
			add(comp)
			if typ == history.Info {
				proc += 5
			}
			t += lat + int64(rng.IntN(40))*ms
		}
	}
	// One operation that never completes, and the end of the test.
	add(history.Op{Type: history.Invoke, Process: 99, Time: 27 * sec, F: "write", Key: "r1", Value: "<script>alert(1)</script>"})
	add(history.Op{Type: history.Info, Process: history.NemesisProcess, Time: 30 * sec, F: "stop-all"})
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Time < ops[j].Time })
	for i := range ops {
		ops[i].Index = i
	}
	return ops
}

func decode(t *testing.T, b []byte) *image.RGBA {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	out := image.NewRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

// countIn counts the pixels of colour c in r.
func countIn(img *image.RGBA, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

// checkShading asserts that a column in the middle of each fault window
// is mostly that fault's shading over the white background, and that a
// column outside every window has no shading at all.
func checkShading(t *testing.T, img *image.RGBA, ch *chart) {
	t.Helper()
	partShade := blendOver(colorBG, faultColor(0), faultAlpha)
	killShade := blendOver(colorBG, faultColor(1), faultAlpha)
	if partShade == killShade || partShade == colorBG {
		t.Fatal("fault shades not distinct")
	}
	col := func(x int) image.Rectangle { return image.Rect(x, ch.plot.Min.Y, x+1, ch.plot.Max.Y) }
	// Columns strictly inside the windows, away from grid lines.
	partX := ch.px(seconds(partStart)+2.3) + 1
	killX := ch.px(seconds(killStart)+1.3) + 1
	outX := ch.px(4.3) + 1
	h := ch.plot.Dy()
	if n := countIn(img, col(partX), partShade); n < h/2 {
		t.Errorf("partition column x=%d: %d of %d pixels shaded", partX, n, h)
	}
	if n := countIn(img, col(partX), killShade); n != 0 {
		t.Errorf("partition column has %d kill-shaded pixels", n)
	}
	if n := countIn(img, col(killX), killShade); n < h/2 {
		t.Errorf("kill column x=%d: %d of %d pixels shaded", killX, n, h)
	}
	for _, shade := range []color.RGBA{partShade, killShade} {
		if n := countIn(img, col(outX), shade); n != 0 {
			t.Errorf("column x=%d outside windows has %d shaded pixels", outX, n)
		}
	}
	if n := countIn(img, col(outX), colorBG); n < h/2 {
		t.Errorf("column x=%d outside windows: only %d of %d background pixels", outX, n, h)
	}
	// Window edges land where the time axis says.
	if got := img.RGBAAt(ch.px(seconds(partStart))-2, (ch.plot.Min.Y+ch.plot.Max.Y)/2); got == partShade {
		t.Errorf("shading starts before the partition")
	}
}

func TestLatencyPNG(t *testing.T) {
	ops := synthetic()
	var buf bytes.Buffer
	opt := PlotOptions{Title: "synthetic"}
	if err := LatencyPNG(&buf, ops, opt); err != nil {
		t.Fatal(err)
	}
	img := decode(t, buf.Bytes())
	if b := img.Bounds(); b.Dx() != defaultWidth || b.Dy() != defaultHeight {
		t.Fatalf("size %v, want %dx%d", b, defaultWidth, defaultHeight)
	}
	ch := latencyChart(ops, opt)
	checkShading(t, img, ch)
	for name, c := range map[string]color.RGBA{"ok": colorOK, "fail": colorFail, "info": colorInfo} {
		if n := countIn(img, ch.plot, c); n < 20 {
			t.Errorf("%s: %d point pixels in the plot", name, n)
		}
	}
	// Timeouts (info, ~1 s) sit above the fast ops, in the partition.
	hiY := ch.py(500)
	top := image.Rect(ch.plot.Min.X, ch.plot.Min.Y, ch.plot.Max.X, hiY)
	if countIn(img, top, colorInfo) == 0 || countIn(img, top, colorOK) != 0 {
		t.Errorf("latencies above 500 ms should be info only")
	}
	// The legend (above the plot) shows all three outcome colours.
	legend := image.Rect(0, 0, img.Bounds().Dx(), ch.plot.Min.Y-1)
	for _, c := range []color.RGBA{colorOK, colorFail, colorInfo, faultColor(0), faultColor(1)} {
		if countIn(img, legend, c) == 0 {
			t.Errorf("legend lacks colour %v", c)
		}
	}
	// Text: some dark pixels left of the plot (tick labels) and below.
	if countIn(img, image.Rect(0, ch.plot.Min.Y, ch.plot.Min.X-2, ch.plot.Max.Y), colorText) == 0 {
		t.Error("no y tick labels")
	}
	if countIn(img, image.Rect(0, ch.plot.Max.Y+2, img.Bounds().Dx(), img.Bounds().Dy()), colorText) == 0 {
		t.Error("no x tick labels")
	}
}

func TestThroughputPNG(t *testing.T) {
	ops := synthetic()
	var buf bytes.Buffer
	opt := PlotOptions{Width: 900, Height: 400}
	if err := ThroughputPNG(&buf, ops, opt); err != nil {
		t.Fatal(err)
	}
	img := decode(t, buf.Bytes())
	if b := img.Bounds(); b.Dx() != 900 || b.Dy() != 400 {
		t.Fatalf("size %v, want 900x400", b)
	}
	ch := throughputChart(ops, opt)
	checkShading(t, img, ch)
	for name, c := range map[string]color.RGBA{"ok": colorOK, "fail": colorFail, "info": colorInfo} {
		if n := countIn(img, ch.plot, c); n < 20 {
			t.Errorf("%s: %d line pixels in the plot", name, n)
		}
	}
	// Before any fault, ok throughput is well above zero: the ok line
	// passes through the upper part of the plot at t=4 s.
	x := ch.px(4.3)
	upper := image.Rect(x-ch.px(1)+ch.px(0), ch.plot.Min.Y, x+ch.px(1)-ch.px(0), ch.py(20))
	if countIn(img, upper, colorOK) == 0 {
		t.Errorf("no ok line above 20 ops/s around t=4s")
	}
}

func TestEmptyAndFaultless(t *testing.T) {
	noFaults := history.Client(synthetic())
	for name, ops := range map[string][]history.Op{"empty": nil, "no faults": noFaults} {
		for kind, plot := range map[string]func(*bytes.Buffer, []history.Op) error{
			"latency": func(b *bytes.Buffer, o []history.Op) error {
				return LatencyPNG(b, o, PlotOptions{Width: 10, Height: 10})
			},
			"throughput": func(b *bytes.Buffer, o []history.Op) error { return ThroughputPNG(b, o, PlotOptions{}) },
		} {
			var buf bytes.Buffer
			if err := plot(&buf, ops); err != nil {
				t.Fatalf("%s %s: %v", name, kind, err)
			}
			img := decode(t, buf.Bytes())
			if img.Bounds().Dx() < minWidth || img.Bounds().Dy() < minHeight {
				t.Errorf("%s %s: size %v", name, kind, img.Bounds())
			}
			if name == "no faults" {
				for i := range faultPalette {
					if n := countIn(img, img.Bounds(), blendOver(colorBG, faultColor(i), faultAlpha)); n != 0 {
						t.Errorf("%s %s: %d shaded pixels", name, kind, n)
					}
				}
			}
		}
	}
}

// TestWriteSamples writes sample outputs for a human to look at, when
// REPORT_SAMPLE_DIR is set.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("REPORT_SAMPLE_DIR")
	if dir == "" {
		t.Skip("REPORT_SAMPLE_DIR not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ops := synthetic()
	write := func(name string, f func(*bytes.Buffer) error) {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opt := PlotOptions{Title: "register test (synthetic)"}
	write("latency.png", func(b *bytes.Buffer) error { return LatencyPNG(b, ops, opt) })
	write("throughput.png", func(b *bytes.Buffer) error { return ThroughputPNG(b, ops, opt) })
	write("timeline.html", func(b *bytes.Buffer) error {
		return TimelineHTML(b, ops, TimelineOptions{Title: "register test (synthetic) <timeline>"})
	})
	write("latency-tiny.png", func(b *bytes.Buffer) error {
		return LatencyPNG(b, ops, PlotOptions{Title: "tiny", Width: 1, Height: 1})
	})
	write("latency-empty.png", func(b *bytes.Buffer) error { return LatencyPNG(b, nil, PlotOptions{}) })
	write("throughput-small.png", func(b *bytes.Buffer) error {
		return ThroughputPNG(b, history.Client(ops), PlotOptions{Width: 600, Height: 300})
	})
}

// element is a parsed element of the timeline page.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parseXHTML parses the page strictly as XML (the timeline is written to
// be well-formed) and returns its elements in document order.
func parseXHTML(t *testing.T, page string) []element {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(page))
	dec.Strict = true
	var out []element
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			stack = append(stack, len(out))
			out = append(out, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].text += string(tok)
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements: %d", len(stack))
	}
	return out
}

func withClass(es []element, prefix string) []element {
	var out []element
	for _, e := range es {
		if strings.HasPrefix(e.attrs["class"], prefix) {
			out = append(out, e)
		}
	}
	return out
}

func TestTimelineHTML(t *testing.T) {
	ops := synthetic()
	var buf bytes.Buffer
	if err := TimelineHTML(&buf, ops, TimelineOptions{Title: "t <b>1</b>"}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	es := parseXHTML(t, page)
	ps := pairs(ops)
	boxes := withClass(es, "op ")
	if len(boxes) != len(ps) {
		t.Fatalf("%d op boxes for %d operations", len(boxes), len(ps))
	}
	var open int
	for i, p := range ps {
		b := boxes[i]
		want := "op " + string(outcome(p))
		if p.Complete == nil {
			want += " open"
			open++
		}
		if b.attrs["class"] != want {
			t.Fatalf("op %d: class %q, want %q", i, b.attrs["class"], want)
		}
		title := b.attrs["title"]
		if !strings.HasPrefix(title, p.Invoke.F+" "+p.Invoke.Key) || !strings.Contains(title, fmt.Sprintf("index %d", p.Invoke.Index)) ||
			!strings.Contains(title, "invoked at "+formatMS(p.Invoke.Time)+" ms") {
			t.Fatalf("op %d: title %q", i, title)
		}
		if c := p.Complete; c != nil {
			if !strings.Contains(title, fmt.Sprintf("-> %d", c.Index)) || !strings.Contains(title, "result: "+string(c.Type)) ||
				(c.Error != "" && !strings.Contains(title, "error: "+c.Error)) {
				t.Fatalf("op %d: title %q", i, title)
			}
		}
		if !strings.Contains(b.attrs["style"], "top:") || !strings.Contains(b.attrs["style"], "height:") {
			t.Fatalf("op %d: style %q", i, b.attrs["style"])
		}
	}
	if open != 1 {
		t.Errorf("%d never-completed ops, want 1", open)
	}
	// The hostile value is escaped in the markup and intact once parsed.
	if strings.Contains(page, "<script>") || strings.Contains(page, "<b>1") {
		t.Error("unescaped markup from the history or title in the page")
	}
	if !strings.Contains(page, "value: &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("escaped hostile value missing")
	}
	var hostile int
	for _, b := range boxes {
		if strings.Contains(b.attrs["title"], "value: <script>alert(1)</script>") {
			hostile++
		}
	}
	if hostile != 1 {
		t.Errorf("hostile value in %d titles, want 1", hostile)
	}
	// Nemesis: two fault windows in their lanes, five events, bands.
	if w := withClass(es, "win "); len(w) != 2 || w[0].attrs["class"] != "win f0" || w[1].attrs["class"] != "win f1" ||
		!strings.Contains(w[0].attrs["title"], "n1 n2 | n3 n4 n5") || w[0].text != "partition" {
		t.Errorf("windows: %+v", w)
	}
	if n := len(withClass(es, "nem")); n != 5 {
		t.Errorf("%d nemesis events, want 5", n)
	}
	if n := len(withClass(es, "band ")); n != 2 {
		t.Errorf("%d bands, want 2", n)
	}
	// One header column per process, in order, after the nemesis.
	head := withClass(es, "head")
	if len(head) != 1 {
		t.Fatal("no header")
	}
	var cols []string
	for _, e := range es {
		if strings.HasPrefix(e.text, "process ") || e.text == "nemesis" {
			cols = append(cols, e.text)
		}
	}
	if len(cols) < 6 || cols[0] != "nemesis" || cols[1] != "process 0" || cols[2] != "process 1" {
		t.Errorf("columns %v", cols)
	}
	if strings.Contains(page, "Truncated") {
		t.Error("truncation notice without truncation")
	}
}

func TestTimelineTruncates(t *testing.T) {
	ops := synthetic()
	var buf bytes.Buffer
	if err := TimelineHTML(&buf, ops, TimelineOptions{MaxOps: 10}); err != nil {
		t.Fatal(err)
	}
	es := parseXHTML(t, buf.String())
	if n := len(withClass(es, "op ")); n != 10 {
		t.Errorf("%d op boxes, want 10", n)
	}
	notice := withClass(es, "notice")
	want := fmt.Sprintf("showing the first 10 of %d operations", len(pairs(ops)))
	if len(notice) != 1 || !strings.Contains(notice[0].text, want) {
		t.Errorf("notice %+v, want %q", notice, want)
	}
	// Faults start after the shown operations: none drawn.
	if n := len(withClass(es, "win ")) + len(withClass(es, "nem")); n != 0 {
		t.Errorf("%d nemesis boxes beyond the shown time", n)
	}
}

func TestTimelineEmpty(t *testing.T) {
	for _, ops := range [][]history.Op{nil, history.Client(synthetic())[:0], {{Type: history.Info, Process: history.NemesisProcess, Time: 5, F: "start-kill"}}} {
		var buf bytes.Buffer
		if err := TimelineHTML(&buf, ops, TimelineOptions{}); err != nil {
			t.Fatal(err)
		}
		es := parseXHTML(t, buf.String())
		if len(withClass(es, "op ")) != 0 || len(withClass(es, "tl")) != 1 {
			t.Errorf("empty history: unexpected page %s", buf.String())
		}
	}
}
