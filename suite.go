package infbench

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/loadgen/streamhttp"
	"github.com/infbench/infbench/workload"
)

// Suite is a loaded run configuration and prompt set, with the
// environment applied: what BenchmarkServe runs.
type Suite struct {
	RunFile string // where Run was read from
	Run     *config.Run
	Prompts *config.Prompts
	API     loadgen.API
	Seed    uint64
	// Clock is the clock line: which clock stamps this run's events,
	// probed once when the suite is loaded.
	Clock config.Line
	// Sources are the workloads: entries of engines.yaml, by name
	// (datasets read and checked when the suite is loaded).
	Sources map[string]cell.Source
	// Sharding is this process's place in a sharded run (INFBENCH_SHARD).
	Sharding config.Sharding
}

// EnvSeed overrides the prompt-salt seed (hexadecimal), e.g. to rerun
// with a seed printed in an earlier results file.
const EnvSeed = "INFBENCH_SEED"

// RandomSeed returns a random non-zero seed of 12 hex digits.
func RandomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])>>16 | 1
}

// Load reads engines.yaml and prompts.yaml and applies the INFBENCH_*
// variables that getenv returns.
func Load(runPath, promptsPath string, getenv func(string) string) (*Suite, error) {
	run, err := config.LoadRun(runPath)
	if err != nil {
		return nil, err
	}
	if err := run.ApplyEnv(getenv); err != nil {
		return nil, err
	}
	if err := run.ApplyProfile(getenv); err != nil {
		return nil, err
	}
	if err := run.ApplySweep(runPath, getenv); err != nil {
		return nil, err
	}
	prompts, err := config.LoadPrompts(promptsPath)
	if err != nil {
		return nil, err
	}
	for _, c := range run.Prompts {
		if _, ok := prompts.Categories[c]; !ok {
			return nil, fmt.Errorf("prompt category %q (from %s or %s) is not in %s: use %s",
				c, runPath, config.EnvPrompts, promptsPath, strings.Join(prompts.Order, ", "))
		}
	}
	sources, err := loadSources(run, prompts, runPath, promptsPath)
	if err != nil {
		return nil, err
	}
	api, err := loadgen.ParseAPI(run.API)
	if err != nil {
		return nil, err
	}
	seed := uint64(run.Seed)
	if v := getenv(EnvSeed); v != "" {
		if seed, err = strconv.ParseUint(v, 16, 64); err != nil || seed == 0 {
			return nil, fmt.Errorf("%s=%q: want a non-zero hexadecimal number", EnvSeed, v)
		}
	}
	if seed == 0 {
		seed = RandomSeed()
	}
	sharding, err := config.ParseSharding(getenv)
	if err != nil {
		return nil, err
	}
	if sharding.Sharded() && run.Sweep.Enabled {
		return nil, fmt.Errorf("shard %d of %d: the capacity search (%s or sweep.enabled in %s) runs in one process only: each shard would judge the probes on its own share and the shards would part at different rates; unset %s (or %s) for the search, or turn the search off (%s=off) to shard the run",
			sharding.Index, sharding.Count, config.EnvSweep, runPath, config.EnvShard, config.EnvShards, config.EnvSweep)
	}
	s := &Suite{RunFile: runPath, Run: run, Prompts: prompts, API: api, Seed: seed, Sources: sources, Sharding: sharding}
	s.Clock = s.clockLine()
	return s, nil
}

// Workloads returns the workloads to run, by name: those INFBENCH_WORKLOADS
// (or run_workloads:) names, else the prompt categories INFBENCH_PROMPTS
// (or prompts:) names, else every prompt category in file order.
func (s *Suite) Workloads() []string {
	if len(s.Run.WorkloadNames) > 0 {
		return s.Run.WorkloadNames
	}
	if len(s.Run.Prompts) > 0 {
		return s.Run.Prompts
	}
	return s.Prompts.Order
}

// Engines returns the engine entries this build runs: the external engine
// when INFBENCH_TARGET is set; otherwise the containers with the gpu build
// tag and the simulator without it.
func (s *Suite) Engines() []config.Engine {
	var out []config.Engine
	for _, e := range s.Run.Engines {
		switch {
		case e.Kind == config.KindExternal,
			e.Kind == config.KindContainer && engines.GPUBuild,
			e.Kind == config.KindSim && !engines.GPUBuild:
			out = append(out, e)
		}
	}
	return out
}

