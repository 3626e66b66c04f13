package report_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// fixtureEngine is a simulated engine with its own timing and batch
// limit, so that engines differ measurably and one can queue.
type fixtureEngine struct {
	name     string
	timing   sim.Linear
	maxBatch int
}

// fixtureWorkload is one workload: its prompts and output length.
type fixtureWorkload struct {
	name      string
	prompts   []string
	maxTokens int
}

// fixture describes a results folder measured on the simulator the way
// BenchmarkServe measures one (cell.Run through the Writer's sink, then
// the summary): closed-loop cells at every concurrency for every engine
// and workload; open-loop cells at every rate for the engines in
// rateEngines, every workload; the closed-loop cells at concs[repeat] and the first
// rate cell of each engine run twice (-count 2); and per rate engine and
// workload a capacity search entry in sweep.json whose probes are those
// rate cells (see search).
type fixture struct {
	engines     []fixtureEngine
	rateEngines []string
	workloads   []fixtureWorkload
	concs       []int
	rates       []float64
	slo         loadgen.SLO
	// requests is the number of measured requests of a closed-loop cell
	// at conc; rateRequests of an open-loop cell.
	requests     func(conc int) int
	rateRequests int
	// repeat is the index in concs of the closed-loop level run twice.
	repeat int
	// searchSLO holds the capacity search's p99 bounds; zero: see search.
	searchSLO loadgen.SLO
}

// smallFixture is quick enough for every test run: two engines, two
// workloads, concurrency 1 and 4, three rates for one engine.
func smallFixture() fixture {
	return fixture{
		engines: []fixtureEngine{
			{"fast", sim.Linear{Base: 2 * time.Millisecond, PerSeq: 200 * time.Microsecond}, 8},
			{"slow", sim.Linear{Base: 4 * time.Millisecond, PerSeq: 400 * time.Microsecond}, 8},
		},
		rateEngines: []string{"fast"},
		workloads: []fixtureWorkload{
			{"short", []string{"Name a colour.", "Count to three."}, 8},
			{"long", []string{"Write a long story about a lighthouse keeper and the sea at night."}, 16},
		},
		concs:        []int{1, 4},
		rates:        []float64{10, 40, 160},
		slo:          loadgen.SLO{TTFT: 100 * time.Millisecond, TPOT: 20 * time.Millisecond},
		requests:     func(conc int) int { return 3 * conc },
		rateRequests: 12,
	}
}

