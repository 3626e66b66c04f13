// Package sweep searches for capacity under an SLO: the highest request
// rate at which a probe passes. It knows nothing of HTTP, engines or
// results: a probe is a function that runs one load at a rate and says
// whether every bound held (package infbench builds it from an open-loop
// cell).
//
// The search, Search:
//
//  1. Bracketing. Probe Start (rounded, see Settings.Digits). While the
//     probe passes, multiply the rate by Factor and probe again, the last
//     step clamped to MaxRate; a pass at MaxRate ends the search
//     (StopMaxRate). If Start fails, divide by Factor instead until a
//     probe passes; a rate below MinRate is not probed (StopNoPass).
//  2. Bisection in log space. With lo the highest passing and hi the
//     lowest failing rate, probe their geometric mean √(lo·hi) (rounded):
//     a pass raises lo, a fail lowers hi, until hi/lo − 1 ≤ Resolution
//     (StopResolution), or no rounded rate lies strictly between them
//     (also StopResolution: no finer rate can be named).
//
// Every probe counts against MaxCells, bracketing included; when they are
// spent the search ends where it is (StopMaxCells). The capacity found is
// lo, the highest passing rate (0 when none passed: StopNoPass, whatever
// else ended the search), with the goodput that probe measured.
//
// The search assumes monotonicity: a rate passes whenever a higher one
// does. Noise breaks that, and the search does not look for it: once a
// rate has failed it never probes above it, and once one has passed it
// never probes below it. So a noisy fail inside the bracket lowers the
// capacity found to below that rate, a noisy pass raises it to at least
// that rate, and a band of passing rates above a failing one is found
// only when bracketing steps over the failing rates without probing them
// (then the capacity is in that band). By construction no probe that
// passed lies above one that failed; Result.Probes lists every probe in
// order, so a reader can see where the bracket moved.
package sweep

import (
	"context"
	"fmt"
	"math"
	"strconv"
)

// Outcome is what one probe measured.
type Outcome struct {
	Pass bool
	// Bound names the bound a failing probe broke (the first, if
	// several), Value its measured value and Limit the bound; empty and
	// zero for a pass.
	Bound        string
	Value, Limit float64
	// Detail is the probe's own account of its figures, for people
	// (which bounds held and which broke, by how much).
	Detail string
	// Goodput is the rate of requests meeting every SLO, requests/s.
	Goodput float64
}

// Why is the outcome in a few words: Detail, else the broken bound with
// its value.
func (o Outcome) Why() string {
	switch {
	case o.Detail != "":
		return o.Detail
	case o.Pass:
		return "pass"
	}
	return fmt.Sprintf("%s %g > %g", o.Bound, o.Value, o.Limit)
}

// ProbeFunc runs one probe at rate requests/s. An error ends the search
// (StopError); a load that failed its bounds, however badly, is an
// Outcome with Pass false and no error.
type ProbeFunc func(ctx context.Context, rate float64) (Outcome, error)

// Settings control a search.
type Settings struct {
	Start      float64 // first rate probed, requests/s (> 0)
	Factor     float64 // bracketing step (> 1): 2 doubles the rate
	Resolution float64 // stop when hi/lo − 1 ≤ Resolution (> 0)
	MaxCells   int     // most probes, bracketing included (≥ 1)
	MaxRate    float64 // highest rate probed; 0: no limit
	MinRate    float64 // lowest rate probed when Start fails; 0: no limit but MaxCells
	// Digits rounds every probed rate to this many significant digits,
	// so that rates (and the cell names made of them) stay short; 0: no
	// rounding.
	Digits int
}

// Validate rejects settings the search cannot run with, naming the field.
func (s Settings) Validate() error {
	switch {
	case !(s.Start > 0) || math.IsInf(s.Start, 0):
		return fmt.Errorf("sweep: start %v: give a positive rate in requests/s", s.Start)
	case !(s.Factor > 1) || math.IsInf(s.Factor, 0):
		return fmt.Errorf("sweep: factor %v: must be above 1 (2 doubles the rate at each bracketing step)", s.Factor)
	case !(s.Resolution > 0) || math.IsInf(s.Resolution, 0):
		return fmt.Errorf("sweep: resolution %v: must be positive (0.05 stops when the bracket is 5%% wide)", s.Resolution)
	case s.MaxCells < 1:
		return fmt.Errorf("sweep: max_cells %d: must be at least 1", s.MaxCells)
	case s.MaxRate < 0 || s.MinRate < 0:
		return fmt.Errorf("sweep: min_rate %v, max_rate %v: must not be negative (0: no limit)", s.MinRate, s.MaxRate)
	case s.MaxRate > 0 && s.Start > s.MaxRate:
		return fmt.Errorf("sweep: start %v is above max_rate %v", s.Start, s.MaxRate)
	case s.MinRate > s.Start:
		return fmt.Errorf("sweep: min_rate %v is above start %v", s.MinRate, s.Start)
	case s.Digits < 0 || s.Digits > 15:
		return fmt.Errorf("sweep: digits %d: give 0 (no rounding) to 15", s.Digits)
	}
	return nil
}

