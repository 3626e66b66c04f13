package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/infbench/infbench/sweep"
)

// EnvSweep turns the capacity search on or off, or sets some of its
// settings for one run:
//
//	INFBENCH_SWEEP=1 (or on, true)     on, with engines.yaml's sweep: settings
//	INFBENCH_SWEEP=0 (or off, false)   off
//	INFBENCH_SWEEP=start=8,max_cells=10 on, these settings replacing the file's
//
// The keys are the sweep: block's: start, factor, resolution, max_cells,
// min_rate, max_rate, requests.
const EnvSweep = "INFBENCH_SWEEP"

// Sweep is engines.yaml's sweep: block, the capacity search: per engine
// and workload, the highest open-loop request rate at which every SLO
// bound holds (slo.ttft as the TTFT p99 bound, slo.tpot as the TPOT p99
// bound, max_error_rate as the error-rate bound). A zero field takes its
// default (Defaults).
type Sweep struct {
	Enabled bool `yaml:"enabled"`
	// Start is the first rate probed, requests/s; 0 derives it from the
	// engine's closed-loop cells of the workload measured earlier in the
	// run: the highest req/s among them.
	Start float64 `yaml:"start"`
	// Factor multiplies the rate at each bracketing step (default 2).
	Factor float64 `yaml:"factor"`
	// Resolution: the search stops when the bracket hi/lo − 1 is at most
	// this (default 0.05; 0.01 to 1).
	Resolution float64 `yaml:"resolution"`
	// MaxCells is the most probes one search runs (default 12).
	MaxCells int `yaml:"max_cells"`
	// MinRate is the lowest rate probed when the start fails (default
	// start ÷ 10); MaxRate the highest probed (0: no limit).
	MinRate float64 `yaml:"min_rate"`
	MaxRate float64 `yaml:"max_rate"`
	// Requests is the measured requests of each probe (default the rate
	// cells': rate_requests, or INFBENCH_REQUESTS); at least 100 when
	// set, so that each probe's p99 is computed from 100 samples.
	Requests int `yaml:"requests"`
}

// Sweep defaults, and the significant digits probed rates are rounded to.
const (
	DefaultSweepFactor     = 2
	DefaultSweepResolution = 0.05
	DefaultSweepMaxCells   = 12
	SweepDigits            = 3
	// MinSweepRequests is the smallest sweep.requests: a p99 from fewer
	// samples is one of the largest values (loadgen flags it).
	MinSweepRequests = 100
)

// Defaults returns s with every zero setting replaced by its default,
// except Start (0: derived at run time) and the MinRate that depends on
// it.
func (s Sweep) Defaults() Sweep {
	if s.Factor == 0 {
		s.Factor = DefaultSweepFactor
	}
	if s.Resolution == 0 {
		s.Resolution = DefaultSweepResolution
	}
	if s.MaxCells == 0 {
		s.MaxCells = DefaultSweepMaxCells
	}
	return s
}

// Settings is the search of s starting at start requests/s (s.Start,
// or the rate derived when it is 0), with defaults filled in: min_rate
// start ÷ 10 when unset, rates rounded to SweepDigits digits.
func (s Sweep) Settings(start float64) sweep.Settings {
	d := s.Defaults()
	minRate := d.MinRate
	if minRate == 0 {
		minRate = start / 10
	}
	return sweep.Settings{Start: start, Factor: d.Factor, Resolution: d.Resolution, MaxCells: d.MaxCells,
		MinRate: minRate, MaxRate: d.MaxRate, Digits: SweepDigits}
}

// sweepKeys are the settings INFBENCH_SWEEP may set, by their YAML keys.
var sweepKeys = []string{"start", "factor", "resolution", "max_cells", "min_rate", "max_rate", "requests"}

