package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/troika-db/troika/jepsen/history"
)

// TimelineOptions configures TimelineHTML.
type TimelineOptions struct {
	// Title heads the page.
	Title string
	// MaxOps caps the client operations drawn (the first ones, in
	// invocation order); zero means DefaultMaxOps. The page says when
	// operations were left out.
	MaxOps int
}

// DefaultMaxOps is the default cap on the operations TimelineHTML draws.
const DefaultMaxOps = 20000

// Timeline geometry, in CSS pixels.
const (
	tlGutter   = 70  // time labels
	tlColW     = 110 // one process
	tlLaneW    = 40  // one fault kind in the nemesis column
	tlNemMinW  = 110
	tlTarget   = 16 // height of an operation of median latency
	tlMinH     = 600
	tlMaxH     = 60000
	tlMinOpH   = 2
	tlMaxField = 300 // characters of a value shown in a title
)

type tlBox struct {
	Class                    string
	Left, Top, Width, Height int
	Title, Label             string
}

type tlCol struct {
	Left, Width int
	Name        string
}

type tlTick struct {
	Top   int
	Label string
}

type tlKey struct{ Class, Label string }

type tlPage struct {
	Title, Summary, Notice string
	CSS                    template.CSS
	Width, Height          int
	Cols                   []tlCol
	Ticks                  []tlTick
	Bands, Windows, Events []tlBox
	Ops                    []tlBox
	Keys                   []tlKey
}

// TimelineHTML writes a self-contained HTML page (inline CSS, no scripts
// or external assets) showing the history as a timeline, like Jepsen's
// timeline.html: one column per client process, in process order, each
// operation a box from its invocation down to its completion (time runs
// down the page), coloured by outcome (class "op ok", "op fail" or
// "op info"; "op info open" when it never completed), with a hover title
// giving f, key, value or transaction, result, error, indexes and times
// in milliseconds. The first column shows the nemesis: fault windows (one
// lane per fault kind) and events; fault windows also shade the whole
// timeline. At most opt.MaxOps operations are drawn.
func TimelineHTML(w io.Writer, ops []history.Op, opt TimelineOptions) error {
	page := timelinePage(ops, opt)
	if err := timelineTmpl.Execute(w, page); err != nil {
		return fmt.Errorf("report: timeline: %w", err)
	}
	return nil
}

