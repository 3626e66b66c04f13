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

// Category is one workload of a run: its engines side by side at each
// concurrency (closed loop) and each offered request rate (open loop).
type Category struct {
	Workload string
	Engines  []string  // run order; the palette follows it
	Concs    []int     // closed-loop levels, ascending
	Rates    []float64 // open-loop rates, ascending
	cells    map[loadLevel]*Point
}

// loadLevel is one engine at one load: a concurrency (Rate 0) or a rate
// (Conc 0).
type loadLevel struct {
	engine string
	conc   int
	rate   float64
}

// Value is one number of a Point: the median over the cell's repetitions
// (NaN where no repetition has it), their extremes, and, for a
// percentile, the fewest samples any repetition computed it from.
type Value struct {
	Med, Min, Max float64
	N             int
}

// Point is one engine at one load level (a concurrency or a rate): each
// number the median over the cell's repetitions, with their spread.
type Point struct {
	Engine string
	Conc   int     // closed loop; 0 for an open loop
	Rate   float64 // open loop: requests/s offered; 0 for a closed loop
	Reps   int

	OutTokPerSec Value // output tok/s
	GoodputReqPS Value // requests/s meeting every SLO bound
	ReqPerSec    Value // completed requests/s
	SentReqPerS  Value // open loop: the rate actually sent
	TTFTP50      Value // ns
	TTFTP99      Value // ns
	TPOTP50      Value // ns
	TPOTP99      Value // ns
	E2EP50       Value // ns
	E2EP99       Value // ns
	ITLP50       Value // ns
	ITLP99       Value // ns
	// TTFT and E2E from the time each request was due (open loop), ns.
	TTFTSchedP50, TTFTSchedP99 Value
	UserTokPerSec              Value // median per-user speed, 1/TPOT
	ErrPct                     Value

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

// At returns the closed-loop point of engine at conc, or nil.
func (c *Category) At(engine string, conc int) *Point {
	return c.cells[loadLevel{engine: engine, conc: conc}]
}

// AtRate returns the open-loop point of engine at rate, or nil.
func (c *Category) AtRate(engine string, rate float64) *Point {
	return c.cells[loadLevel{engine: engine, rate: rate}]
}

// Categories groups the cell summaries by workload, in order of first
// appearance. engines gives the engine order (run.json's); engines it
// does not list follow in order of appearance.
func Categories(sums []resultsdir.CellSummary, engines []string) []*Category {
	var cats []*Category
	byWorkload := map[string]*Category{}
	reps := map[resultsdir.Key][]resultsdir.CellSummary{}
	var keys []resultsdir.Key // one per engine, load, workload (Rep 0)
	for _, s := range sums {
		c := byWorkload[s.Workload]
		if c == nil {
			c = &Category{Workload: s.Workload, Engines: slices.Clone(engines), cells: map[loadLevel]*Point{}}
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
		if k.Rate > 0 {
			if !slices.Contains(c.Rates, k.Rate) {
				c.Rates = append(c.Rates, k.Rate)
			}
		} else if !slices.Contains(c.Concs, k.Conc) {
			c.Concs = append(c.Concs, k.Conc)
		}
		c.cells[loadLevel{k.Engine, k.Conc, k.Rate}] = newPoint(k, reps[k])
	}
	for _, c := range cats {
		slices.Sort(c.Concs)
		slices.Sort(c.Rates)
		// Keep only engines that ran in this workload, in palette order.
		c.Engines = slices.DeleteFunc(c.Engines, func(e string) bool {
			return !slices.ContainsFunc(keys, func(k resultsdir.Key) bool { return k.Workload == c.Workload && k.Engine == e })
		})
	}
	return cats
}

// closedPoints returns the category's closed-loop points of engine, by
// ascending concurrency.
func (c *Category) closedPoints(engine string) []*Point {
	var out []*Point
	for _, conc := range c.Concs {
		if p := c.At(engine, conc); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// openPoints returns the category's open-loop points of engine, by
// ascending rate.
func (c *Category) openPoints(engine string) []*Point {
	var out []*Point
	for _, r := range c.Rates {
		if p := c.AtRate(engine, r); p != nil {
			out = append(out, p)
		}
	}
	return out
}

func newPoint(k resultsdir.Key, reps []resultsdir.CellSummary) *Point {
	p := &Point{Engine: k.Engine, Conc: k.Conc, Rate: k.Rate, Reps: len(reps)}
	val := func(f func(s *loadgen.Summary) (float64, bool)) Value {
		var xs []float64
		for i := range reps {
			if v, ok := f(&reps[i].Summary); ok && !math.IsNaN(v) {
				xs = append(xs, v)
			}
		}
		return newValue(xs, 0)
	}
	// pct is a percentile of one distribution, with the fewest samples
	// it came from.
	pct := func(d func(s *loadgen.Summary) *loadgen.Dist, get func(d *loadgen.Dist) float64) Value {
		var xs []float64
		n := -1
		for i := range reps {
			dist := d(&reps[i].Summary)
			if dist.N == 0 {
				continue
			}
			xs = append(xs, get(dist))
			if n < 0 || dist.N < n {
				n = dist.N
			}
		}
		return newValue(xs, max(n, 0))
	}
	p50 := func(d *loadgen.Dist) float64 { return d.P50 }
	p99 := func(d *loadgen.Dist) float64 { return d.P99 }
	ttft := func(s *loadgen.Summary) *loadgen.Dist { return &s.TTFT }
	tpot := func(s *loadgen.Summary) *loadgen.Dist { return &s.TPOT }
	e2e := func(s *loadgen.Summary) *loadgen.Dist { return &s.E2E }
	itl := func(s *loadgen.Summary) *loadgen.Dist { return &s.ITL }
	sched := func(s *loadgen.Summary) *loadgen.Dist { return &s.TTFTFromSchedule }
	completed := func(s *loadgen.Summary) bool { return s.Completed > 0 }
	p.OutTokPerSec = val(func(s *loadgen.Summary) (float64, bool) { return s.OutputTokPerSec, completed(s) })
	p.GoodputReqPS = val(func(s *loadgen.Summary) (float64, bool) { return s.GoodputReqPerS, s.Requests > 0 })
	p.ReqPerSec = val(func(s *loadgen.Summary) (float64, bool) { return s.ReqPerSec, completed(s) })
	p.SentReqPerS = val(func(s *loadgen.Summary) (float64, bool) { return s.SentReqPerSec, s.Paced })
	p.TTFTP50, p.TTFTP99 = pct(ttft, p50), pct(ttft, p99)
	p.TPOTP50, p.TPOTP99 = pct(tpot, p50), pct(tpot, p99)
	p.E2EP50, p.E2EP99 = pct(e2e, p50), pct(e2e, p99)
	p.ITLP50, p.ITLP99 = pct(itl, p50), pct(itl, p99)
	p.TTFTSchedP50, p.TTFTSchedP99 = pct(sched, p50), pct(sched, p99)
	p.UserTokPerSec = val(func(s *loadgen.Summary) (float64, bool) { return s.UserSpeed.P50, s.UserSpeed.N > 0 })
	p.ErrPct = val(func(s *loadgen.Summary) (float64, bool) { return 100 * s.ErrorRate, s.Requests > 0 })
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

// newValue summarises the repetitions' values xs (sorted in place).
func newValue(xs []float64, n int) Value {
	if len(xs) == 0 {
		return Value{Med: math.NaN(), Min: math.NaN(), Max: math.NaN(), N: n}
	}
	m := median(xs) // sorts
	return Value{Med: m, Min: xs[0], Max: xs[len(xs)-1], N: n}
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
