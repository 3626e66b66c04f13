package report

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/infbench/infbench/loadgen"
)

// chart is one rendered chart: its PNG's file name (the SVG beside it)
// and what it shows.
type chart struct {
	File    string
	Caption string
}

// categoryCharts renders the charts of one prompt category into dir.
func categoryCharts(dir string, c *Category, pal palette, gpus int, model string) ([]chart, error) {
	name := fileSafe(c.Workload)
	var out []chart
	type render struct {
		base, caption string
		draw          func() (*plot.Plot, error)
	}
	for _, r := range []render{
		{"throughput-" + name, "output tok/s against concurrency", func() (*plot.Plot, error) { return throughputPlot(c, pal, model) }},
		{"ttft-" + name, "time to first token, p50 and p99", func() (*plot.Plot, error) {
			return latencyPlot(c, pal, "TTFT", func(p *Point) (float64, float64) { return p.TTFTP50, p.TTFTP99 })
		}},
		{"tpot-" + name, "time per output token, p50 and p99", func() (*plot.Plot, error) {
			return latencyPlot(c, pal, "TPOT", func(p *Point) (float64, float64) { return p.TPOTP50, p.TPOTP99 })
		}},
		{"tradeoff-" + name, "throughput per GPU against per-user speed", func() (*plot.Plot, error) { return tradeoffPlot(c, pal, gpus) }},
	} {
		p, err := r.draw()
		if err != nil {
			return out, fmt.Errorf("chart %s: %w", r.base, err)
		}
		file, err := save(p, dir, r.base)
		if err != nil {
			return out, err
		}
		out = append(out, chart{File: file, Caption: fmt.Sprintf("%s (workload=%s)", r.caption, c.Workload)})
	}
	return out, nil
}

func throughputPlot(c *Category, pal palette, model string) (*plot.Plot, error) {
	title := "Throughput, workload=" + c.Workload
	if model != "" {
		title += ", " + model
	}
	p := newPlot(title, "concurrency (requests in flight)", "output tokens/s")
	for _, e := range c.Engines {
		s := series{name: e, color: pal.color(e)}
		for _, conc := range c.Concs {
			if pt := c.At(e, conc); pt != nil && !math.IsNaN(pt.OutTokPerSec) {
				s.xys = append(s.xys, plotter.XY{X: float64(conc), Y: pt.OutTokPerSec})
			}
		}
		if err := addSeries(p, s); err != nil {
			return nil, err
		}
	}
	concAxis(&p.X, c.Concs)
	fromZero(p)
	return p, nil
}

// latencyPlot draws p50 (solid) and p99 (dashed) of one latency, in ms;
// p99 only where a cell had at least 100 requests.
func latencyPlot(c *Category, pal palette, what string, get func(*Point) (p50, p99 float64)) (*plot.Plot, error) {
	p := newPlot(what+" p50 (solid) and p99 (dashed), workload="+c.Workload,
		"concurrency (requests in flight)", what+" (ms)")
	for _, e := range c.Engines {
		s50 := series{name: e + " p50", color: pal.color(e)}
		s99 := series{name: e + " p99", color: pal.color(e), dashed: true}
		for _, conc := range c.Concs {
			pt := c.At(e, conc)
			if pt == nil {
				continue
			}
			v50, v99 := get(pt)
			if !math.IsNaN(v50) {
				s50.xys = append(s50.xys, plotter.XY{X: float64(conc), Y: v50 / 1e6})
			}
			// A p99 from fewer than 100 requests is one of the few largest
			// values, not a tail: the table shows it with its flag, the
			// chart leaves it out.
			if !math.IsNaN(v99) && pt.TailN >= loadgen.MinSamples("p99") {
				s99.xys = append(s99.xys, plotter.XY{X: float64(conc), Y: v99 / 1e6})
			}
		}
		if err := addSeries(p, s50); err != nil {
			return nil, err
		}
		if err := addSeries(p, s99); err != nil {
			return nil, err
		}
	}
	concAxis(&p.X, c.Concs)
	fromZero(p)
	return p, nil
}

// tradeoffPlot draws, per engine, output tok/s per GPU against the median
// tok/s each user sees, one point per concurrency level, labelled c=N:
// moving along a line trades per-user speed for total throughput.
func tradeoffPlot(c *Category, pal palette, gpus int) (*plot.Plot, error) {
	ylabel := "output tokens/s per GPU"
	if gpus > 1 {
		ylabel = fmt.Sprintf("output tokens/s per GPU (÷%d)", gpus)
	}
	p := newPlot("Throughput vs per-user speed, workload="+c.Workload,
		"tokens/s per user (median 1/TPOT)", ylabel)
	for _, e := range c.Engines {
		s := series{name: e, color: pal.color(e)}
		for _, conc := range c.Concs {
			pt := c.At(e, conc)
			if pt == nil || math.IsNaN(pt.OutTokPerSec) || math.IsNaN(pt.UserTokPerSec) {
				continue
			}
			s.xys = append(s.xys, plotter.XY{X: pt.UserTokPerSec, Y: pt.OutTokPerSec / float64(gpus)})
			s.labels = append(s.labels, "c="+strconv.Itoa(conc))
		}
		if err := addSeries(p, s); err != nil {
			return nil, err
		}
	}
	// Lines run from top left (high concurrency) to bottom right: the
	// bottom left corner, slow for everyone, is free for the legend.
	p.Legend.Top = false
	p.Legend.YOffs = vg.Points(8)
	fromZero(p)
	p.X.Min = 0
	p.X.Max *= 1.12 // room for the last label
	return p, nil
}
