package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/infbench/infbench/resultsdir"
)

// ReportFile is the Markdown report's name in the results folder.
const ReportFile = "report.md"

// Option configures Render and Rebuild.
type Option func(*options)

type options struct {
	imageDir string
	log      io.Writer
}

// WithImageDir also writes every PNG chart to dir (docs/img, for the
// README).
func WithImageDir(dir string) Option { return func(o *options) { o.imageDir = dir } }

// WithLog sends warnings (a cut-short requests.jsonl, an unreadable old
// summary) to w; by default they are dropped.
func WithLog(w io.Writer) Option { return func(o *options) { o.log = w } }

// Rebuild recomputes summary.json in dir from requests.jsonl, then
// renders the charts and report.md from it.
func Rebuild(ctx context.Context, dir string, opts ...Option) error {
	o := newOptions(opts)
	run, err := resultsdir.ReadRun(dir)
	if err != nil {
		return err
	}
	reqs, sums, err := rebuild(dir, run, o.warn)
	if err != nil {
		return err
	}
	return render(ctx, dir, run, sums, reqs, o)
}

// Render draws the charts and report.md in dir from run.json and
// summary.json as they are.
func Render(ctx context.Context, dir string, opts ...Option) error {
	run, err := resultsdir.ReadRun(dir)
	if err != nil {
		return err
	}
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		return err
	}
	o := newOptions(opts)
	// The distributions need every request; a folder without
	// requests.jsonl still gets its tables and other charts.
	reqs, truncated, err := resultsdir.ReadRequests(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		o.warn(fmt.Sprintf("no %s: the latency distributions are left out", resultsdir.RequestsFile))
	case err != nil:
		return err
	case truncated:
		o.warn(fmt.Sprintf("%s: the last line was cut short (the run was killed while writing it) and is left out", resultsdir.RequestsFile))
	}
	return render(ctx, dir, run, sums, reqs, o)
}

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

func (o options) warn(msg string) {
	if o.log != nil {
		fmt.Fprintln(o.log, "infbench report:", msg)
	}
}

func render(ctx context.Context, dir string, run *resultsdir.Run, sums *resultsdir.Summaries, reqs []resultsdir.Request, o options) error {
	pal := newPalette(run.EngineNames())
	cats := Categories(sums.Cells, run.EngineNames())
	for _, c := range cats {
		for _, e := range c.Engines {
			pal.add(e)
		}
	}
	sweeps, err := resultsdir.ReadSweeps(dir)
	if err != nil {
		return err
	}
	ttft, e2e := latencySamples(reqs)
	slo := runSLO(run)
	var secs []section
	var files []string
	for _, c := range cats {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rendering %s: %w", dir, err)
		}
		cs := chartSet{dir: dir, c: c, pal: pal, gpus: run.GPUCount(), model: run.Model, slo: slo,
			caps: capacities(sweeps.Sweeps, c), closedReps: maxReps(c, false), openReps: maxReps(c, true)}
		sec := section{c: c, caps: cs.caps}
		if sec.closed, err = cs.closedCharts(); err != nil {
			return err
		}
		if len(c.Concs) > 0 {
			name := fileSafe(c.Workload)
			for _, d := range []struct {
				base, what string
				smp        samples
			}{{"cdf-ttft-" + name, "TTFT", ttft[c.Workload]}, {"cdf-e2e-" + name, "E2E", e2e[c.Workload]}} {
				ch, err := cs.cdfChart(d.base, d.what, d.smp)
				if err != nil {
					return fmt.Errorf("chart %s: %w", d.base, err)
				}
				if ch != nil {
					sec.dists = append(sec.dists, *ch)
				}
			}
		}
		if sec.open, err = cs.openCharts(); err != nil {
			return err
		}
		for _, chs := range [][]chart{sec.closed, sec.dists, sec.open} {
			for _, ch := range chs {
				files = append(files, ch.File)
			}
		}
		secs = append(secs, sec)
	}
	tel, err := readTelemetry(dir, run.Start, &pal)
	if err != nil {
		return err
	}
	gpu, err := gpuCharts(dir, tel, pal)
	if err != nil {
		return err
	}
	for _, ch := range gpu {
		files = append(files, ch.File)
	}
	if err := writeFile(filepath.Join(dir, CSVFile), func(w io.Writer) error { return writeCSV(w, sums.Cells) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, ReportFile), func(w io.Writer) error { return markdown(w, run, secs, gpu) }); err != nil {
		return err
	}
	if o.imageDir != "" {
		return copyFiles(dir, o.imageDir, files)
	}
	return nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the report: %w (is the results folder writable?)", err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func copyFiles(from, to string, names []string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("creating image folder: %w", err)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			return fmt.Errorf("copying chart: %w", err)
		}
		if err := os.WriteFile(filepath.Join(to, n), data, 0o644); err != nil {
			return fmt.Errorf("copying chart to %s: %w", to, err)
		}
	}
	return nil
}
