package report_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// TestRebuildReproducesSummary measures a real simulator run into a
// results folder, keeps the summary.json the run wrote, recomputes it from
// requests.jsonl with report.Rebuild, and compares the two field by field:
// counts, durations and strings exactly, floats within a relative 1e-12.
//
// Why they agree: every request's record is in requests.jsonl with its
// times as integer nanoseconds (exact in JSON); Rebuild groups them by
// cell and repetition, sorts them by index as RunCell hands them to
// loadgen.Summarize, and summarises them with the SLO from run.json.
// Summarize sorts each sample before summing it, so the sums run in the
// same order, and encoding/json writes the shortest decimal that reads
// back as the same float64. The floats come out bit for bit equal (the
// test logs the largest difference seen); the tolerance only keeps the
// test about reproduction rather than about summation order.
func TestRebuildReproducesSummary(t *testing.T) {
	dir := simRun(t, []simEngine{{"fast", 2 * time.Millisecond}, {"slow", 4 * time.Millisecond}}, []int{1, 4})
	before, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Cells) != 6 {
		t.Fatalf("the run wrote %d cell summaries, want 6 (2 engines × 2 levels, first level twice)", len(before.Cells))
	}
	if err := report.Rebuild(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	after, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Cells) != len(before.Cells) {
		t.Fatalf("rebuilt summary.json holds %d cells, want %d", len(after.Cells), len(before.Cells))
	}
	var maxRel float64
	for i := range before.Cells {
		b, a := before.Cells[i], after.Cells[i]
		if a.Key != b.Key {
			t.Errorf("cell %d: key %+v, want %+v", i, a.Key, b.Key)
			continue
		}
		if b.Summary.Completed == 0 || b.Summary.TTFT.N == 0 {
			t.Fatalf("cell %s rep %d measured nothing", b.Cell, b.Rep)
		}
		name := fmt.Sprintf("%s rep %d: Summary", b.Cell, b.Rep)
		for _, d := range diff(name, reflect.ValueOf(b.Summary), reflect.ValueOf(a.Summary), &maxRel) {
			t.Error(d)
		}
	}
	t.Logf("largest relative difference of a float: %g", maxRel)
}

// diff compares two values field by field: float64 within a relative
// 1e-12 (recording the largest difference in maxRel), everything else
// exactly.
func diff(path string, want, got reflect.Value, maxRel *float64) []string {
	switch want.Kind() {
	case reflect.Struct:
		var out []string
		for i := range want.NumField() {
			f := want.Type().Field(i)
			out = append(out, diff(path+"."+f.Name, want.Field(i), got.Field(i), maxRel)...)
		}
		return out
	case reflect.Float64:
		w, g := want.Float(), got.Float()
		if math.IsNaN(w) && math.IsNaN(g) || w == g {
			return nil
		}
		rel := math.Abs(w-g) / math.Max(math.Abs(w), math.Abs(g))
		*maxRel = math.Max(*maxRel, rel)
		if rel > 1e-12 {
			return []string{fmt.Sprintf("%s = %v, want %v (relative difference %g)", path, g, w, rel)}
		}
		return nil
	}
	if !reflect.DeepEqual(want.Interface(), got.Interface()) {
		return []string{fmt.Sprintf("%s = %v, want %v", path, got.Interface(), want.Interface())}
	}
	return nil
}

