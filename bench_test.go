package infbench_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/gpumem"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

const (
	runFile     = "testdata/engines.yaml"
	promptsFile = "testdata/prompts.yaml"
)

// TestMain checks the flags and the -bench pattern before any engine
// starts, prints the run's configuration lines before any benchmark line,
// and decides the exit status from what was measured: see benchMain.
func TestMain(m *testing.M) {
	os.Exit(benchMain(m, os.Getenv, os.Stdout))
}

// BenchmarkServe runs the matrix engine × concurrency × prompt category,
// then engine × request rate × prompt category for the open-loop rates
// (none by default).
// Each engine starts once, here in the parent, and stops before the next
// one starts, so only one engine holds the GPU at a time.
func BenchmarkServe(b *testing.B) {
	s, err := infbench.Load(runFile, promptsFile, os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	list := s.Engines()
	if len(list) == 0 {
		b.Skipf("no engine of this build in %s (container engines need -tags=gpu; INFBENCH_TARGET benchmarks a running server)", runFile)
	}
	out := openProgress()
	b.Cleanup(out.close)
	r := &benchRun{s: s, salts: cell.NewSalter(s.Seed), out: out}
	r.rw = openResults(b, s, list, out.w0())
	r.gpu = benchTelemetry(b, engines.GPUBuild, r.rw, out.w0())
	for _, e := range list {
		b.Run("engine="+e.Name, func(b *testing.B) {
			benchEngine(b, r, e)
		})
	}
}

// benchRun is what every cell of one BenchmarkServe run shares.
type benchRun struct {
	s     *infbench.Suite
	salts *cell.Salter
	rw    *resultsdir.Writer
	gpu   *gpumem.GPU // nil without GPU telemetry
	out   progress
}

func benchEngine(b *testing.B, r *benchRun, e config.Engine) {
	ctx, s, rw, gpu := b.Context(), r.s, r.rw, r.gpu
	eng, err := engines.New(e, s.Run,
		engines.WithAPIKey(os.Getenv(config.EnvAPIKey)),
		engines.WithLogDir(rw.Dir()),
		engines.WithDeadline(testDeadline()),
		engines.WithWorkload(s.Workload()))
	if errors.Is(err, engines.ErrSkip) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	engineTelemetry(b, gpu, rw.Dir(), e.Name) // baseline before the engine starts
	startCtx, cancel := context.WithTimeout(ctx, s.Run.Timeouts.Startup)
	defer cancel()
	fmt.Fprintf(r.out.w0(), "[infbench] starting engine %s\n", e.Name)
	ep, err := eng.Start(startCtx)
	b.Cleanup(func() {
		if err := eng.Stop(context.WithoutCancel(ctx)); err != nil {
			b.Errorf("stopping engine %s: %v", e.Name, err)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range ep.Info {
		fmt.Printf("%s: %s\n", l.Key, l.Value)
	}
	recordEngine(b, rw, e, ep)
	for _, conc := range s.Run.Concurrency {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			for _, cat := range s.Categories() {
				b.Run("prompt="+cat, func(b *testing.B) {
					benchCell(b, r, ep, s.Cell(e.Name, conc, cat))
				})
			}
		})
	}
	for _, rate := range s.Run.Rates {
		b.Run(cell.RateLoad(rate), func(b *testing.B) {
			for _, cat := range s.Categories() {
				b.Run("prompt="+cat, func(b *testing.B) {
					benchCell(b, r, ep, s.RateCell(e.Name, rate, cat))
				})
			}
		})
	}
}

// testStart approximates when the test binary's -timeout alarm started
// (m.Run starts it, after this is set): set once, never changed.
var testStart = time.Now()

// testDeadline is when -timeout kills the binary without running any
// cleanup, or zero with -timeout 0; container engines are terminated
// shortly before it.
func testDeadline() time.Time {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return time.Time{}
	}
	d, ok := f.Value.(flag.Getter).Get().(time.Duration)
	if !ok || d <= 0 {
		return time.Time{}
	}
	return testStart.Add(d)
}

// benchCell runs the cell once and reports the summary of its measured
// requests. A cell stopped early (its first requests all failed the same
// way) or whose requests all failed fails here; one with more failures
// than max_error_rate reports its line and fails the run at its end
// (benchMain), since a failed benchmark prints no result line.
func benchCell(b *testing.B, r *benchRun, ep engines.Endpoint, cl cell.Cell) {
	s := r.s
	client, err := loadgen.NewClient(loadgen.Target{
		BaseURL: ep.BaseURL, Model: ep.Model, API: s.API,
		IgnoreEOS: ep.IgnoreEOS, IncludeUsage: ep.IncludeUsage, ContinuousUsage: ep.ContinuousUsage,
		Extra: ep.Extra, Headers: ep.Headers,
	}, cl.Conns(), loadgen.WithStallTimeout(s.Run.Timeouts.Stall), loadgen.WithRequestTimeout(s.Run.Timeouts.Request))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	if b.N != 1 {
		// benchMain refuses any -benchtime but 1x; a cell sizes itself
		// (engines.yaml, INFBENCH_REQUESTS), and repeating it inside one
		// result would pool runs with separate clocks.
		b.Fatalf("-benchtime gave b.N = %d: run with -benchtime=1x (the default here) and use -count=N for repeated samples", b.N)
	}
	stopGPU := cellTelemetry(b.Context(), r.gpu)
	all, sum, err := runRecorded(b, r, client, cl)
	// Energy over the whole cl, warmup included, per token generated in
	// it: the sampler cannot tell warmup joules from measured ones.
	gpuMetrics := stopGPU(outputTokens(all))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(0, "ns/op")
	for _, m := range sum.Metrics() {
		b.ReportMetric(m.Value, m.Unit)
	}
	for _, m := range gpuMetrics {
		b.ReportMetric(m.Value, m.Unit)
	}
}

// outputTokens sums the output tokens of the completed requests, warmup
// included.
func outputTokens(recs []loadgen.Record) int {
	n := 0
	for i := range recs {
		if recs[i].OK() {
			n += recs[i].OutputTokens
		}
	}
	return n
}
