// Package config reads infbench's two configuration files, strictly:
// testdata/engines.yaml (the run: engines, concurrency levels, request
// counts, warmup, timeouts, SLO) and testdata/prompts.yaml (the prompt
// categories). An unknown field or a value of the wrong type fails with the
// file, the line and the field's path. Environment variables (INFBENCH_*)
// override the run; see ApplyEnv.
package config

import (
	"fmt"
	"os"
	"time"

	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/loadgen"
)

// Run is engines.yaml.
type Run struct {
	// API is chat (/v1/chat/completions) or completions (/v1/completions).
	API         string `yaml:"api"`
	Concurrency []int  `yaml:"concurrency"`
	// Rates adds open-loop cells: requests arrive at this many per second
	// (gamma gaps of shape Burstiness; 1 is Poisson) whatever the server
	// does, at most MaxInFlight at a time. Empty: closed loop only.
	Rates       []float64 `yaml:"rates"`
	Burstiness  float64   `yaml:"burstiness"`
	MaxInFlight int       `yaml:"max_in_flight"`
	// RateRequests is the number of measured requests of an open-loop cell.
	RateRequests int      `yaml:"rate_requests"`
	Prompts      []string `yaml:"prompts"` // categories to run; empty: all
	// Workloads defines workloads beyond the prompt categories (see
	// workload.go); WorkloadNames selects which run (INFBENCH_WORKLOADS).
	Workloads     []WorkloadSpec `yaml:"workloads"`
	WorkloadNames []string       `yaml:"run_workloads"`
	Requests      Count          `yaml:"requests"`
	// MaxTokens, when set, replaces every category's output length.
	MaxTokens int   `yaml:"max_tokens"`
	Warmup    Count `yaml:"warmup"`
	// Ramp spreads the first requests of a cell over this interval.
	Ramp     time.Duration `yaml:"ramp"`
	Timeouts Timeouts      `yaml:"timeouts"`
	SLO      SLO           `yaml:"slo"`
	Sweep    Sweep         `yaml:"sweep"`
	// Seed salts every prompt; 0 picks a random seed per run, so that
	// repeated runs never hit a prefix cache filled by an earlier one.
	Seed int64 `yaml:"seed"`
	// MaxErrorRate is the share of a cell's measured requests that may
	// fail (0.01 is 1%) before the run fails; unset: DefaultMaxErrorRate.
	MaxErrorRate *float64 `yaml:"max_error_rate"`
	// Profile names the model and GPU profile the container engines run
	// (INFBENCH_PROFILE overrides it); Profiles defines them.
	Profile  string             `yaml:"profile"`
	Profiles map[string]Profile `yaml:"profiles"`
	Engines  []Engine           `yaml:"engines"`
}

// DefaultMaxErrorRate is the max_error_rate of an engines.yaml that sets
// none: failed requests leave the latency and throughput statistics, so a
// cell's figures describe its survivors only; at 1% that bias is below
// the run-to-run noise benchstat reports, above it the figures describe
// a different load than the one offered.
const DefaultMaxErrorRate = 0.01

// ErrorRateLimit returns max_error_rate, or DefaultMaxErrorRate when unset.
func (r *Run) ErrorRateLimit() float64 {
	if r.MaxErrorRate == nil {
		return DefaultMaxErrorRate
	}
	return *r.MaxErrorRate
}

// Count is a number of requests per cell: max(Min, PerConcurrency × C),
// or Fixed when set (INFBENCH_REQUESTS).
type Count struct {
	Min            int `yaml:"min"`
	PerConcurrency int `yaml:"per_concurrency"`
	Fixed          int `yaml:"fixed"`
}

// For returns the count at concurrency c.
func (n Count) For(c int) int {
	if n.Fixed > 0 {
		return n.Fixed
	}
	return max(n.Min, n.PerConcurrency*c)
}

// Timeouts bound every wait.
type Timeouts struct {
	Stall   time.Duration `yaml:"stall"`   // no event for this long fails a request
	Request time.Duration `yaml:"request"` // one request, send to end of stream
	Startup time.Duration `yaml:"startup"` // an engine, start to ready
}

// Line is one benchfmt "key: value" configuration line: a run's settings,
// an engine's image, flags and fit, kept with the results so that a
// results file says what produced it.
type Line struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SLO bounds for goodput; zero is no bound. It is decoded here, and
// stays in run.json's run_config as written; Loadgen converts it, in the
// one place it is converted, to the type goodput is computed with.
type SLO struct {
	TTFT time.Duration `yaml:"ttft"`
	TPOT time.Duration `yaml:"tpot"`
	E2E  time.Duration `yaml:"e2e"`
}

// Loadgen is s as the SLO goodput is computed with.
func (s SLO) Loadgen() loadgen.SLO { return loadgen.SLO{TTFT: s.TTFT, TPOT: s.TPOT, E2E: s.E2E} }

// Engine is one engine entry.
type Engine struct {
	Name  string `yaml:"name"`  // benchmark name: engine=<name>
	Kind  string `yaml:"kind"`  // sim, external or container
	Model string `yaml:"model"` // served model name
	// URL of an external engine (kind external).
	URL     string         `yaml:"url"`
	Request RequestFields  `yaml:"request"`
	Sim     *SimSpec       `yaml:"sim"`
	Extra   map[string]any `yaml:"extra"` // extra request-body fields
	// Tokenize is the engine's tokenize route (POST {"model", "prompt"}
	// → {"count", ...}), used to make synthetic inputs exactly so many
	// tokens; "": none, lengths are estimated.
	Tokenize string `yaml:"tokenize"`
	// Container runs the engine from an image (kind container).
	Container *ContainerSpec `yaml:"container"`
}

