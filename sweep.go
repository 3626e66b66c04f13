package infbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/sweep"
)

// SweepLevel is the level of the capacity searches in benchmark names,
// BenchmarkServe/engine=E/sweep=slo/workload=W: every part key=value, so
// that benchstat's -filter '/sweep:slo', -row /workload and -col /engine
// select and arrange them.
const SweepLevel = "sweep=slo"

// SweepName is the name of engine's search for workload: its benchmark
// name below BenchmarkServe, and its name in progress lines.
func SweepName(engine, workload string) string {
	return "engine=" + engine + "/" + SweepLevel + "/workload=" + workload
}

// The benchmark metrics of a search.
const (
	UnitSLOMax     = "slo-max-req/s" // the capacity: the highest probed rate that met every bound
	UnitGoodput    = "goodput-req/s" // the goodput measured at it
	UnitSweepCells = "sweep-cells"   // probes the search ran
)

// SweepResult is one finished capacity search: the search, its entry in
// sweep.json and the metrics of its benchmark line.
type SweepResult struct {
	Search  sweep.Result
	Record  resultsdir.Sweep
	Metrics []loadgen.Metric
}

// Sweep runs one capacity search (sweep: in engines.yaml) for workload on
// the engine: package sweep's bracketing and bisection, each probe an
// open-loop cell (Suite.RateCell at the probed rate, with sweep.requests
// measured requests when set) measured by Measure, so that every probe is
// in summary.json and requests.jsonl as engine=E/rate=R/workload=W. A
// probe passes when every bound holds:
//
//   - error rate (failed / requests) ≤ max_error_rate;
//   - TTFT p99 ≤ slo.ttft, TTFT counted from when each request was due
//     (an open loop's TTFT from schedule, as goodput counts it), so a
//     client that fell behind cannot make a rate look served;
//   - TPOT p99 ≤ slo.tpot.
//
// A zero bound is no bound. A probe that the give-up rule stopped, or
// whose requests all failed, is a fail on the error rate; so is one above
// max_error_rate, and neither fails the run (verdict exempts the probes of
// every search in sweep.json). A p99 from fewer than 100 requests is
// flagged by loadgen and still judged (it is then one of the largest
// values, a stricter bound), and the probe's account says so. Any other
// error of a probe (the context, the results folder) ends the search and
// is returned, after the search so far is written.
//
// A progress line goes to the progress writer for each probe (its rate,
// pass or fail and why) and when the search ends; the search is appended
// to sweep.json.
func (x *Engine) Sweep(ctx context.Context, b Bench, workload string) (SweepResult, error) {
	r, s := x.run, x.run.Suite
	cfg := s.Run.Sweep.Defaults()
	name := SweepName(x.Config.Name, workload)
	rep := r.Results.NextRep(name)
	progress, done := r.Progress.ForCell(b, rep)
	defer done()
	start := cfg.Start
	if start == 0 {
		var err error
		if start, err = matrixStart(r.Results.Dir(), x.Config.Name, workload); err != nil {
			return SweepResult{}, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(progress, "[infbench] %s: starting at %.3g requests/s, the highest req/s of this engine's closed-loop cells of %s (sweep.start 0)\n",
			name, start, workload)
	}
	set := cfg.Settings(start)
	bnd := bounds{ttft: s.Run.SLO.TTFT, tpot: s.Run.SLO.TPOT, errorRate: s.Run.ErrorRateLimit()}
	x.probing = true
	defer func() { x.probing = false }()

	var keys []resultsdir.Key
	probe := func(ctx context.Context, rate float64) (sweep.Outcome, error) {
		c := s.RateCell(x.Config.Name, rate, workload)
		if cfg.Requests > 0 {
			c.Requests = cfg.Requests
		}
		n := len(keys) + 1
		fmt.Fprintf(progress, "[infbench] %s: probe %d of at most %d: %s (%d requests)\n", name, n, set.MaxCells, c.Name(), c.Requests)
		res, err := x.Measure(ctx, b, c)
		out, err := bnd.judge(ctx, res.Summary, err)
		if err != nil {
			return out, err
		}
		keys = append(keys, res.Key)
		verdict := "pass"
		if !out.Pass {
			verdict = "fail"
		}
		fmt.Fprintf(progress, "[infbench] %s: probe %d at %g requests/s: %s: %s; goodput %.3g req/s\n",
			name, n, rate, verdict, out.Why(), out.Goodput)
		if span := time.Duration(float64(c.Warmup+c.Requests) / rate * float64(time.Second)); out.Pass && span < shortProbe*bnd.ttft {
			fmt.Fprintf(progress, "[infbench] %s: probe %d's arrivals span %s, under %d × slo.ttft (%s): 10%% above capacity its queue grows by less than the TTFT bound before it ends, so this pass may be above capacity; sweep.requests %d or more spans enough\n",
				name, n, span.Round(100*time.Millisecond), shortProbe, bnd.ttft, int(math.Ceil(shortProbe*bnd.ttft.Seconds()*rate))-c.Warmup)
		}
		return out, nil
	}
	found, err := sweep.Search(ctx, set, probe)

	rec := resultsdir.Sweep{Engine: x.Config.Name, Workload: workload, Rep: rep,
		Capacity: found.Capacity, Goodput: found.Goodput, Lo: found.Lo, Hi: found.Hi,
		Resolution: set.Resolution, MaxCells: set.MaxCells,
		TTFTP99: int64(bnd.ttft), TPOTP99: int64(bnd.tpot), MaxErrorRate: bnd.errorRate,
		Stopped: string(found.Stopped), Probes: []resultsdir.Probe{}}
	for i, p := range found.Probes {
		pr := resultsdir.Probe{Key: keys[i], Pass: p.Pass}
		if !p.Pass {
			pr.Why = p.Why()
		}
		rec.Probes = append(rec.Probes, pr)
	}
	if werr := r.Results.AddSweep(rec); werr != nil {
		return SweepResult{}, errors.Join(err, werr)
	}
	if err != nil {
		return SweepResult{Search: found, Record: rec}, fmt.Errorf("%s: %w", name, err)
	}
	hi := "none failed"
	if found.Hi > 0 {
		hi = fmt.Sprintf("lowest fail %g", found.Hi)
	}
	fmt.Fprintf(progress, "[infbench] %s: %s %g (goodput %.3g req/s there; %s), %d probes, stopped: %s\n",
		name, UnitSLOMax, found.Capacity, found.Goodput, hi, len(found.Probes), found.Stopped)
	if found.Stopped == sweep.StopNoPass {
		fmt.Fprintf(progress, "[infbench] %s: no probed rate met every bound, down to %g requests/s: %s 0\n", name, found.Hi, UnitSLOMax)
	}
	return SweepResult{Search: found, Record: rec, Metrics: []loadgen.Metric{
		{Value: found.Capacity, Unit: UnitSLOMax},
		{Value: found.Goodput, Unit: UnitGoodput},
		{Value: float64(len(found.Probes)), Unit: UnitSweepCells},
	}}, nil
}

// sweepLines is the configuration line of the capacity search, when it
// is on: its settings and bounds.
func (s *Suite) sweepLines() []config.Line {
	sw := s.Run.Sweep
	if !sw.Enabled {
		return nil
	}
	d := sw.Defaults()
	start, minRate, requests := "highest closed-loop req/s", "start/10", "rate cells'"
	if d.Start > 0 {
		start = fmt.Sprint(d.Start)
	}
	if d.MinRate > 0 {
		minRate = fmt.Sprint(d.MinRate)
	}
	if d.Requests > 0 {
		requests = fmt.Sprint(d.Requests)
	}
	bounds := []string{fmt.Sprintf("error rate <= %g", s.Run.ErrorRateLimit())}
	if t := s.Run.SLO.TTFT; t > 0 {
		bounds = append(bounds, "ttft p99 <= "+t.String())
	}
	if t := s.Run.SLO.TPOT; t > 0 {
		bounds = append(bounds, "tpot p99 <= "+t.String())
	}
	return []config.Line{{Key: "infbench-sweep", Value: fmt.Sprintf("start %s, factor %g, resolution %g, max_cells %d, min_rate %s, max_rate %g, requests %s; bounds: %s",
		start, d.Factor, d.Resolution, d.MaxCells, minRate, d.MaxRate, requests, strings.Join(bounds, ", "))}}
}

// shortProbe: a probe whose arrivals span less than this many times the
// TTFT bound is too short to see an overload of 10 % (above capacity by
// a fraction ε, the queue's wait grows by ε per second of arrivals).
const shortProbe = 10

// matrixStart is the start of a search with sweep.start 0: the highest
// req/s of the engine's closed-loop cells of the workload in the results
// folder (the matrix, which runs before the searches).
func matrixStart(dir, engine, workload string) (float64, error) {
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		return 0, err
	}
	best := 0.0
	for _, c := range sums.Cells {
		if c.Engine == engine && c.Workload == workload && c.Conc > 0 {
			best = max(best, c.Summary.ReqPerSec)
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("sweep.start is 0, which starts the search at the highest req/s of the engine's closed-loop cells of workload %s, and none ran (or completed a request) before it: let the -bench pattern select them (…/conc=…) or set a start, e.g. %s=start=8",
			workload, config.EnvSweep)
	}
	return best, nil
}

// bounds are what a probe is judged on (zero: no bound).
type bounds struct {
	ttft, tpot time.Duration
	errorRate  float64
}

// The names of the bounds in an Outcome and sweep.json.
const (
	boundErrors = "error_rate"
	boundTTFT   = "ttft_p99"
	boundTPOT   = "tpot_p99"
)

// judge turns a probe's summary and Measure's error into its outcome:
// the give-up rule and a cell whose requests all failed are fails on the
// error rate; any other error is returned (ctx done, results folder).
func (bd bounds) judge(ctx context.Context, sum loadgen.Summary, err error) (sweep.Outcome, error) {
	out := sweep.Outcome{Goodput: sum.GoodputReqPerS}
	var hopeless *loadgen.HopelessError
	switch {
	case err != nil && ctx.Err() != nil:
		return out, err
	case errors.As(err, &hopeless):
		out.Bound, out.Value, out.Limit = boundErrors, 1, bd.errorRate
		out.Detail = "errors: " + hopeless.Error() + " (the give-up rule: a fail)"
		return out, nil
	case err != nil && sum.Requests > 0 && sum.Completed == 0:
		out.Bound, out.Value, out.Limit = boundErrors, 1, bd.errorRate
		out.Detail = fmt.Sprintf("errors: all %d requests failed (%s; first: %s)", sum.Requests, sum.ErrorList(), strings.Join(sum.FirstErrors, "; "))
		return out, nil
	case err != nil:
		return out, err
	}
	var parts []string
	check := func(bound string, value, limit float64, measured, limitText string) {
		op := "≤"
		if value > limit {
			op = ">"
			if out.Bound == "" {
				out.Bound, out.Value, out.Limit = bound, value, limit
			}
		}
		parts = append(parts, measured+" "+op+" "+limitText)
	}
	check(boundErrors, sum.ErrorRate, bd.errorRate,
		fmt.Sprintf("errors %.1f%%", 100*sum.ErrorRate), fmt.Sprintf("%g%%", 100*bd.errorRate))
	ttft, from := sum.TTFT, ""
	if sum.Paced {
		ttft, from = sum.TTFTFromSchedule, " from schedule"
	}
	if bd.ttft > 0 {
		check(boundTTFT, ttft.P99, float64(bd.ttft), "TTFT"+from+" p99 "+ns(ttft.P99), bd.ttft.String()+small(ttft))
	}
	if bd.tpot > 0 {
		check(boundTPOT, sum.TPOT.P99, float64(bd.tpot), "TPOT p99 "+ns(sum.TPOT.P99), bd.tpot.String()+small(sum.TPOT))
	}
	out.Pass = out.Bound == ""
	out.Detail = strings.Join(parts, ", ")
	return out, nil
}

// small notes a p99 computed from fewer than 100 samples.
func small(d loadgen.Dist) string {
	if d.N < config.MinSweepRequests {
		return fmt.Sprintf(" (p99 of %d samples: flagged, about the largest)", d.N)
	}
	return ""
}

// ns formats a latency in nanoseconds to three significant digits.
func ns(v float64) string {
	d := time.Duration(v)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