// Stop says why a search ended.
type Stop string

// Reasons a search ends; an error ends it with "error: " and the error.
const (
	StopResolution Stop = "resolution" // the bracket is as narrow as asked (or as rounding allows)
	StopMaxCells   Stop = "max_cells"  // the probes were spent first
	StopMaxRate    Stop = "max_rate"   // MaxRate passed: the capacity is at least that
	StopNoPass     Stop = "no_pass"    // no probe passed (down to MinRate or MaxCells)
)

// Phase says which part of the search chose a probe's rate.
type Phase string

// Phases.
const (
	Bracket Phase = "bracket"
	Bisect  Phase = "bisect"
)

// Probe is one probed rate and its outcome.
type Probe struct {
	Rate  float64
	Phase Phase
	Outcome
}

// Result is a finished (or stopped) search.
type Result struct {
	// Capacity is the highest passing rate (Lo), 0 when none passed;
	// Goodput the goodput measured at it.
	Capacity, Goodput float64
	// Lo and Hi bracket the capacity: the highest passing and the lowest
	// failing rate probed (0: none).
	Lo, Hi  float64
	Probes  []Probe
	Stopped Stop
}

// Search runs the search with probe; see the package documentation. On
// an error (from probe, or ctx done before a probe) it returns the result
// so far, Stopped "error: …", and the error.
func Search(ctx context.Context, s Settings, probe ProbeFunc) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	var r Result
	var best Outcome // the outcome at Lo
	try := func(rate float64, ph Phase) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		o, err := probe(ctx, rate)
		if err != nil {
			return false, fmt.Errorf("probe at %g requests/s: %w", rate, err)
		}
		r.Probes = append(r.Probes, Probe{Rate: rate, Phase: ph, Outcome: o})
		if o.Pass {
			r.Lo, best = rate, o
		} else {
			r.Hi = rate
		}
		return o.Pass, nil
	}
	stop, err := s.run(try, &r)
	if err != nil {
		r.Stopped = Stop("error: " + err.Error())
	} else {
		r.Stopped = stop
	}
	if r.Lo > 0 {
		r.Capacity, r.Goodput = r.Lo, best.Goodput
	} else if err == nil {
		r.Stopped = StopNoPass
	}
	return r, err
}

// run is the search proper; try probes a rate and updates r.Lo and r.Hi.
func (s Settings) run(try func(float64, Phase) (bool, error), r *Result) (Stop, error) {
	left := func() bool { return len(r.Probes) < s.MaxCells }
	rate := s.round(s.Start)
	pass, err := try(rate, Bracket)
	if err != nil {
		return "", err
	}
	if pass {
		for {
			if s.MaxRate > 0 && rate >= s.MaxRate {
				return StopMaxRate, nil
			}
			if !left() {
				return StopMaxCells, nil
			}
			rate = s.round(rate * s.Factor)
			if s.MaxRate > 0 && rate > s.MaxRate {
				rate = s.MaxRate
			}
			if pass, err = try(rate, Bracket); err != nil {
				return "", err
			}
			if !pass {
				break
			}
		}
	} else {
		for {
			next := s.round(rate / s.Factor)
			if next < s.MinRate || next <= 0 {
				return StopNoPass, nil
			}
			if !left() {
				return StopMaxCells, nil
			}
			rate = next
			if pass, err = try(rate, Bracket); err != nil {
				return "", err
			}
			if pass {
				break
			}
		}
	}
	for r.Hi/r.Lo-1 > s.Resolution {
		mid := s.round(math.Sqrt(r.Lo * r.Hi))
		if mid <= r.Lo || mid >= r.Hi {
			return StopResolution, nil
		}
		if !left() {
			return StopMaxCells, nil
		}
		if _, err := try(mid, Bisect); err != nil {
			return "", err
		}
	}
	return StopResolution, nil
}

// round rounds x to s.Digits significant digits (none with 0).
func (s Settings) round(x float64) float64 {
	if s.Digits == 0 || x <= 0 {
		return x
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', s.Digits, 64), 64)
	return v
}
