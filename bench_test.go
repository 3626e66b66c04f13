package infbench_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/engines"
)

const (
	runFile     = "testdata/engines.yaml"
	promptsFile = "testdata/prompts.yaml"
)

// testStart approximates when the test binary's -timeout alarm started
// (m.Run starts it, after this is set): set once, never changed.
var testStart = time.Now()

// TestMain checks the flags and the -bench pattern before any engine
// starts, prints the run's configuration lines before any benchmark line,
// and decides the exit status from what was measured: see infbench.Main.
func TestMain(m *testing.M) {
	os.Exit(infbench.Main(m, runFile, promptsFile, os.Getenv, os.Stdout))
}

// BenchmarkServe runs the matrix engine × concurrency × prompt category,
// then engine × request rate × prompt category for the open-loop rates
// (none by default), then, with sweep: on, a capacity search per
// workload (engine=E/sweep=slo/workload=W, infbench.Engine.Sweep). Each engine starts once, here in the parent, and
// stops before the next one starts, so only one engine holds the GPU at a
// time; every leaf is one cell (infbench.Engine.Measure), repeated by
// -count back to back on the same engine.
func BenchmarkServe(b *testing.B) {
	s, err := infbench.Load(runFile, promptsFile, os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	if len(s.Engines()) == 0 {
		b.Skipf("no engine of this build in %s (container engines need -tags=gpu; INFBENCH_TARGET benchmarks a running server)", runFile)
	}
	progress := infbench.OpenProgress(infbench.Chatty())
	b.Cleanup(progress.Close)
	run, err := infbench.OpenRun(b.Context(), s, progress, os.Stdout, engines.GPUBuild)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		// b.Context is done by now; rendering takes a second or two.
		if err := run.Close(context.WithoutCancel(b.Context())); err != nil {
			b.Error(err)
		}
	})
	for _, e := range s.Engines() {
		b.Run("engine="+e.Name, func(b *testing.B) {
			x, err := run.StartEngine(b.Context(), e, infbench.Deadline(testStart))
			if x != nil {
				b.Cleanup(func() {
					if err := x.Stop(context.WithoutCancel(b.Context())); err != nil {
						b.Error(err)
					}
				})
			}
			if errors.Is(err, engines.ErrSkip) {
				b.Skip(err)
			}
			if err != nil {
				b.Fatal(err)
			}
			for _, level := range s.Matrix(e.Name) {
				b.Run(level.Name, func(b *testing.B) {
					for _, c := range level.Cells {
						b.Run("workload="+c.Workload, func(b *testing.B) {
							if b.N != 1 {
								// Main refuses any -benchtime but 1x; a cell
								// sizes itself, and repeating it inside one
								// result would pool runs with separate clocks.
								b.Fatalf("-benchtime gave b.N = %d: run with -benchtime=1x (the default here) and use -count=N for repeated samples", b.N)
							}
							res, err := x.Measure(b.Context(), b, c)
							if err != nil {
								b.Fatal(err)
							}
							b.ReportMetric(0, "ns/op")
							for _, m := range res.Metrics {
								b.ReportMetric(m.Value, m.Unit)
							}
						})
					}
				})
			}
			if !s.Run.Sweep.Enabled {
				return
			}
			// The capacity searches (sweep: in engines.yaml), after the
			// matrix: each leaf runs one whole search per repetition.
			b.Run(infbench.SweepLevel, func(b *testing.B) {
				for _, w := range s.SweepWorkloads() {
					b.Run("workload="+w, func(b *testing.B) {
						if b.N != 1 {
							b.Fatalf("-benchtime gave b.N = %d: run with -benchtime=1x (the default here) and use -count=N for repeated samples", b.N)
						}
						res, err := x.Sweep(b.Context(), b, w)
						if err != nil {
							b.Fatal(err)
						}
						b.ReportMetric(0, "ns/op")
						for _, m := range res.Metrics {
							b.ReportMetric(m.Value, m.Unit)
						}
					})
				}
			})
		})
	}
}
