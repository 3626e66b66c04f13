package report_test

import (
	"flag"
	"testing"
	"time"

	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/report"
)

var example = flag.String("example", "", "measure the README's example results folder into this (new) folder and render it")

// TestExampleReport measures a realistic folder on three simulated
// engines with different timings and batch limits — concurrency 1, 8,
// 32, 64 and six request rates each, 100 requests per cell or more so
// that every p99 is drawn, a capacity search per engine judged on the
// run's SLO — and renders it. It runs only with -example DIR (a few minutes); the README's
// charts come from it:
//
//	go test ./report -run Example -example /tmp/infbench-example -timeout 30m
//	go run ./cmd/infbench report -img docs/img /tmp/infbench-example
func TestExampleReport(t *testing.T) {
	if *example == "" {
		t.Skip("run with -example DIR to measure the README's example folder")
	}
	f := fixture{
		engines: []fixtureEngine{
			{"sim", sim.Linear{Base: 4 * time.Millisecond, PerSeq: 60 * time.Microsecond, PerPrefill: 20 * time.Microsecond}, 64},
			{"vllm", sim.Linear{Base: 3 * time.Millisecond, PerSeq: 100 * time.Microsecond, PerPrefill: 10 * time.Microsecond}, 48},
			{"sglang", sim.Linear{Base: 5 * time.Millisecond, PerSeq: 40 * time.Microsecond, PerPrefill: 15 * time.Microsecond}, 32},
		},
		rateEngines: []string{"sim", "vllm", "sglang"},
		workloads: []fixtureWorkload{{"short", []string{
			"Explain in one paragraph why the sky is blue.",
			"Summarise the plot of a detective story set in a lighthouse.",
			"List five uses of a paperclip and explain each briefly.",
		}, 64}},
		concs:        []int{1, 8, 32, 64},
		rates:        []float64{10, 20, 40, 80, 120, 160},
		slo:          loadgen.SLO{TTFT: 200 * time.Millisecond, TPOT: 15 * time.Millisecond},
		requests:     func(conc int) int { return max(100, 3*conc) },
		rateRequests: 100,
		repeat:       1,
	}
	f.searchSLO = f.slo // the capacity is judged on the run's SLO
	dir := f.measure(t, *example)
	if err := report.Render(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("rendered %s/%s", dir, report.ReportFile)
}