func timelinePage(ops []history.Op, opt TimelineOptions) *tlPage {
	maxOps := opt.MaxOps
	if maxOps <= 0 {
		maxOps = DefaultMaxOps
	}
	end := endTime(ops)
	ps := pairs(ops)
	total := len(ps)
	var counts [4]int // ok, fail, info, never completed
	for _, p := range ps {
		switch {
		case p.Complete == nil:
			counts[3]++
		case p.Complete.Type == history.OK:
			counts[0]++
		case p.Complete.Type == history.Fail:
			counts[1]++
		default:
			counts[2]++
		}
	}
	page := &tlPage{Title: opt.Title}
	if page.Title == "" {
		page.Title = "timeline"
	}
	shownEnd := end
	if len(ps) > maxOps {
		ps = ps[:maxOps]
		shownEnd = 0
		for _, p := range ps {
			shownEnd = max(shownEnd, p.Invoke.Time)
			if p.Complete != nil {
				shownEnd = max(shownEnd, p.Complete.Time)
			}
		}
		page.Notice = fmt.Sprintf("Truncated: showing the first %d of %d operations (up to %s ms).", len(ps), total, formatMS(shownEnd))
	}

	// Vertical scale: an operation of median latency is tlTarget pixels
	// tall, within the page height limits.
	var lats []int64
	for _, p := range ps {
		if p.Complete != nil {
			lats = append(lats, p.Complete.Time-p.Invoke.Time)
		}
	}
	scale := 0.0 // pixels per nanosecond
	if shownEnd > 0 {
		scale = float64(tlMinH) / float64(shownEnd)
		if len(lats) > 0 {
			slices.Sort(lats)
			scale = tlTarget / float64(max(lats[len(lats)/2], 1))
		}
		scale = math.Min(math.Max(scale, tlMinH/float64(shownEnd)), tlMaxH/float64(shownEnd))
	}
	y := func(t int64) int { return int(math.Round(float64(min(t, shownEnd)) * scale)) }
	page.Height = max(y(shownEnd), tlMinH/2) + 20

	// Columns: time gutter, nemesis lanes, then processes in order.
	windows := history.Windows(ops, end)
	kinds, kIndex := faultKinds(windows)
	nemW := max(tlNemMinW, len(kinds)*tlLaneW)
	page.Cols = append(page.Cols, tlCol{Left: tlGutter, Width: nemW, Name: "nemesis"})
	var procs []int
	seen := map[int]bool{}
	for _, p := range ps {
		if !seen[p.Invoke.Process] {
			seen[p.Invoke.Process] = true
			procs = append(procs, p.Invoke.Process)
		}
	}
	sort.Ints(procs)
	colOf := map[int]int{}
	for i, pr := range procs {
		left := tlGutter + nemW + i*tlColW
		colOf[pr] = left
		page.Cols = append(page.Cols, tlCol{Left: left, Width: tlColW, Name: "process " + strconv.Itoa(pr)})
	}
	page.Width = tlGutter + nemW + len(procs)*tlColW

	// Time ticks about every 100 pixels.
	if shownEnd > 0 {
		step := niceStep(float64(shownEnd)/1e9, max(page.Height/100, 2))
		for v := 0.0; v*1e9 <= float64(shownEnd); v += step {
			page.Ticks = append(page.Ticks, tlTick{Top: y(int64(v * 1e9)), Label: formatTick(v, step) + " s"})
		}
	}

	// Fault windows: a band across the timeline, and a box in the
	// fault's lane of the nemesis column.
	laneW := nemW / max(len(kinds), 1)
	for _, win := range windows {
		if win.Start > shownEnd {
			continue
		}
		k := kIndex[win.Fault]
		top, h := y(win.Start), max(y(win.End)-y(win.Start), tlMinOpH)
		class := "f" + strconv.Itoa(k%len(faultPalette))
		page.Bands = append(page.Bands, tlBox{Class: "band " + class, Left: tlGutter, Top: top, Width: page.Width - tlGutter, Height: h})
		title := fmt.Sprintf("%s\n%s\nfrom %s ms to %s ms (%s ms)", win.Fault, clip(win.Desc), formatMS(win.Start), formatMS(win.End), formatMS(win.End-win.Start))
		page.Windows = append(page.Windows, tlBox{Class: "win " + class, Left: tlGutter + k*laneW + 2, Top: top, Width: laneW - 4, Height: h, Title: title, Label: win.Fault})
	}
	for _, op := range ops {
		if op.Process != history.NemesisProcess || op.Time > shownEnd {
			continue
		}
		left, width := tlGutter, nemW
		fault := strings.TrimPrefix(strings.TrimPrefix(op.F, "start-"), "stop-")
		if k, ok := kIndex[fault]; ok {
			left, width = tlGutter+k*laneW, laneW
		}
		title := fmt.Sprintf("%s\n%s", op.F, clip(formatValue(op.Value)))
		if op.Error != "" {
			title += "\nerror: " + clip(op.Error)
		}
		title += fmt.Sprintf("\nindex %d at %s ms", op.Index, formatMS(op.Time))
		page.Events = append(page.Events, tlBox{Class: "nem", Left: left, Top: y(op.Time), Width: width, Height: 3, Title: title})
	}

	for _, p := range ps {
		fin := finish(p, shownEnd)
		class := "op " + string(outcome(p))
		if p.Complete == nil {
			class += " open"
		}
		top := y(p.Invoke.Time)
		page.Ops = append(page.Ops, tlBox{
			Class: class, Left: colOf[p.Invoke.Process] + 4, Top: top, Width: tlColW - 8,
			Height: max(y(fin)-top, tlMinOpH), Title: opTitle(p, end), Label: opLabel(p),
		})
	}

	page.Summary = fmt.Sprintf("%d client operations (%d ok, %d fail, %d info, %d never completed) by %d processes; %d fault windows; %s s.",
		total, counts[0], counts[1], counts[2], counts[3], len(procs), len(windows), formatTick(float64(end)/1e9, 0.001))
	page.Keys = []tlKey{{"ok", "ok"}, {"fail", "fail"}, {"info", "info"}, {"info open", "never completed"}}
	for i, k := range kinds {
		page.Keys = append(page.Keys, tlKey{"f" + strconv.Itoa(i%len(faultPalette)), k})
	}
	page.CSS = timelineCSS()
	return page
}

