package infbench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/gpumem"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/servermetrics"
	"github.com/infbench/infbench/shard"
)

// Run is one benchmark run: what every engine and cell of it shares — the
// suite, the results folder, the GPU it measures (nil without telemetry),
// the salts of its prompts, and where progress and configuration lines go.
// The data flows one way through it: configuration (Suite) → an engine
// (StartEngine, an endpoint) → a cell's records (Engine.Measure, through
// package cell and loadgen) → its summary and metrics → the results
// folder and, at Close, the report.
type Run struct {
	Suite    *Suite
	Results  *resultsdir.Writer
	GPU      *gpumem.GPU
	Salts    *cell.Salter
	Progress *Progress
	Stdout   io.Writer     // configuration lines (benchfmt reads them)
	Shard    *shard.Member // a sharded run's barrier; nil unsharded
}

// OpenRun creates the results folder (INFBENCH_RESULTS, else
// results/<UTC time>) for the engines of this build, and opens GPU
// telemetry where they run on this machine's GPU (gpuBuild: -tags=gpu),
// printing the GPU's configuration lines. Close it when the run ends.
func OpenRun(ctx context.Context, s *Suite, p *Progress, stdout io.Writer, gpuBuild bool) (*Run, error) {
	w, err := openResults(ctx, s, resultsdir.Dir(os.Getenv, time.Now()), s.Engines(), p.W())
	if err != nil {
		return nil, err
	}
	r := &Run{Suite: s, Results: w, Progress: p, Stdout: stdout}
	if err := r.joinShards(ctx); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	salt := saltSeed(s.Seed, r.Shard)
	r.Salts = cell.NewShardSalter(salt, s.cellShard())
	if err := w.UpdateRun(func(run *resultsdir.Run) { run.SaltSeed = fmt.Sprintf("%x", salt) }); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	g, why := OpenTelemetry(gpuBuild, nvml.New())
	if g == nil {
		fmt.Fprintln(p.W(), "[infbench]", why)
		return r, nil
	}
	r.GPU = g
	for _, l := range g.ConfigLines() {
		fmt.Fprintln(stdout, l)
	}
	if err := w.UpdateRun(func(run *resultsdir.Run) { run.GPU = g.Info().Name }); err != nil {
		return nil, errors.Join(err, r.Close(ctx))
	}
	return r, nil
}

// Close closes the GPU and the results folder and, when a cell was
// measured, renders the charts and report.md.
func (r *Run) Close(ctx context.Context) error {
	if r.GPU != nil {
		_ = r.GPU.Close()
	}
	return errors.Join(closeResults(ctx, r.Results, r.Progress.W()), r.closeShards())
}

// Engine is an engine started for a run.
type Engine struct {
	run      *Run
	Config   config.Engine
	Endpoint engines.Endpoint
	eng      engines.Engine
	stopGPU  func()
	// noServerMetricsSaid: the progress writer was told why this engine's
	// cells carry no server metrics (once per engine).
	noServerMetricsSaid bool
	// probing: the cells measured are a capacity search's probes, whose
	// errors do not fail the run (sweep.go).
	probing bool
}

// StartEngine starts e: it takes the GPU memory baseline and starts
// sampling, brings the engine up (within the start-up timeout of
// engines.yaml, and terminating it before deadline where that is not
// zero), prints its Info lines as configuration lines and records it in
// run.json. An engine this build cannot run returns an error wrapping
// engines.ErrSkip. Stop the engine whether or not Start failed: it also
// stops what was started before the failure.
func (r *Run) StartEngine(ctx context.Context, e config.Engine, deadline time.Time) (*Engine, error) {
	s := r.Suite
	eng, err := engines.New(e, s.Run,
		engines.WithAPIKey(os.Getenv(config.EnvAPIKey)),
		engines.WithLogDir(r.Results.Dir()),
		engines.WithDeadline(deadline),
		engines.WithWorkload(s.Workload()),
		engines.WithNotices(r.Progress.W()))
	if err != nil {
		return nil, err
	}
	x := &Engine{run: r, Config: e, eng: eng, stopGPU: func() {}}
	stop, err := engineTelemetry(ctx, r.GPU, r.Results.Dir(), e.Name, r.Progress.W()) // baseline before the engine starts
	if err != nil {
		return x, err
	}
	x.stopGPU = stop
	startCtx, cancel := context.WithTimeout(ctx, s.Run.Timeouts.Startup)
	defer cancel()
	fmt.Fprintf(r.Progress.W(), "[infbench] starting engine %s\n", e.Name)
	ep, err := eng.Start(startCtx)
	if err != nil {
		return x, err
	}
	x.Endpoint = ep
	for _, l := range ep.Info {
		fmt.Fprintf(r.Stdout, "%s: %s\n", l.Key, l.Value)
	}
	return x, recordEngine(r.Results, e, ep)
}

