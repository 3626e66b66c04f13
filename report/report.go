package report

import (
	"context"
	"fmt"
	"io"
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
	sums, err := rebuild(dir, run, o.warn)
	if err != nil {
		return err
	}
	return render(ctx, dir, run, sums, o)
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
	return render(ctx, dir, run, sums, newOptions(opts))
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

func render(ctx context.Context, dir string, run *resultsdir.Run, sums *resultsdir.Summaries, o options) error {
	pal := newPalette(run.EngineNames())
	closed, open := splitLoops(sums.Cells)
	cats := Categories(closed, run.EngineNames())
	for _, c := range cats {
		for _, e := range c.Engines {
			pal.add(e)
		}
	}
	charts := map[string][]chart{}
	var files []string
	for _, c := range cats {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rendering %s: %w", dir, err)
		}
		cs, err := categoryCharts(dir, c, pal, run.GPUCount(), run.Model)
		if err != nil {
			return err
		}
		charts[c.Workload] = cs
		for _, ch := range cs {
			files = append(files, ch.File)
		}
	}
	for _, c := range open {
		pal.add(c.Engine)
	}
	openCharts, err := openLoopCharts(dir, open, pal)
	if err != nil {
		return err
	}
	for _, ch := range openCharts {
		files = append(files, ch.File)
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

	path := filepath.Join(dir, ReportFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing report: %w (is the results folder writable?)", err)
	}
	err = markdown(f, run, cats, open, openCharts, charts, gpu)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if o.imageDir != "" {
		return copyFiles(dir, o.imageDir, files)
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
