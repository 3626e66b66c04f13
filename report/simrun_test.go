package report_test

import (
	"testing"
	"time"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// simEngine is a simulated engine on loopback with its own timing, so
// that two engines differ measurably.
type simEngine struct {
	name string
	step time.Duration
}

// simRun measures a small matrix on simulated engines into a new results
// folder the way BenchmarkServe does (cell.Run with the Writer's
// sink, then AddSummary), repeating the first cell twice as -count does,
// and returns the folder.
func simRun(t *testing.T, engines []simEngine, concs []int) string {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	slo := loadgen.SLO{TTFT: time.Second, TPOT: 50 * time.Millisecond}
	run := resultsdir.Run{Start: time.Now(), SLO: slo, Model: "sim-model",
		Config: []config.Line{{Key: "infbench-api", Value: "chat"}}}
	run.FillHost(ctx)
	for _, e := range engines {
		run.Engines = append(run.Engines, resultsdir.Engine{Name: e.name, Kind: "sim", Model: "sim-model"})
	}
	w, err := resultsdir.Create(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	salts := cell.NewSalter(7)
	for _, e := range engines {
		url := simtest.Start(t, sim.Config{Model: "sim-model", MaxBatch: 8,
			Timing: sim.Linear{Base: e.step, PerSeq: e.step / 10}})
		if err := w.SetEngine(resultsdir.Engine{Name: e.name, Kind: "sim", Model: "sim-model",
			Info: []config.Line{{Key: "engine-" + e.name + "-step", Value: e.step.String()}}}); err != nil {
			t.Fatal(err)
		}
		for ci, conc := range concs {
			client := simtest.Client(t, url, "sim-model", conc)
			cl := cell.Cell{Engine: e.name, Concurrency: conc, Workload: "short",
				Prompts: []string{"Name a colour.", "Count to three."}, MaxTokens: 8,
				Requests: 3 * conc, Warmup: conc, SLO: slo, Seed: 7}
			reps := 1
			if ci == 0 {
				reps = 2
			}
			for range reps {
				recordCell(t, w, client, cl, salts)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// recordCell runs one cell as BenchmarkServe does: each request to
// requests.jsonl through the Writer's sink, then the summary.
func recordCell(t *testing.T, w *resultsdir.Writer, d loadgen.Doer, cl cell.Cell, salts *cell.Salter) {
	t.Helper()
	if _, _, err := simtest.Record(t.Context(), t, w, d, cl, salts, nil); err != nil {
		t.Fatal(err)
	}
}