// opTitle describes an operation for its hover title.
func opTitle(p history.Pair, end int64) string {
	inv, c := p.Invoke, p.Complete
	var b strings.Builder
	b.WriteString(inv.F)
	if inv.Key != "" {
		b.WriteString(" " + inv.Key)
	}
	if inv.Value != nil {
		b.WriteString("\nvalue: " + clip(formatValue(inv.Value)))
	}
	if len(inv.Txn) > 0 {
		b.WriteString("\ntxn: " + clip(formatTxn(inv.Txn)))
	}
	if c == nil {
		fmt.Fprintf(&b, "\nresult: never completed (unknown)\nindex %d, process %d\ninvoked at %s ms, still open at the end (%s ms)",
			inv.Index, inv.Process, formatMS(inv.Time), formatMS(end))
		return b.String()
	}
	b.WriteString("\nresult: " + string(c.Type))
	if c.Value != nil && formatValue(c.Value) != formatValue(inv.Value) {
		b.WriteString("\nresult value: " + clip(formatValue(c.Value)))
	}
	if len(c.Txn) > 0 && formatTxn(c.Txn) != formatTxn(inv.Txn) {
		b.WriteString("\nresult txn: " + clip(formatTxn(c.Txn)))
	}
	if c.Error != "" {
		b.WriteString("\nerror: " + clip(c.Error))
	}
	fmt.Fprintf(&b, "\nindex %d -> %d, process %d\ninvoked at %s ms, completed at %s ms (latency %s ms)",
		inv.Index, c.Index, inv.Process, formatMS(inv.Time), formatMS(c.Time), formatMS(c.Time-inv.Time))
	return b.String()
}

// opLabel is the short text inside an operation's box.
func opLabel(p history.Pair) string {
	src := p.Invoke
	if p.Complete != nil && (p.Complete.Value != nil || len(p.Complete.Txn) > 0) {
		src = *p.Complete
	}
	s := src.F
	if src.Key != "" {
		s += " " + src.Key
	}
	if src.Value != nil {
		s += " " + formatValue(src.Value)
	}
	if len(src.Txn) > 0 {
		s = formatTxn(src.Txn)
	}
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40])
	}
	return s
}

