package report_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.md from this run")

// syntheticRecord is one completed request with a fixed timing: its first
// token ttft after it was sent, then one token every gap.
func syntheticRecord(i int, sent, ttft, gap time.Duration, tokens int) loadgen.Record {
	r := loadgen.Record{Index: i, Sent: sent, MaxTokens: tokens, OutputTokens: tokens, PromptTokens: 20,
		TokenSource: loadgen.TokensFromUsage, ITLSource: loadgen.ITLOnePerEvent, Clock: "kernel", TTFB: ttft / 2}
	for k := range tokens {
		r.Events = append(r.Events, loadgen.Event{At: ttft + time.Duration(k)*gap, Tokens: 1, Bytes: 4, Lag: 50 * time.Microsecond})
	}
	r.TTFT, r.E2E = r.Events[0].At, r.Events[tokens-1].At
	r.End = r.E2E + time.Millisecond
	return r
}

// TestReportGolden renders report.md from a results folder whose every
// number is fixed (two engines, two concurrencies, one failed request)
// and compares it with testdata/report.golden.md, byte for byte: a change
// to the report's text, its tables or its flags shows in the diff. Run
// `go test ./report -run Golden -update` to accept a change, and review
// the golden file's diff.
func TestReportGolden(t *testing.T) {
	dir := t.TempDir()
	run := resultsdir.Run{
		Start: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), Model: "golden-model", Host: "golden-host",
		GOOS: "linux", GOARCH: "amd64", CPUs: 2, GoVersion: "go1.26", GitRevision: "0123abc",
		SLO:     loadgen.SLO{TTFT: 250 * time.Millisecond, TPOT: 30 * time.Millisecond},
		Config:  []config.Line{{Key: "infbench-api", Value: "chat"}, {Key: "clock", Value: "kernel"}},
		Engines: []resultsdir.Engine{{Name: "fast", Kind: "sim", Model: "golden-model"}, {Name: "slow", Kind: "sim", Model: "golden-model"}},
	}
	w, err := resultsdir.Create(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		name      string
		ttft, gap time.Duration
	}{{"fast", 100 * time.Millisecond, 10 * time.Millisecond}, {"slow", 200 * time.Millisecond, 25 * time.Millisecond}} {
		for _, conc := range []int{1, 4} {
			key := resultsdir.Key{Cell: fmt.Sprintf("engine=%s/conc=%d/workload=short", e.name, conc),
				Engine: e.name, Conc: conc, Workload: "short"}
			sink := w.Sink(key)
			var recs []loadgen.Record
			for i := range 8 * conc {
				slot, round := i%conc, i/conc
				per := e.ttft + 15*e.gap + time.Millisecond
				// Each slot sends its next request when the last ends;
				// more in flight makes every token a little slower.
				r := syntheticRecord(i, time.Duration(round)*per+time.Duration(slot)*time.Millisecond,
					e.ttft*time.Duration(conc+3)/4, e.gap*time.Duration(conc+7)/8, 16)
				r.Warmup = i < conc
				if e.name == "slow" && conc == 4 && i == 9 {
					r = loadgen.Record{Index: i, Sent: r.Sent, End: time.Second, MaxTokens: 16, ErrorKind: loadgen.KindStall, Error: "no event for 1s (stall timeout)"}
				}
				sink(r)
				recs = append(recs, r)
			}
			if err := w.AddSummary(key, loadgen.Summarize(recs, run.SLO)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := report.Rebuild(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with go test ./report -run Golden -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("report.md differs from %s (go test ./report -run Golden -update accepts it):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}