// Cell returns the cell for an engine, a concurrency and a workload: a
// prompt category (Prompts and MaxTokens set) or a workloads: entry
// (Source set).
func (s *Suite) Cell(engine string, conc int, workload string) cell.Cell {
	c := cell.Cell{
		Engine: engine, Concurrency: conc, Workload: workload,
		Requests: s.Run.Requests.For(conc),
		Warmup:   s.Run.Warmup.For(conc),
		Ramp:     s.Run.Ramp,
		SLO:      s.Run.SLO.Loadgen(),
		Seed:     s.Seed,
		Shard:    s.cellShard(),
	}
	if src, ok := s.Sources[workload]; ok {
		c.Source = src
		return c
	}
	cat := s.Prompts.Categories[workload]
	c.MaxTokens = cat.MaxTokens
	if s.Run.MaxTokens > 0 {
		c.MaxTokens = s.Run.MaxTokens
	}
	for _, p := range cat.Prompts {
		c.Prompts = append(c.Prompts, s.Prompts.Text(p))
	}
	return c
}

// Workload is what the run asks of an engine, for its fit check: the
// highest concurrency level, and the longest sequence of any workload run
// (cell.Source.MaxSeqTokens: input and output, prompt texts estimated at 4
// bytes a token plus a chat template's few tokens; a synthetic length's
// distribution's upper end; a whole multi-turn conversation).
func (s *Suite) Workload() engines.Workload {
	w := engines.Workload{Concurrency: slices.Max(s.Run.Concurrency)}
	for _, name := range s.Workloads() {
		w.TokensPerSeq = max(w.TokensPerSeq, s.Cell("", 1, name).Src().MaxSeqTokens())
	}
	return w
}

// RateCell returns the open-loop cell for an engine, a request rate and a
// workload: rate_requests measured requests (default 200; INFBENCH_REQUESTS
// overrides), after one second's worth of warmup.
func (s *Suite) RateCell(engine string, rate float64, workload string) cell.Cell {
	c := s.Cell(engine, 1, workload)
	c.Concurrency, c.Rate, c.Burstiness = 0, rate, s.Run.Burstiness
	c.MaxInFlight = s.Run.MaxInFlight
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1024
	}
	c.Requests = s.Run.RateRequests
	if c.Requests == 0 {
		c.Requests = 200
	}
	if s.Run.Requests.Fixed > 0 {
		c.Requests = s.Run.Requests.Fixed
	}
	c.Warmup = max(s.Run.Warmup.Min, int(math.Ceil(rate)))
	return c
}

// Level is one load level of an engine's matrix — conc=C, or rate=R for
// an open loop — with a cell per workload.
type Level struct {
	Name  string
	Cells []cell.Cell
}