func formatValue(v any) string {
	if v == nil {
		return "nil"
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// formatTxn prints a transaction as [f key value] micro-ops.
func formatTxn(txn []history.MicroOp) string {
	parts := make([]string, len(txn))
	for i, m := range txn {
		switch {
		case m.F == "append":
			parts[i] = fmt.Sprintf("[append %s %d]", m.Key, m.Elem)
		case m.Value == nil:
			parts[i] = fmt.Sprintf("[%s %s nil]", m.F, m.Key)
		default:
			parts[i] = fmt.Sprintf("[%s %s %v]", m.F, m.Key, m.Value)
		}
	}
	return strings.Join(parts, " ")
}

// clip shortens s to tlMaxField characters.
func clip(s string) string {
	if r := []rune(s); len(r) > tlMaxField {
		return string(r[:tlMaxField]) + "..."
	}
	return s
}

func hexColor(c interface{ RGBA() (r, g, b, a uint32) }) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}

// timelineCSS is the page's style sheet. It is built from constants
// only (never from the history), so it is trusted as CSS; it avoids '<'
// and '&' so that the page also parses as XML.
func timelineCSS() template.CSS {
	var b strings.Builder
	b.WriteString(`body{font:12px/1.3 sans-serif;margin:8px;color:#222}
h1{font-size:18px;margin:4px 0}
p{margin:4px 0}
.notice{background:#fff3cd;border:1px solid #d9b44a;padding:4px 8px;display:inline-block}
.keys span{display:inline-block;padding:1px 8px;margin-right:6px;border:1px solid rgba(0,0,0,.3);border-radius:2px}
.head{position:sticky;top:0;background:#fff;height:22px;border-bottom:1px solid #999;z-index:5}
.head div{position:absolute;top:4px;font-weight:bold;text-align:center;overflow:hidden;white-space:nowrap}
.tl{position:relative;margin-top:4px}
.tick{position:absolute;left:0;border-top:1px solid #e4e4e4;color:#666;font-size:10px;z-index:0}
.band{position:absolute;opacity:.12;pointer-events:none;z-index:1}
.win{position:absolute;opacity:.55;z-index:2;overflow:hidden;font-size:10px;color:#fff;text-align:center;border-radius:2px}
.nem{position:absolute;background:#222;z-index:3}
.op{position:absolute;box-sizing:border-box;border:1px solid rgba(0,0,0,.35);border-radius:2px;overflow:hidden;font-size:10px;line-height:11px;white-space:nowrap;padding:0 2px;z-index:2}
.op:hover,.nem:hover,.win:hover{outline:2px solid #000;z-index:6}
.open{border-style:dashed}
`)
	fmt.Fprintf(&b, ".ok{background:%s}\n.fail{background:%s}\n.info{background:%s}\n",
		hexColor(blendOver(colorBG, colorOK, 150)), hexColor(blendOver(colorBG, colorFail, 130)), hexColor(blendOver(colorBG, colorInfo, 150)))
	for i, c := range faultPalette {
		fmt.Fprintf(&b, ".f%d{background:%s}\n", i, hexColor(c))
	}
	return template.CSS(b.String())
}

var timelineTmpl = template.Must(template.New("timeline").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>{{.Title}}</title>
<style>
{{.CSS}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Summary}} Time runs down the page; hover over an operation for details.</p>
{{if .Notice}}<p class="notice">{{.Notice}}</p>
{{end}}<p class="keys">{{range .Keys}}<span class="{{.Class}}">{{.Label}}</span>{{end}}</p>
<div class="head" style="width:{{.Width}}px">
{{range .Cols}}<div style="left:{{.Left}}px;width:{{.Width}}px">{{.Name}}</div>
{{end}}</div>
<div class="tl" style="width:{{.Width}}px;height:{{.Height}}px">
{{range .Ticks}}<div class="tick" style="top:{{.Top}}px;width:{{$.Width}}px">{{.Label}}</div>
{{end}}{{range .Bands}}<div class="{{.Class}}" style="left:{{.Left}}px;top:{{.Top}}px;width:{{.Width}}px;height:{{.Height}}px"></div>
{{end}}{{range .Windows}}<div class="{{.Class}}" style="left:{{.Left}}px;top:{{.Top}}px;width:{{.Width}}px;height:{{.Height}}px" title="{{.Title}}">{{.Label}}</div>
{{end}}{{range .Events}}<div class="{{.Class}}" style="left:{{.Left}}px;top:{{.Top}}px;width:{{.Width}}px;height:{{.Height}}px" title="{{.Title}}"></div>
{{end}}{{range .Ops}}<div class="{{.Class}}" style="left:{{.Left}}px;top:{{.Top}}px;width:{{.Width}}px;height:{{.Height}}px" title="{{.Title}}">{{.Label}}</div>
{{end}}</div>
</body>
</html>
`))
