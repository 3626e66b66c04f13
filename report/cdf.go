package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/infbench/infbench/resultsdir"
)

// maxCDFPanels is the most concurrency levels a distribution chart shows
// side by side; with more, the lowest, the highest and evenly spaced
// ones between are shown.
const maxCDFPanels = 4

// samples are the latencies (ns) of one workload's measured, completed
// closed-loop requests, by engine and concurrency, pooled over the
// repetitions.
type samples map[loadLevel][]float64

// latencySamples collects TTFT and E2E per workload from requests.jsonl:
// measured (not warmup), completed, closed-loop records.
func latencySamples(reqs []resultsdir.Request) (ttft, e2e map[string]samples) {
	ttft, e2e = map[string]samples{}, map[string]samples{}
	for i := range reqs {
		q := &reqs[i]
		if q.Warmup || !q.Record.OK() || q.Rate > 0 {
			continue
		}
		k := loadLevel{engine: q.Engine, conc: q.Conc}
		if ttft[q.Workload] == nil {
			ttft[q.Workload], e2e[q.Workload] = samples{}, samples{}
		}
		ttft[q.Workload][k] = append(ttft[q.Workload][k], float64(q.Record.TTFT))
		e2e[q.Workload][k] = append(e2e[q.Workload][k], float64(q.Record.E2E))
	}
	return ttft, e2e
}

// cdfLevels picks the concurrency levels to show.
func cdfLevels(concs []int) []int {
	if len(concs) <= maxCDFPanels {
		return concs
	}
	out := make([]int, maxCDFPanels)
	for i := range out {
		out[i] = concs[i*(len(concs)-1)/(maxCDFPanels-1)]
	}
	return out
}

// cdfChart renders the distribution (empirical CDF) of one latency for
// a workload: one panel per concurrency level, one line per engine, on a
// shared x axis in ms, logarithmic when the values span more than a
// decade.
func (cs chartSet) cdfChart(base, what string, smp samples) (*chart, error) {
	levels := cdfLevels(cs.c.Concs)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, conc := range levels {
		for _, e := range cs.c.Engines {
			for _, v := range smp[loadLevel{engine: e, conc: conc}] {
				lo, hi = math.Min(lo, v/1e6), math.Max(hi, v/1e6)
			}
		}
	}
	if math.IsInf(lo, 0) {
		return nil, nil
	}
	logX := lo > 0 && hi/lo > decade
	var panels []*plot.Plot
	legend := plot.NewLegend()
	legend.TextStyle.Font = sans(11)
	legend.Padding = vg.Points(3)
	var inLegend []string
	for i, conc := range levels {
		xlabel := what + " (ms)"
		if logX {
			xlabel = what + " (ms, log scale; the panels share it)"
		} else if len(levels) > 1 {
			xlabel = what + " (ms; the panels share it)"
		}
		p := newPlot("conc="+strconv.Itoa(conc)+sampleSizes(smp, cs.c.Engines, conc), xlabel, "")
		p.Title.TextStyle.Font = sans(11)
		if i == 0 {
			p.Y.Label.Text = "fraction of requests ≤ x"
		}
		for _, e := range cs.c.Engines {
			xs := slices.Clone(smp[loadLevel{engine: e, conc: conc}])
			if len(xs) == 0 {
				continue
			}
			slices.SortFunc(xs, cmp.Compare[float64])
			// A step up of 1/n at each sample, from 0 before the first.
			xys := make(plotter.XYs, 0, 2*len(xs))
			for j, v := range xs {
				xys = append(xys, plotter.XY{X: v / 1e6, Y: float64(j) / float64(len(xs))},
					plotter.XY{X: v / 1e6, Y: float64(j+1) / float64(len(xs))})
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("%s distribution of %s: %w", what, e, err)
			}
			l.Color = cs.pal.color(e)
			l.Width = vg.Points(2)
			p.Add(l)
			if !slices.Contains(inLegend, e) {
				inLegend = append(inLegend, e)
				legend.Add(e, l)
			}
		}
		p.X.Min, p.X.Max = lo, hi
		if logX {
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = logTicks{narrow: len(levels) > 1}
			p.X.Min, p.X.Max = lo/1.2, hi*1.2
		} else {
			p.X.Min, p.X.Max = 0, hi*1.05
		}
		p.Y.Min, p.Y.Max = 0, 1.02
		p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.25}, {Value: 0.5, Label: "0.5"},
			{Value: 0.75}, {Value: 0.9, Label: "0.9"}, {Value: 1, Label: "1"}}
		panels = append(panels, p)
	}
	// One legend for all panels, drawn beside them.
	panels[0].Legend = legend
	title := fmt.Sprintf("%s distribution (CDF, pooled over repetitions), workload=%s", what, cs.c.Workload)
	file, err := save(cs.dir, base, title, panels...)
	if err != nil {
		return nil, err
	}
	caption := fmt.Sprintf("%s distribution per engine at concurrency %s, measured completed requests pooled over repetitions (workload=%s)",
		what, joinInts(levels), cs.c.Workload)
	return &chart{File: file, Caption: caption}, nil
}

// sampleSizes says how many requests each panel's lines are drawn
// from: ", n=300", or the range over the engines.
func sampleSizes(smp samples, engines []string, conc int) string {
	lo, hi := math.MaxInt, 0
	for _, e := range engines {
		if n := len(smp[loadLevel{engine: e, conc: conc}]); n > 0 {
			lo, hi = min(lo, n), max(hi, n)
		}
	}
	switch {
	case hi == 0:
		return ""
	case lo == hi:
		return fmt.Sprintf(", n=%d", lo)
	}
	return fmt.Sprintf(", n=%d–%d", lo, hi)
}

func joinInts(xs []int) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += strconv.Itoa(x)
	}
	return s
}