// Stop stops the engine, then its GPU sampling.
func (x *Engine) Stop(ctx context.Context) error {
	defer x.stopGPU()
	if err := x.eng.Stop(ctx); err != nil {
		return fmt.Errorf("stopping engine %s: %w", x.Config.Name, err)
	}
	return nil
}

// Result is one measured cell: its summary, what the engine's own
// metrics said over it (nil without them) and the metrics of its
// benchmark line (the summary's, the GPU's, then the server's).
type Result struct {
	Key     resultsdir.Key // the cell run in summary.json and requests.jsonl
	Summary loadgen.Summary
	Server  *servermetrics.Cell
	Metrics []loadgen.Metric
}

// Measure runs one cell on the engine: a client sized for it, GPU
// sampling and the engine's own metrics (package servermetrics: scraped
// before, every servermetrics.DefaultInterval during and after the
// cell, warmup included) over the whole cell, each request appended to
// requests.jsonl as it completes and the summary, with the server
// metrics, to summary.json when it ends, stopped or not. A closed-loop
// cell whose engine never ran as many requests at once as its
// concurrency while requests waited is flagged (a batch limit). An
// engine without a metrics endpoint, or whose first scrape fails, runs
// the cell anyway, and the progress writer is told why once per engine.
// Progress lines go where the run's Progress sends them for b. A cell
// stopped early (its first requests all failed the same way) or whose
// requests all failed returns its result with the error; one with more
// failures than max_error_rate returns no error, says so on the progress
// writer, and fails the run when it ends (Main).
func (x *Engine) Measure(ctx context.Context, b Bench, c cell.Cell) (Result, error) {
	r, s, ep := x.run, x.run.Suite, x.Endpoint
	tgt := target(ep, s.API)
	tgt.TokenizePath = x.Config.Tokenize
	client, err := loadgen.NewClient(tgt, c.Conns(),
		loadgen.WithStallTimeout(s.Run.Timeouts.Stall), loadgen.WithRequestTimeout(s.Run.Timeouts.Request))
	if err != nil {
		return Result{}, err
	}
	defer client.Close()
	key, sink := r.Results.Begin(c)
	c.Rep = key.Rep
	progress, done := r.Progress.ForCell(b, key.Rep)
	start, err := r.shardBarrier(ctx, key, c)
	if err != nil {
		done()
		return Result{}, err
	}
	stopGPU := cellTelemetry(ctx, r.GPU)
	stopServer := x.serverMetrics(ctx, progress)
	sink, serr := r.startShard(ctx, key, c, start, sink)
	recs, sum, err := cell.Run(ctx, client, c, r.Salts, sink, progress)
	err = errors.Join(err, serr)
	// Energy over the whole cell, warmup included, per token generated in
	// it: the sampler cannot tell warmup joules from measured ones.
	gpu := stopGPU(outputTokens(recs))
	server := stopServer(ctx, c)
	if limit := s.Run.ErrorRateLimit(); err == nil && sum.ErrorRate > limit && !x.probing {
		fmt.Fprintf(progress, "[infbench] %s: %.1f%% of its requests failed, above max_error_rate %g: the run will fail when it ends\n",
			c.Name(), 100*sum.ErrorRate, limit)
	}
	done()
	if werr := r.Results.Add(resultsdir.CellSummary{Key: key, Summary: sum, Server: server}); werr != nil {
		return Result{}, werr
	}
	return Result{Key: key, Summary: sum, Server: server, Metrics: append(append(sum.Metrics(), gpu...), serverLine(server)...)}, err
}

