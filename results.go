package infbench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// openResults creates the run's results folder in dir with run.json
// describing the suite and its engines, and names it on log.
func openResults(ctx context.Context, s *Suite, dir string, list []config.Engine, log io.Writer) (*resultsdir.Writer, error) {
	run := resultsdir.Run{Start: time.Now(), SLO: s.Run.SLO.Loadgen(), RunConfig: s.Run, Config: s.ConfigLines()}
	run.FillHost(ctx)
	for _, e := range list {
		run.Engines = append(run.Engines, resultsdir.Engine{Name: e.Name, Kind: e.Kind, Model: e.Model})
	}
	run.Model = models(run.Engines)
	w, err := resultsdir.Create(dir, run)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "[infbench] results in %s\n", dir)
	return w, nil
}

// closeResults closes the folder and, when a cell was measured, renders
// the charts and report.md from what it holds.
func closeResults(ctx context.Context, w *resultsdir.Writer, log io.Writer) error {
	if err := w.Close(); err != nil {
		return err
	}
	if w.Cells() == 0 {
		return nil
	}
	if err := report.Render(ctx, w.Dir(), report.WithLog(log)); err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	fmt.Fprintf(log, "[infbench] report in %s\n", filepath.Join(w.Dir(), report.ReportFile))
	return nil
}

// recordEngine adds a started engine's endpoint (its served model and
// Info lines) to run.json.
func recordEngine(w *resultsdir.Writer, e config.Engine, ep engines.Endpoint) error {
	model := ep.Model
	if model == "" {
		model = e.Model
	}
	return w.UpdateRun(func(r *resultsdir.Run) {
		i := slices.IndexFunc(r.Engines, func(x resultsdir.Engine) bool { return x.Name == e.Name })
		if i < 0 {
			r.Engines = append(r.Engines, resultsdir.Engine{Name: e.Name, Kind: e.Kind})
			i = len(r.Engines) - 1
		}
		r.Engines[i].Model, r.Engines[i].Info = model, ep.Info
		r.Model = models(r.Engines)
	})
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
