package runner

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/jepsen/report"
	"github.com/troika-db/troika/jepsen/workload"
)

// finish writes the history, checks it and writes the results files.
func finish(res *Result, w workload.Workload, ops []history.Op, dir string, log *slog.Logger) error {
	f, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	err = history.Write(f, ops)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	res.Counts = counts(ops)
	check(res, w, ops, dir, log)
	writeArtefacts(ops, dir, res, log)
	if err := writeJSON(filepath.Join(dir, "results.json"), res); err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(Summary(res)), 0o644); err != nil {
		return fmt.Errorf("summary.txt: %w", err)
	}
	return nil
}

// check runs the workload's checker and the stats checker.
func check(res *Result, w workload.Workload, ops []history.Op, dir string, log *slog.Logger) {
	client := history.Client(ops)
	v, err := w.Check(client, dir)
	if err != nil {
		v = workload.Verdict{Checker: w.Name(), Valid: false, Unknown: true, Summary: "checker error: " + err.Error()}
	}
	res.Verdicts = []workload.Verdict{v, stats(client)}
	res.Valid = true
	for _, v := range res.Verdicts {
		res.Valid = res.Valid && v.Valid && !v.Unknown
	}
	log.Info("checked", "valid", res.Valid)
}

// stats fails a history with no successful operation at all: such a run
// proves nothing, whatever the checkers say.
func stats(ops []history.Op) workload.Verdict {
	byF := map[string][3]int{}
	for _, op := range ops {
		c := byF[op.F]
		switch op.Type {
		case history.OK:
			c[0]++
		case history.Fail:
			c[1]++
		case history.Info:
			c[2]++
		}
		byF[op.F] = c
	}
	fs := make([]string, 0, len(byF))
	ok := 0
	for f, c := range byF {
		fs = append(fs, f)
		ok += c[0]
	}
	sort.Strings(fs)
	var parts []string
	for _, f := range fs {
		c := byF[f]
		parts = append(parts, fmt.Sprintf("%s: %d ok, %d fail, %d info", f, c[0], c[1], c[2]))
	}
	v := workload.Verdict{Checker: "stats", Valid: ok > 0, Summary: strings.Join(parts, "; "), Result: byF}
	if ok == 0 {
		v.Anomalies = []string{"no-ok-operations"}
		v.Summary = "INVALID: no operation succeeded, the run proves nothing (" + v.Summary + ")"
	}
	return v
}

func counts(ops []history.Op) map[string]int {
	out := map[string]int{}
	for _, op := range ops {
		if op.Process == history.NemesisProcess {
			out["nemesis"]++
			continue
		}
		out[string(op.Type)]++
	}
	return out
}

// writeArtefacts renders the timeline and the plots; failures are logged,
// they do not change the verdict.
func writeArtefacts(ops []history.Op, dir string, res *Result, log *slog.Logger) {
	title := fmt.Sprintf("%s, nemesis %s, seed %d", res.Workload, orNone(res.Nemeses), res.Seed)
	files := []struct {
		name string
		fn   func(*os.File) error
	}{
		{"timeline.html", func(f *os.File) error { return report.TimelineHTML(f, ops, report.TimelineOptions{Title: title}) }},
		{"latency.png", func(f *os.File) error {
			return report.LatencyPNG(f, ops, report.PlotOptions{Title: title})
		}},
		{"throughput.png", func(f *os.File) error {
			return report.ThroughputPNG(f, ops, report.PlotOptions{Title: title})
		}},
	}
	for _, a := range files {
		f, err := os.Create(filepath.Join(dir, a.name))
		if err == nil {
			err = a.fn(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			log.Warn("could not write "+a.name, "err", err)
		}
	}
}

// Summary is the human-readable outcome of a run.
func Summary(res *Result) string {
	var b strings.Builder
	verdict := "VALID"
	if !res.Valid {
		verdict = "INVALID"
	}
	fmt.Fprintf(&b, "%s: workload %s, nemesis %s, %d nodes (%s), seed %d\n", verdict, res.Workload,
		orNone(res.Nemeses), res.Nodes, res.Backend, res.Seed)
	fmt.Fprintf(&b, "history: %d ok, %d fail, %d info, %d nemesis events\n", res.Counts["ok"], res.Counts["fail"], res.Counts["info"], res.Counts["nemesis"])
	for _, v := range res.Verdicts {
		state := "valid"
		switch {
		case v.Unknown:
			state = "UNKNOWN"
		case !v.Valid:
			state = "INVALID"
		}
		fmt.Fprintf(&b, "- %s: %s\n  %s\n", v.Checker, state, strings.ReplaceAll(v.Summary, "\n", "\n  "))
	}
	for _, e := range res.Errors {
		fmt.Fprintf(&b, "! %s\n", e)
	}
	fmt.Fprintf(&b, "results: %s\n", res.Dir)
	return b.String()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// Recheck reads a results folder's history and checks it again with the
// named workload's checker (e.g. after improving a checker). An empty
// workloadName takes the workload from the folder's results.json.
func Recheck(dir, workloadName string, log *slog.Logger) (*Result, error) {
	res := &Result{Dir: dir}
	if b, err := os.ReadFile(filepath.Join(dir, "results.json")); err == nil {
		if err := json.Unmarshal(b, res); err != nil {
			return nil, fmt.Errorf("results.json: %w", err)
		}
		res.Dir, res.Verdicts, res.Errors = dir, nil, nil
	}
	if workloadName == "" {
		workloadName = res.Workload
	}
	if workloadName == "" {
		return nil, fmt.Errorf("%s: no results.json to name the workload: give it", dir)
	}
	res.Workload = workloadName
	w, err := workload.New(workloadName, workload.Options{})
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ops, err := history.Read(f)
	if err != nil {
		return nil, err
	}
	res.Counts = counts(ops)
	check(res, w, ops, dir, log)
	return res, nil
}