// measure runs the fixture into a new results folder and returns it.
func (f fixture) measure(t *testing.T, dir string) string {
	t.Helper()
	ctx := t.Context()
	run := resultsdir.Run{Start: time.Now(), SLO: f.slo, Model: "sim-model",
		Config: []config.Line{{Key: "infbench-api", Value: "chat"}}}
	run.FillHost(ctx)
	for _, e := range f.engines {
		run.Engines = append(run.Engines, resultsdir.Engine{Name: e.name, Kind: "sim", Model: "sim-model"})
	}
	w, err := resultsdir.Create(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	salts := cell.NewSalter(7)
	for _, e := range f.engines {
		url := simtest.Start(t, sim.Config{Model: "sim-model", MaxBatch: e.maxBatch, Timing: e.timing})
		if err := w.SetEngine(resultsdir.Engine{Name: e.name, Kind: "sim", Model: "sim-model",
			Info: []config.Line{{Key: "engine-" + e.name + "-step", Value: e.timing.Base.String()}}}); err != nil {
			t.Fatal(err)
		}
		for _, wl := range f.workloads {
			base := cell.Cell{Engine: e.name, Workload: wl.name, Prompts: wl.prompts, MaxTokens: wl.maxTokens, SLO: f.slo, Seed: 7}
			for i, conc := range f.concs {
				cl := base
				cl.Concurrency, cl.Requests, cl.Warmup = conc, f.requests(conc), conc
				for range 1 + boolInt(i == f.repeat) {
					f.record(t, w, url, cl, salts)
				}
			}
			if !slices.Contains(f.rateEngines, e.name) {
				continue
			}
			var keys []resultsdir.Key
			var sums []loadgen.Summary
			for i, r := range f.rates {
				cl := base
				cl.Rate, cl.MaxInFlight, cl.Requests, cl.Warmup = r, 256, f.rateRequests, 2
				for rep := range 1 + boolInt(i == 0) {
					sum := f.record(t, w, url, cl, salts)
					if rep == 0 { // the search probed each rate once
						keys = append(keys, resultsdir.Key{Cell: cl.Name(), Engine: e.name, Rate: r, Workload: wl.name})
						sums = append(sums, sum)
					}
				}
			}
			if err := w.AddSweep(f.search(e.name, wl.name, keys, sums)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// search writes the capacity search over the probes, in rate order, as
// the sweep would: a probe passes when its TTFT p99 (from the schedule)
// and TPOT p99 are within the bounds and its error rate at most 1%; the
// capacity is the last rate passed before the first failure. The bounds
// are the search's own (sweep: in engines.yaml): searchSLO's, else the
// largest p99s of the first two probes rounded up to the millisecond, so
// that the search passes them whatever the machine's speed, and the
// rates above pass or fail on what they measured.
func (f fixture) search(engine, workload string, keys []resultsdir.Key, sums []loadgen.Summary) resultsdir.Sweep {
	var ttft, tpot float64
	for _, s := range sums[:min(2, len(sums))] {
		ttft, tpot = max(ttft, s.TTFTFromSchedule.P99), max(tpot, s.TPOT.P99)
	}
	ceilMS := func(ns float64) time.Duration { return time.Duration(math.Ceil(ns/1e6)) * time.Millisecond }
	bounds := loadgen.SLO{TTFT: ceilMS(ttft), TPOT: ceilMS(tpot)}
	if f.searchSLO != (loadgen.SLO{}) {
		bounds = f.searchSLO
	}
	sw := resultsdir.Sweep{Engine: engine, Workload: workload, Resolution: 0.1, MaxCells: 12,
		TTFTP99: int64(bounds.TTFT), TPOTP99: int64(bounds.TPOT), MaxErrorRate: 0.01, Stopped: "max_rate"}
	for i, sum := range sums {
		p := resultsdir.Probe{Key: keys[i], Pass: true}
		switch {
		case sum.TTFTFromSchedule.P99 > float64(sw.TTFTP99):
			p.Pass, p.Why = false, fmt.Sprintf("ttft p99 %v > %v", time.Duration(sum.TTFTFromSchedule.P99), time.Duration(sw.TTFTP99))
		case sum.TPOT.P99 > float64(sw.TPOTP99):
			p.Pass, p.Why = false, fmt.Sprintf("tpot p99 %v > %v", time.Duration(sum.TPOT.P99), time.Duration(sw.TPOTP99))
		case sum.ErrorRate > sw.MaxErrorRate:
			p.Pass, p.Why = false, fmt.Sprintf("error rate %.3f > %.3f", sum.ErrorRate, sw.MaxErrorRate)
		}
		sw.Probes = append(sw.Probes, p)
		switch {
		case sw.Hi > 0: // past the first failure
		case p.Pass:
			sw.Lo, sw.Capacity, sw.Goodput = keys[i].Rate, keys[i].Rate, sum.GoodputReqPerS
		default:
			sw.Hi, sw.Stopped = keys[i].Rate, "resolution"
		}
	}
	return sw
}

// record runs one cell against the engine at url, as BenchmarkServe does.
func (f fixture) record(t *testing.T, w *resultsdir.Writer, url string, cl cell.Cell, salts *cell.Salter) loadgen.Summary {
	t.Helper()
	_, sum, err := simtest.Record(t.Context(), t, w, simtest.Client(t, url, "sim-model", cl.Conns()), cl, salts, nil)
	if err != nil {
		t.Fatalf("%s: %v", cl.Name(), err)
	}
	return sum
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