// RequestFields says which optional fields the engine accepts.
type RequestFields struct {
	IgnoreEOS       bool `yaml:"ignore_eos"`
	IncludeUsage    bool `yaml:"include_usage"`
	ContinuousUsage bool `yaml:"continuous_usage"`
}

// SimSpec configures the simulated engine.
type SimSpec struct {
	MaxBatch   int `yaml:"max_batch"`
	MaxPrefill int `yaml:"max_prefill"`
	// Timing is the step-time model, decoded straight into the
	// simulator's own type (step_base, per_sequence, per_prefill_token,
	// per_context_token); all zero: sim.DefaultTiming.
	Timing sim.Linear `yaml:"timing"`
	// PrefixCacheTokens is sim.Config.PrefixCacheTokens: 0 the default (1<<20 tokens), negative off.
	PrefixCacheTokens int `yaml:"prefix_cache_tokens"`
}

// Engine kinds.
const (
	KindSim       = "sim"
	KindExternal  = "external"
	KindContainer = "container"
)

// LoadRun reads and validates an engines.yaml.
func LoadRun(path string) (*Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading run configuration: %w", err)
	}
	return ParseRun(path, data)
}

// ParseRun parses engines.yaml content; file names it in errors.
func ParseRun(file string, data []byte) (*Run, error) {
	var r Run
	if err := decodeStrict(file, data, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &r, nil
}

// Validate checks values that parse but cannot run.
func (r *Run) Validate() error {
	if r.API != "chat" && r.API != "completions" {
		return fmt.Errorf("api: %q: use chat or completions", r.API)
	}
	if len(r.Concurrency) == 0 {
		return fmt.Errorf("concurrency: give at least one level, e.g. [1, 10, 50, 100]")
	}
	for _, c := range r.Concurrency {
		if c < 1 {
			return fmt.Errorf("concurrency: %d: levels must be at least 1", c)
		}
	}
	for _, x := range r.Rates {
		if !(x > 0) {
			return fmt.Errorf("rates: %v: a rate is a positive number of requests per second", x)
		}
	}
	if !(r.Burstiness >= 0) || r.MaxInFlight < 0 || r.RateRequests < 0 {
		return fmt.Errorf("burstiness, max_in_flight and rate_requests must not be negative")
	}
	if e := r.MaxErrorRate; e != nil && !(*e >= 0 && *e <= 1) {
		return fmt.Errorf("max_error_rate: %v: give a fraction of requests between 0 and 1 (0.05 is 5%%)", *e)
	}
	if r.Requests.For(1) < 1 {
		return fmt.Errorf("requests: set min or per_concurrency so that every cell sends at least one request")
	}
	if r.Warmup.Min < 0 || r.Warmup.PerConcurrency < 0 {
		return fmt.Errorf("warmup: counts must not be negative")
	}
	for name, d := range map[string]time.Duration{"timeouts.stall": r.Timeouts.Stall,
		"timeouts.request": r.Timeouts.Request, "timeouts.startup": r.Timeouts.Startup} {
		if d <= 0 {
			return fmt.Errorf("%s: %v: must be positive (a wait without a deadline can hang)", name, d)
		}
	}
	seen := map[string]bool{}
	for i, e := range r.Engines {
		if e.Name == "" {
			return fmt.Errorf("engines[%d]: name is required", i)
		}
		if !validName(e.Name) {
			return fmt.Errorf("engines[%d]: name %q: use lower-case letters, digits, '.', '_' and '-' (it becomes engine=%s in benchmark names and engine-%s-… configuration keys)", i, e.Name, e.Name, e.Name)
		}
		if seen[e.Name] {
			return fmt.Errorf("engines[%d]: duplicate name %q", i, e.Name)
		}
		seen[e.Name] = true
		switch e.Kind {
		case KindSim, KindExternal, KindContainer:
		default:
			return fmt.Errorf("engines[%d] (%s): kind %q: use sim, external or container", i, e.Name, e.Kind)
		}
		if e.Model == "" && e.Kind != KindExternal {
			return fmt.Errorf("engines[%d] (%s): model is required", i, e.Name)
		}
		if err := e.validateSim(); err != nil {
			return fmt.Errorf("engines[%d] (%s): %w", i, e.Name, err)
		}
		if err := e.validateContainer(); err != nil {
			return fmt.Errorf("engines[%d] (%s): %w", i, e.Name, err)
		}
	}
	if err := r.validateWorkloads(); err != nil {
		return err
	}
	return r.validateProfiles()
}

// validateSim checks a simulator's timing, if one is given.
func (e Engine) validateSim() error {
	if e.Sim == nil || e.Sim.Timing == (sim.Linear{}) {
		return nil
	}
	return e.Sim.Timing.Validate()
}

// Engine returns the engine entry named name.
func (r *Run) Engine(name string) (Engine, bool) {
	for _, e := range r.Engines {
		if e.Name == name {
			return e, true
		}
	}
	return Engine{}, false
}

// validName reports a name safe in a benchmark name (no '/', which
// benchstat splits on, no space), a configuration key and a file name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case i > 0 && (r == '.' || r == '_' || r == '-'):
		default:
			return false
		}
	}
	return true
}
