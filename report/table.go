package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/servermetrics"
)

// Category is one workload of a run: its engines side by side at
// each concurrency.
type Category struct {
	Workload string
	Engines  []string // run order; the palette follows it
	Concs    []int    // ascending
	cells    map[engineConc]*Point
}

type engineConc struct {
	engine string
	conc   int
}

// Point is one engine at one concurrency: the median over the cell's
// repetitions of each number (NaN where no repetition has it).
type Point struct {
	Engine string
	Conc   int
	Reps   int

	OutTokPerSec  float64 // output tok/s
	TTFTP50       float64 // ns
	TTFTP99       float64 // ns
	TPOTP50       float64 // ns
	TPOTP99       float64 // ns
	UserTokPerSec float64 // median per-user speed, 1/TPOT
	ErrPct        float64
	// TailN is the fewest completed requests of any repetition: charts
	// leave out a p99 drawn from fewer than loadgen.MinSamples("p99").
	TailN int

	// Server is what the engine's own metrics said (the median over the
	// repetitions that have each), nil when no repetition has them.
	Server *ServerPoint

	// Flags are the cell's summary flags, then its server metrics'
	// flags; with several repetitions each says which one ("rep 2: …").
	Flags []string
}

// ServerPoint is a cell's server metrics (package servermetrics), each
// the median over the repetitions that have it; NaN where none has.
type ServerPoint struct {
	RunningMean, RunningMax float64
	WaitingMean, WaitingMax float64
	KVUsageMeanPct          float64
	KVUsagePeakPct          float64
	Preemptions             float64
	PrefixHitPct            float64
}

// At returns the point of engine at conc, or nil.
func (c *Category) At(engine string, conc int) *Point { return c.cells[engineConc{engine, conc}] }

// Categories groups the cell summaries by prompt category, in order of
// first appearance. engines gives the engine order (run.json's); engines
// it does not list follow in order of appearance.
func Categories(sums []resultsdir.CellSummary, engines []string) []*Category {
	var cats []*Category
	byWorkload := map[string]*Category{}
	reps := map[resultsdir.Key][]resultsdir.CellSummary{}
	var keys []resultsdir.Key // one per engine, conc, prompt (Rep 0)
	for _, s := range sums {
		c := byWorkload[s.Workload]
		if c == nil {
			c = &Category{Workload: s.Workload, Engines: slices.Clone(engines), cells: map[engineConc]*Point{}}
			byWorkload[s.Workload] = c
			cats = append(cats, c)
		}
		k := s.Key
		k.Rep = 0
		if _, ok := reps[k]; !ok {
			keys = append(keys, k)
		}
		reps[k] = append(reps[k], s)
	}
	for _, k := range keys {
		c := byWorkload[k.Workload]
		if !slices.Contains(c.Engines, k.Engine) {
			c.Engines = append(c.Engines, k.Engine)
		}
		if !slices.Contains(c.Concs, k.Conc) {
			c.Concs = append(c.Concs, k.Conc)
		}
		c.cells[engineConc{k.Engine, k.Conc}] = newPoint(k, reps[k])
	}
	for _, c := range cats {
		slices.Sort(c.Concs)
		// Keep only engines that ran in this category, in palette order.
		c.Engines = slices.DeleteFunc(c.Engines, func(e string) bool {
			return !slices.ContainsFunc(keys, func(k resultsdir.Key) bool { return k.Workload == c.Workload && k.Engine == e })
		})
	}
	return cats
}

func newPoint(k resultsdir.Key, reps []resultsdir.CellSummary) *Point {
	p := &Point{Engine: k.Engine, Conc: k.Conc, Reps: len(reps)}
	med := func(f func(s *loadgen.Summary) (float64, bool)) float64 {
		var xs []float64
		for i := range reps {
			if v, ok := f(&reps[i].Summary); ok {
				xs = append(xs, v)
			}
		}
		return median(xs)
	}
	p.OutTokPerSec = med(func(s *loadgen.Summary) (float64, bool) { return s.OutputTokPerSec, s.Completed > 0 })
	p.TTFTP50 = med(func(s *loadgen.Summary) (float64, bool) { return s.TTFT.P50, s.TTFT.N > 0 })
	p.TTFTP99 = med(func(s *loadgen.Summary) (float64, bool) { return s.TTFT.P99, s.TTFT.N > 0 })
	p.TPOTP50 = med(func(s *loadgen.Summary) (float64, bool) { return s.TPOT.P50, s.TPOT.N > 0 })
	p.TPOTP99 = med(func(s *loadgen.Summary) (float64, bool) { return s.TPOT.P99, s.TPOT.N > 0 })
	p.UserTokPerSec = med(func(s *loadgen.Summary) (float64, bool) { return s.UserSpeed.P50, s.UserSpeed.N > 0 })
	p.ErrPct = med(func(s *loadgen.Summary) (float64, bool) { return 100 * s.ErrorRate, s.Requests > 0 })
	for i, r := range reps {
		if i == 0 || r.Summary.TTFT.N < p.TailN {
			p.TailN = r.Summary.TTFT.N
		}
	}
	p.Server = newServerPoint(reps)
	for _, r := range reps {
		flags := r.Summary.Flags
		if r.Server != nil {
			flags = append(slices.Clone(flags), r.Server.Flags...)
		}
		for _, f := range flags {
			if len(reps) > 1 {
				f = fmt.Sprintf("rep %d: %s", r.Rep, f)
			}
			p.Flags = append(p.Flags, f)
		}
	}
	return p
}

func newServerPoint(reps []resultsdir.CellSummary) *ServerPoint {
	if !slices.ContainsFunc(reps, func(r resultsdir.CellSummary) bool { return r.Server != nil }) {
		return nil
	}
	med := func(f func(c *servermetrics.Cell) (float64, bool)) float64 {
		var xs []float64
		for i := range reps {
			if reps[i].Server == nil {
				continue
			}
			if v, ok := f(reps[i].Server); ok {
				xs = append(xs, v)
			}
		}
		return median(xs)
	}
	stat := func(get func(c *servermetrics.Cell) *servermetrics.Stat, mean bool) float64 {
		return med(func(c *servermetrics.Cell) (float64, bool) {
			s := get(c)
			if s == nil {
				return 0, false
			}
			if mean {
				return s.Mean, true
			}
			return s.Max, true
		})
	}
	ptr := func(get func(c *servermetrics.Cell) *float64) float64 {
		return med(func(c *servermetrics.Cell) (float64, bool) {
			if v := get(c); v != nil {
				return *v, true
			}
			return 0, false
		})
	}
	running := func(c *servermetrics.Cell) *servermetrics.Stat { return c.Running }
	waiting := func(c *servermetrics.Cell) *servermetrics.Stat { return c.Waiting }
	kv := func(c *servermetrics.Cell) *servermetrics.Stat { return c.KVUsagePct }
	return &ServerPoint{
		RunningMean: stat(running, true), RunningMax: stat(running, false),
		WaitingMean: stat(waiting, true), WaitingMax: stat(waiting, false),
		KVUsageMeanPct: stat(kv, true), KVUsagePeakPct: stat(kv, false),
		Preemptions:  ptr(func(c *servermetrics.Cell) *float64 { return c.Preemptions }),
		PrefixHitPct: ptr(func(c *servermetrics.Cell) *float64 { return c.PrefixHitPct }),
	}
}

// median of xs (sorted in place); NaN when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.SortFunc(xs, cmp.Compare[float64])
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