func TestRenderWritesChartsAndReport(t *testing.T) {
	dir := simRun(t, []simEngine{{"fast", 2 * time.Millisecond}, {"slow", 4 * time.Millisecond}}, []int{1, 4})
	img := filepath.Join(t.TempDir(), "img")
	if err := report.Render(t.Context(), dir, report.WithImageDir(img)); err != nil {
		t.Fatal(err)
	}
	charts := []string{"throughput-short", "ttft-short", "tpot-short", "tradeoff-short",
		"goodput-short", "e2e-short", "itl-short", "cdf-ttft-short", "cdf-e2e-short"}
	for _, c := range charts {
		for _, ext := range []string{".png", ".svg"} {
			fi, err := os.Stat(filepath.Join(dir, c+ext))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() < 1000 || ext == ".png" && fi.Size() > 100<<10 {
				t.Errorf("%s%s is %d bytes: want a real chart under 100 KB", c, ext, fi.Size())
			}
		}
		if _, err := os.Stat(filepath.Join(img, c+".png")); err != nil {
			t.Errorf("WithImageDir: %v", err)
		}
		svg, err := os.ReadFile(filepath.Join(dir, c+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		// The palette follows run.json's engine order in every chart.
		for _, colour := range []string{"#0072B2", "#D55E00"} {
			if !strings.Contains(string(svg), colour) {
				t.Errorf("%s.svg does not draw in %s: engine colours not consistent", c, colour)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gpu-memory.png")); !os.IsNotExist(err) {
		t.Errorf("gpu-memory.png without telemetry: %v", err)
	}

	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| model | sim-model |",
		"| engine-slow-step | 4ms |",
		"| SLO | TTFT ≤ 1s, TPOT ≤ 50ms |",
		"## workload=short",
		"| conc | fast tok/s | fast TTFT p50 / p99 | fast TPOT p50 / p99 | fast err % | slow tok/s |",
		"median over the cell's repetitions",
		"- engine=fast conc=1: rep 1: few requests for the tail",
		"- engine=slow conc=4: few requests for the tail",
		"](throughput-short.png)", "](ttft-short.png)", "](tpot-short.png)", "](tradeoff-short.png)",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// Two tables, each with a row per level: 4 columns per engine, then
	// 3 (goodput, E2E, ITL); every cell filled.
	var widths []int
	for _, l := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(l, "| 1 |") || strings.HasPrefix(l, "| 4 |") {
			widths = append(widths, (strings.Count(l, "|")-2)/2)
			if strings.Contains(l, "–") {
				t.Errorf("table row %q has an empty cell", l)
			}
		}
	}
	if want := []int{4, 4, 3, 3}; !slices.Equal(widths, want) {
		t.Errorf("table rows for conc 1 and 4 have %v columns per engine, want %v\n%s", widths, want, md)
	}
	if t.Failed() {
		t.Logf("report.md:\n%s", md)
	}
}

func TestGPUTelemetryCharts(t *testing.T) {
	dir := simRun(t, []simEngine{{"fast", 2 * time.Millisecond}}, []int{2})
	run, err := resultsdir.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gpumem, short strings.Builder
	for i := range 20 {
		// As gpumem.Sample writes it: offset_ns, wall-clock time, used_B, power_W.
		at := run.Start.Add(time.Duration(i) * 100 * time.Millisecond)
		fmt.Fprintf(&gpumem, `{"offset_ns":%d,"time":%q,"used_B":%d,"power_W":%g}`+"\n",
			i*100_000_000, at.Format(time.RFC3339Nano), int64(60+i)<<30, 300+5*float64(i))
		// The short form: t_s, mem_used_bytes, power_w.
		fmt.Fprintf(&short, `{"t_s":%g,"mem_used_bytes":%d,"power_w":%g}`+"\n", float64(i)/10, int64(40)<<30, 250.0)
	}
	gpumem.WriteString(`{"offset_ns":2000000000,"time":"20`) // cut short by a kill
	for name, content := range map[string]string{"gpu-fast.jsonl": gpumem.String(), "gpu-other.jsonl": short.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := report.Render(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"gpu-memory", "gpu-power"} {
		svg, err := os.ReadFile(filepath.Join(dir, c+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		// fast is run.json's first engine; other, not in run.json, comes next.
		for _, colour := range []string{"#0072B2", "#D55E00"} {
			if !strings.Contains(string(svg), colour) {
				t.Errorf("%s.svg lacks the line in %s", c, colour)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "## GPU") || !strings.Contains(string(md), "](gpu-power.png)") {
		t.Errorf("report.md has no GPU section:\n%s", md)
	}

	if err := os.WriteFile(filepath.Join(dir, "gpu-bad.jsonl"), []byte("{oops\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := report.Render(t.Context(), dir); err == nil || !strings.Contains(err.Error(), "gpu-bad.jsonl:1") {
		t.Errorf("a damaged telemetry line: err = %v, want one naming gpu-bad.jsonl:1", err)
	}
}

// TestRebuildKilledRun recomputes a folder whose last cell was cut off
// before its summary was written, with a half-written last request line.
func TestRebuildKilledRun(t *testing.T) {
	dir := simRun(t, []simEngine{{"fast", 2 * time.Millisecond}}, []int{1, 4})
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	last := sums.Cells[len(sums.Cells)-1]
	// Forget the last cell's summary, as if the process died before it.
	sums.Cells = sums.Cells[:len(sums.Cells)-1]
	if err := resultsdir.WriteJSON(filepath.Join(dir, resultsdir.SummaryFile), sums); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, resultsdir.RequestsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"cell":"engine=fast/conc=4/workload=short","engine":"fa`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var log strings.Builder
	if err := report.Rebuild(t.Context(), dir, report.WithLog(&log)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "cut short") {
		t.Errorf("no warning about the cut-short line; log: %q", log.String())
	}
	got, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cells) != len(sums.Cells)+1 {
		t.Fatalf("rebuilt %d cells, want %d", len(got.Cells), len(sums.Cells)+1)
	}
	g := got.Cells[len(got.Cells)-1]
	if g.Key != last.Key || g.Summary.Completed != last.Summary.Completed || g.Summary.OutputTokPerSec != last.Summary.OutputTokPerSec {
		t.Errorf("recovered cell %+v: %d completed, %v tok/s; want %+v: %d, %v", g.Key, g.Summary.Completed,
			g.Summary.OutputTokPerSec, last.Key, last.Summary.Completed, last.Summary.OutputTokPerSec)
	}
}