// Matrix is an engine's cells by load level: the concurrency levels, then
// the open-loop rates, which leave out the closed-loop-only (multi_turn)
// workloads (Notes says so).
func (s *Suite) Matrix(engine string) []Level {
	var out []Level
	for _, conc := range s.Run.Concurrency {
		l := Level{Name: fmt.Sprintf("conc=%d", conc)}
		for _, w := range s.Workloads() {
			l.Cells = append(l.Cells, s.Cell(engine, conc, w))
		}
		out = append(out, l)
	}
	for _, rate := range s.Run.Rates {
		l := Level{Name: cell.RateLoad(rate)}
		for _, w := range s.Workloads() {
			if c := s.RateCell(engine, rate, w); !c.Src().ClosedLoopOnly() {
				l.Cells = append(l.Cells, c)
			}
		}
		if len(l.Cells) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// SweepWorkloads are the workloads a capacity search (sweep: on) runs
// on: all but the closed-loop-only (multi_turn) ones, whose next turn
// waits for the previous answer, so that no open loop can offer them a
// rate (Notes says so).
func (s *Suite) SweepWorkloads() []string {
	var out []string
	for _, w := range s.Workloads() {
		if !s.Cell("", 1, w).Src().ClosedLoopOnly() {
			out = append(out, w)
		}
	}
	return out
}

// Notes are progress lines about the matrix, for stderr before the run:
// the rate cells and capacity searches left out of closed-loop-only
// workloads.
func (s *Suite) Notes() []string {
	var out []string
	for _, w := range s.Workloads() {
		if !s.Cell("", 1, w).Src().ClosedLoopOnly() {
			continue
		}
		if len(s.Run.Rates) > 0 {
			out = append(out, fmt.Sprintf("workload %s is multi_turn: its rate cells (%s) are skipped, it runs in a closed loop only", w, rateList(s.Run.Rates)))
		}
		if s.Run.Sweep.Enabled {
			out = append(out, fmt.Sprintf("workload %s is multi_turn: it has no capacity search (the search offers open-loop rates), it runs in a closed loop only", w))
		}
	}
	return out
}

// ConfigLines are the benchfmt configuration lines describing the run.
func (s *Suite) ConfigLines() []config.Line {
	levels := make([]string, len(s.Run.Concurrency))
	for i, c := range s.Run.Concurrency {
		levels[i] = fmt.Sprint(c)
	}
	lines := []config.Line{
		{Key: "infbench-api", Value: string(s.API)},
		{Key: "infbench-seed", Value: fmt.Sprintf("%x", s.Seed)},
		{Key: "infbench-concurrency", Value: strings.Join(levels, ",")},
		{Key: "infbench-rates", Value: rateList(s.Run.Rates)},
		{Key: "infbench-requests", Value: requestsRule(s.Run.Requests)},
		{Key: "infbench-warmup", Value: requestsRule(s.Run.Warmup)},
		{Key: "infbench-max-error-rate", Value: strconv.FormatFloat(s.Run.ErrorRateLimit(), 'g', -1, 64)},
		s.Clock,
	}
	for _, w := range s.Workloads() {
		cl := s.Cell("", 1, w)
		if cl.Source == nil {
			lines = append(lines, config.Line{Key: "prompt-" + w + "-max-tokens", Value: fmt.Sprint(cl.MaxTokens)})
		}
		lines = append(lines, config.Line{Key: "workload-" + w, Value: cl.Src().Describe()})
	}
	return lines
}

// clockLine says which clock stamps the run's events: "kernel" (the time
// the kernel received their bytes) where this machine's kernel gives
// receive timestamps and no engine is reached over https, else "user"
// with the reason. Each cell's summary still says which clock stamped its
// own events, and flags one that was not the kernel's.
func (s *Suite) clockLine() config.Line {
	for _, e := range s.Engines() {
		if strings.HasPrefix(e.URL, "https://") {
			return config.Line{Key: "clock", Value: "user (engine " + e.Name + " is reached over https: TLS buffers below the plaintext)"}
		}
	}
	if ok, err := streamhttp.KernelStamps(); !ok {
		return config.Line{Key: "clock", Value: "user (" + err.Error() + ")"}
	}
	return config.Line{Key: "clock", Value: string(streamhttp.ClockKernel)}
}

func requestsRule(c config.Count) string {
	if c.Fixed > 0 {
		return fmt.Sprintf("%d per cell", c.Fixed)
	}
	return fmt.Sprintf("max(%d, %d×concurrency) per cell", c.Min, c.PerConcurrency)
}

func rateList(rates []float64) string {
	if len(rates) == 0 {
		return "none (closed loop only)"
	}
	parts := make([]string, len(rates))
	for i, r := range rates {
		parts[i] = strconv.FormatFloat(r, 'g', -1, 64)
	}
	return strings.Join(parts, ",") + " requests/s"
}

// loadSources builds the workloads: entries' sources and checks that every
// workload named to run exists: a prompt category or an entry, not both.
func loadSources(run *config.Run, prompts *config.Prompts, runPath, promptsPath string) (map[string]cell.Source, error) {
	out := map[string]cell.Source{}
	for _, w := range run.Workloads {
		if _, ok := prompts.Categories[w.Name]; ok {
			return nil, fmt.Errorf("%s: workloads: %q is also a prompt category of %s: give it another name", runPath, w.Name, promptsPath)
		}
		src, err := workload.New(w, filepath.Dir(runPath))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", runPath, err)
		}
		out[w.Name] = src
	}
	for _, name := range run.WorkloadNames {
		if _, ok := prompts.Categories[name]; ok {
			continue
		}
		if _, ok := out[name]; !ok {
			known := append(slices.Clone(prompts.Order), slices.Sorted(maps.Keys(out))...)
			return nil, fmt.Errorf("workload %q (from %s or %s) is neither a prompt category of %s nor a workloads: entry of %s: use %s",
				name, runPath, config.EnvWorkloads, promptsPath, runPath, strings.Join(known, ", "))
		}
	}
	return out, nil
}
