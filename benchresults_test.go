package infbench_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// openResults creates the run's results folder (INFBENCH_RESULTS, else
// results/<UTC time>), prints its path to stderr, and, when the matrix is
// done, closes it and renders the charts and report.md from what it holds.
func openResults(b *testing.B, s *infbench.Suite, list []config.Engine, log io.Writer) *resultsdir.Writer {
	now := time.Now()
	run := resultsdir.Run{
		Start:     now,
		SLO:       loadgen.SLO{TTFT: s.Run.SLO.TTFT, TPOT: s.Run.SLO.TPOT, E2E: s.Run.SLO.E2E},
		RunConfig: s.Run,
	}
	run.FillHost(b.Context())
	for _, l := range s.ConfigLines() {
		run.Config = append(run.Config, resultsdir.Line{Key: l.Key, Value: l.Value})
	}
	for _, e := range list {
		run.Engines = append(run.Engines, resultsdir.Engine{Name: e.Name, Kind: e.Kind, Model: e.Model})
	}
	run.Model = models(run.Engines)
	dir := resultsdir.Dir(os.Getenv, now)
	w, err := resultsdir.Create(dir, run)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(log, "[infbench] results in %s\n", dir)
	b.Cleanup(func() {
		if err := w.Close(); err != nil {
			b.Error(err)
		}
		if w.Cells() == 0 {
			return
		}
		// b.Context is done by now; rendering takes a second or two.
		if err := report.Render(context.WithoutCancel(b.Context()), dir, report.WithLog(log)); err != nil {
			b.Errorf("rendering the report: %v", err)
			return
		}
		fmt.Fprintf(log, "[infbench] report in %s\n", filepath.Join(dir, report.ReportFile))
	})
	return w
}

// recordEngine adds a started engine's endpoint (its served model and
// Info lines) to run.json.
func recordEngine(b *testing.B, w *resultsdir.Writer, e config.Engine, ep engines.Endpoint) {
	info := make([]resultsdir.Line, len(ep.Info))
	for i, l := range ep.Info {
		info[i] = resultsdir.Line{Key: l.Key, Value: l.Value}
	}
	model := ep.Model
	if model == "" {
		model = e.Model
	}
	if err := w.UpdateRun(func(r *resultsdir.Run) {
		i := slices.IndexFunc(r.Engines, func(x resultsdir.Engine) bool { return x.Name == e.Name })
		if i < 0 {
			r.Engines = append(r.Engines, resultsdir.Engine{Name: e.Name, Kind: e.Kind})
			i = len(r.Engines) - 1
		}
		r.Engines[i].Model, r.Engines[i].Info = model, info
		r.Model = models(r.Engines)
	}); err != nil {
		b.Fatal(err)
	}
}

// runRecorded runs a cell with cell.Run, appending each request
// to requests.jsonl as it completes and the cell's summary to
// summary.json when it ends, stopped or not. Progress goes where r.out
// says, live where it can.
func runRecorded(b *testing.B, r *benchRun, d loadgen.Doer, cl cell.Cell) ([]loadgen.Record, loadgen.Summary, error) {
	key := resultsdir.Key{Cell: cl.Name(), Engine: cl.Engine, Conc: cl.Concurrency, Rate: cl.Rate, Prompt: cl.Category,
		Rep: r.rw.NextRep(cl.Name())}
	cl.Rep = key.Rep
	progress, done := r.out.forCell(b, key.Rep)
	recs, sum, err := cell.Run(b.Context(), d, cl, r.salts, r.rw.Sink(key), progress)
	if limit := r.s.Run.ErrorRateLimit(); err == nil && sum.ErrorRate > limit {
		fmt.Fprintf(progress, "[infbench] %s: %.1f%% of its requests failed, above max_error_rate %g: the run will fail when it ends\n",
			cl.Name(), 100*sum.ErrorRate, limit)
	}
	done()
	if werr := r.rw.AddSummary(key, sum); werr != nil {
		b.Fatal(werr)
	}
	return recs, sum, err
}

// models is the engines' served models, joined.
func models(es []resultsdir.Engine) string {
	var ms []string
	for _, e := range es {
		if e.Model != "" && !slices.Contains(ms, e.Model) {
			ms = append(ms, e.Model)
		}
	}
	return strings.Join(ms, ", ")
}
