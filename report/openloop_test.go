package report_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// Open-loop cells stay out of the concurrency tables and charts and get
// their own table and chart; a rebuild keeps their held-back flag.
func TestOpenLoopSection(t *testing.T) {
	dir := t.TempDir()
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: 2 * time.Millisecond}})
	w, err := resultsdir.Create(dir, resultsdir.Run{Start: time.Now(), Engines: []resultsdir.Engine{{Name: "sim", Kind: "sim", Model: "m"}}})
	if err != nil {
		t.Fatal(err)
	}
	salts := cell.NewSalter(3)
	for _, cl := range []cell.Cell{
		{Engine: "sim", Concurrency: 2, Workload: "short", Prompts: []string{"A"}, MaxTokens: 4, Requests: 8, Warmup: 2},
		{Engine: "sim", Rate: 20, MaxInFlight: 64, Workload: "short", Prompts: []string{"A"}, MaxTokens: 4, Requests: 10, Warmup: 2},
		// One slot at 400 requests/s against ~10 ms requests: held back.
		{Engine: "sim", Rate: 400, MaxInFlight: 1, Workload: "short", Prompts: []string{"A"}, MaxTokens: 4, Requests: 30, Warmup: 1},
	} {
		recordCell(t, w, simtest.Client(t, url, "m", cl.Conns()), cl, salts)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := report.Rebuild(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	for _, want := range []string{"### Open loop", "| sim | 20 |", "| sim | 400 |", "the load was held back", "](load-ttft-short.png)", "](load-goodput-short.png)", "| 2 |"} {
		if !strings.Contains(text, want) {
			t.Errorf("report.md lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "| 0 |") {
		t.Errorf("an open-loop cell leaked into the concurrency table as conc 0:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(dir, "load-ttft-short.png")); err != nil {
		t.Error(err)
	}
}