// ApplySweep applies INFBENCH_SWEEP (from getenv) to the sweep: block
// read from file, then checks the result: a bad value of the file is
// named by file and key, a bad INFBENCH_SWEEP by the variable and key.
// A sweep that is on needs slo.ttft or slo.tpot.
func (r *Run) ApplySweep(file string, getenv func(string) string) error {
	if err := r.Sweep.Validate(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	v := strings.TrimSpace(getenv(EnvSweep))
	switch strings.ToLower(v) {
	case "":
	case "1", "on", "true":
		r.Sweep.Enabled = true
	case "0", "off", "false":
		r.Sweep.Enabled = false
	default:
		s := r.Sweep
		s.Enabled = true
		for _, f := range strings.Split(v, ",") {
			if err := s.set(strings.TrimSpace(f)); err != nil {
				return fmt.Errorf("%s=%q: %w", EnvSweep, v, err)
			}
		}
		if err := s.Validate(); err != nil {
			return fmt.Errorf("%s=%q: %w", EnvSweep, v, err)
		}
		r.Sweep = s
	}
	if r.Sweep.Enabled && r.SLO.TTFT <= 0 && r.SLO.TPOT <= 0 {
		return fmt.Errorf("%s: sweep is on but slo.ttft and slo.tpot are both 0: the capacity search needs a latency bound (set slo.ttft, e.g. 1s, or turn it off with %s=0)", file, EnvSweep)
	}
	return nil
}

// set applies one key=value of INFBENCH_SWEEP.
func (s *Sweep) set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || !slices.Contains(sweepKeys, k) {
		return fmt.Errorf("%q: want 1, 0 or key=value settings separated by commas, the keys %s (e.g. start=8,max_cells=10)",
			kv, strings.Join(sweepKeys, ", "))
	}
	if k == "max_cells" || k == "requests" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number", k, v)
		}
		if k == "max_cells" {
			s.MaxCells = n
		} else {
			s.Requests = n
		}
		return nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("%s: %q is not a number", k, v)
	}
	switch k {
	case "start":
		s.Start = x
	case "factor":
		s.Factor = x
	case "resolution":
		s.Resolution = x
	case "min_rate":
		s.MinRate = x
	case "max_rate":
		s.MaxRate = x
	}
	return nil
}

// Validate checks the settings (zero: the default), naming the key.
func (s Sweep) Validate() error {
	d := s.Defaults()
	switch {
	case s.Start < 0 || math.IsNaN(s.Start):
		return fmt.Errorf("sweep.start: %v: give the first rate in requests/s, or 0 to start from the closed-loop cells' highest req/s", s.Start)
	case !(d.Factor > 1) || d.Factor > 100:
		return fmt.Errorf("sweep.factor: %v: must be above 1 and at most 100 (2 doubles the rate at each bracketing step)", s.Factor)
	case !(d.Resolution >= 0.01 && d.Resolution <= 1):
		return fmt.Errorf("sweep.resolution: %v: give the bracket's relative width to stop at, 0.01 to 1 (0.05: 5%%; rates are rounded to %d digits)", s.Resolution, SweepDigits)
	case d.MaxCells < 1 || d.MaxCells > 100:
		return fmt.Errorf("sweep.max_cells: %d: give 1 to 100 probes per search", s.MaxCells)
	case s.MinRate < 0 || math.IsNaN(s.MinRate):
		return fmt.Errorf("sweep.min_rate: %v: must not be negative (0: start ÷ 10)", s.MinRate)
	case s.MaxRate < 0 || math.IsNaN(s.MaxRate):
		return fmt.Errorf("sweep.max_rate: %v: must not be negative (0: no limit)", s.MaxRate)
	case s.MaxRate > 0 && s.Start > s.MaxRate:
		return fmt.Errorf("sweep.start: %v is above sweep.max_rate %v", s.Start, s.MaxRate)
	case s.Start > 0 && s.MinRate > s.Start:
		return fmt.Errorf("sweep.min_rate: %v is above sweep.start %v", s.MinRate, s.Start)
	case s.Requests != 0 && s.Requests < MinSweepRequests:
		return fmt.Errorf("sweep.requests: %d: give at least %d (each probe is judged on p99s, and a p99 needs 100 samples), or 0 for rate_requests",
			s.Requests, MinSweepRequests)
	}
	return nil
}
