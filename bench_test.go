package infbench_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/loadgen"
)

const (
	runFile     = "testdata/engines.yaml"
	promptsFile = "testdata/prompts.yaml"
)

// TestMain makes -benchtime=1x the default (one cell run per benchmark
// iteration; the cell sizes itself from engines.yaml, so the testing
// package's time-based scaling would only repeat it) and prints the run's
// configuration lines before any benchmark line.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.benchtime" })
	if !set {
		_ = flag.Set("test.benchtime", "1x")
	}
	if b := flag.Lookup("test.bench"); b != nil && b.Value.String() != "" {
		s, err := infbench.Load(runFile, promptsFile, os.Getenv)
		if err != nil {
			fmt.Fprintln(os.Stderr, "infbench:", err)
			os.Exit(2)
		}
		for _, l := range s.ConfigLines() {
			fmt.Printf("%s: %s\n", l.Key, l.Value)
		}
	}
	os.Exit(m.Run())
}

// BenchmarkServe runs the matrix engine × concurrency × prompt category.
// Each engine starts once, here in the parent, and stops before the next
// one starts, so only one engine holds the GPU at a time.
func BenchmarkServe(b *testing.B) {
	s, err := infbench.Load(runFile, promptsFile, os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	salts := infbench.NewSalter(s.Seed)
	list := s.Engines()
	if len(list) == 0 {
		b.Skipf("no engine of this build in %s (container engines need -tags=gpu; INFBENCH_TARGET benchmarks a running server)", runFile)
	}
	for _, e := range list {
		b.Run("engine="+e.Name, func(b *testing.B) {
			benchEngine(b, s, e, salts)
		})
	}
}

func benchEngine(b *testing.B, s *infbench.Suite, e config.Engine, salts *infbench.Salter) {
	ctx := b.Context()
	eng, err := engines.New(e, s.Run)
	if err != nil {
		b.Fatal(err)
	}
	startCtx, cancel := context.WithTimeout(ctx, s.Run.Timeouts.Startup)
	defer cancel()
	fmt.Fprintf(os.Stderr, "infbench: starting engine %s\n", e.Name)
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
	for _, conc := range s.Run.Concurrency {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			for _, cat := range s.Categories() {
				b.Run("prompt="+cat, func(b *testing.B) {
					benchCell(b, s, ep, s.Cell(e.Name, conc, cat), salts)
				})
			}
		})
	}
}

// benchCell runs the cell b.N times (once by default) and reports the
// summary of all measured requests.
func benchCell(b *testing.B, s *infbench.Suite, ep engines.Endpoint, cell infbench.Cell, salts *infbench.Salter) {
	client, err := loadgen.NewClient(loadgen.Target{
		BaseURL: ep.BaseURL, Model: ep.Model, API: s.API,
		IgnoreEOS: ep.IgnoreEOS, IncludeUsage: ep.IncludeUsage, ContinuousUsage: ep.ContinuousUsage,
		Extra: ep.Extra,
	}, cell.Concurrency, loadgen.WithStallTimeout(s.Run.Timeouts.Stall), loadgen.WithRequestTimeout(s.Run.Timeouts.Request))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	var all []loadgen.Record
	for i := 0; i < b.N; i++ {
		recs, _, err := infbench.RunCell(b.Context(), client, cell, salts, nil, os.Stderr)
		all = append(all, recs...)
		if err != nil {
			b.Fatal(err)
		}
	}
	sum := loadgen.Summarize(all, cell.SLO)
	b.ReportMetric(0, "ns/op")
	for _, m := range sum.Metrics() {
		b.ReportMetric(m.Value, m.Unit)
	}
}