// serverMetrics starts scraping the engine's metrics endpoint for a cell
// and returns the function that stops it when the cell has ended: it
// flags a batch limit and says on the progress writer what weakens the
// figures. Without an endpoint, or when the first scrape fails, the cell
// runs without server metrics (stop returns nil) and the progress writer
// is told why, once per engine.
func (x *Engine) serverMetrics(ctx context.Context, progress io.Writer) (stop func(context.Context, cell.Cell) *servermetrics.Cell) {
	none := func(context.Context, cell.Cell) *servermetrics.Cell { return nil }
	why := func(format string, args ...any) {
		if !x.noServerMetricsSaid {
			x.noServerMetricsSaid = true
			fmt.Fprintf(progress, "[infbench] engine %s: no server metrics: "+format+"\n", append([]any{x.Config.Name}, args...)...)
		}
	}
	url := x.Endpoint.MetricsURL
	if url == "" {
		why("it has no Prometheus endpoint (metrics: in engines.yaml; TensorRT-LLM serves /prometheus/metrics only with return_perf_metrics: true)")
		return none
	}
	smp, err := servermetrics.Start(ctx, url)
	if err != nil {
		why("%v; its cells run without them", err)
		return none
	}
	return func(ctx context.Context, c cell.Cell) *servermetrics.Cell {
		m := smp.Stop(ctx)
		m.FlagBatchLimit(c.Concurrency)
		if m.FailedScrapes > 0 {
			fmt.Fprintf(progress, "[infbench] %s: %d scrapes of %s failed (the figures are of the others), last: %s\n",
				c.Name(), m.FailedScrapes, url, m.LastError)
		}
		for _, f := range m.Flags {
			fmt.Fprintf(progress, "[infbench] %s: flag: %s\n", c.Name(), f)
		}
		return &m
	}
}

// serverLine is a cell's server metrics as benchmark metrics.
func serverLine(m *servermetrics.Cell) []loadgen.Metric {
	if m == nil {
		return nil
	}
	sm := m.Metrics()
	out := make([]loadgen.Metric, len(sm))
	for i, x := range sm {
		out[i] = loadgen.Metric{Value: x.Value, Unit: x.Unit}
	}
	return out
}

// target is the endpoint as the client sees it: where to send, and the
// request fields the engine accepts. The one place an engines.Endpoint
// becomes a loadgen.Target.
func target(ep engines.Endpoint, api loadgen.API) loadgen.Target {
	return loadgen.Target{BaseURL: ep.BaseURL, Model: ep.Model, API: api,
		IgnoreEOS: ep.IgnoreEOS, IncludeUsage: ep.IncludeUsage, ContinuousUsage: ep.ContinuousUsage,
		Extra: ep.Extra, Headers: ep.Headers}
}

// outputTokens sums the output tokens of the completed requests, warmup
// included.
func outputTokens(recs []loadgen.Record) int {
	n := 0
	for i := range recs {
		if recs[i].OK() {
			n += recs[i].OutputTokens
		}
	}
	return n
}

// saltSeed is the seed of a run's prompt salts: the run seed mixed with
// a value new to this run — random, or in a sharded run the hash of its
// coordinator's run id, which every shard shares (their salts stay
// disjoint, and a shared prefix's group salt the same on every shard).
// A rerun with INFBENCH_SEED reproduces the open-loop schedules and the
// workloads' samples and lengths (they use the run seed), but none of an
// earlier run's prompts: a long-lived server's prefix cache cannot serve
// them.
func saltSeed(seed uint64, m *shard.Member) uint64 {
	if m == nil {
		return seed ^ RandomSeed()
	}
	h := fnv.New64a()
	h.Write([]byte(m.Run))
	return seed ^ (h.Sum64() | 1)
}
