package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/infbench/infbench/loadgen"
)

// chart is one rendered chart: its PNG's file name (the SVG beside it)
// and what it shows.
type chart struct {
	File    string
	Caption string
}

// chartSet is what every chart of a workload draws from.
type chartSet struct {
	dir   string
	c     *Category
	pal   palette
	gpus  int
	model string
	slo   loadgen.SLO
	caps  []capacity // found capacities of this workload (sweep.json)
	// The most repetitions of any closed-loop and of any open-loop cell.
	closedReps, openReps int
}

// render draws one chart with draw and saves it as base; a nil plot (no
// data for it) is skipped.
func (cs chartSet) render(out *[]chart, base, caption string, draw func() (*plot.Plot, error)) error {
	p, err := draw()
	if err != nil {
		return fmt.Errorf("chart %s: %w", base, err)
	}
	if p == nil {
		return nil
	}
	title := p.Title.Text
	p.Title.Text = ""
	reps := cs.closedReps
	if strings.HasPrefix(base, "load-") {
		reps = cs.openReps
	}
	spread := reps > 1 && !strings.HasPrefix(base, "tradeoff-")
	if spread {
		// Said in the chart too, for a reader who sees the image alone.
		p.Legend.Add(fmt.Sprintf("bars: min–max of %d reps", reps))
	}
	file, err := save(cs.dir, base, title, p)
	if err != nil {
		return err
	}
	if spread {
		caption += fmt.Sprintf("; bars: min–max of up to %d repetitions", reps)
	}
	*out = append(*out, chart{File: file, Caption: fmt.Sprintf("%s (workload=%s)", caption, cs.c.Workload)})
	return nil
}

// closedCharts renders the closed-loop charts of one workload: the four
// of every run (throughput, TTFT, TPOT, trade-off), then goodput, E2E
// and ITL against concurrency.
func (cs chartSet) closedCharts() ([]chart, error) {
	if len(cs.c.Concs) == 0 {
		return nil, nil
	}
	name := fileSafe(cs.c.Workload)
	var out []chart
	for _, r := range []struct {
		base, caption string
		draw          func() (*plot.Plot, error)
	}{
		{"throughput-" + name, "output tok/s against concurrency", cs.throughputPlot},
		{"ttft-" + name, "time to first token, p50 and p99, against concurrency", func() (*plot.Plot, error) {
			return cs.latencyPlot("TTFT", cs.slo.TTFT, func(p *Point) (Value, Value) { return p.TTFTP50, p.TTFTP99 })
		}},
		{"tpot-" + name, "time per output token, p50 and p99, against concurrency", func() (*plot.Plot, error) {
			return cs.latencyPlot("TPOT", cs.slo.TPOT, func(p *Point) (Value, Value) { return p.TPOTP50, p.TPOTP99 })
		}},
		{"tradeoff-" + name, "throughput per GPU against per-user speed", cs.tradeoffPlot},
		{"goodput-" + name, "goodput (requests/s meeting every SLO bound) and completed requests/s against concurrency", cs.goodputPlot},
		{"e2e-" + name, "end-to-end latency, p50 and p99, against concurrency", func() (*plot.Plot, error) {
			return cs.latencyPlot("E2E", cs.slo.E2E, func(p *Point) (Value, Value) { return p.E2EP50, p.E2EP99 })
		}},
		{"itl-" + name, "inter-token latency, p50 and p99, against concurrency", func() (*plot.Plot, error) {
			return cs.latencyPlot("ITL", 0, func(p *Point) (Value, Value) { return p.ITLP50, p.ITLP99 })
		}},
	} {
		if err := cs.render(&out, r.base, r.caption, r.draw); err != nil {
			return out, err
		}
	}
	return out, nil
}

const concLabel = "concurrency (requests in flight)"

func (cs chartSet) throughputPlot() (*plot.Plot, error) {
	title := "Throughput, workload=" + cs.c.Workload
	if cs.model != "" {
		title += ", " + cs.model
	}
	p := newPlot(title, concLabel, "output tokens/s")
	for _, e := range cs.c.Engines {
		s := series{name: e, color: cs.pal.color(e)}
		for _, pt := range cs.c.closedPoints(e) {
			s.add(float64(pt.Conc), pt.OutTokPerSec, 1)
		}
		if err := addSeries(p, nil, s); err != nil {
			return nil, err
		}
	}
	levelAxis(&p.X, concLevels(cs.c.Concs))
	fromZero(p)
	return p, nil
}

// goodputPlot draws, per engine, the requests/s that met every SLO bound
// (solid) and all completed requests/s (dashed): the gap between them is
// the load served too slowly. No SLO, no chart.
func (cs chartSet) goodputPlot() (*plot.Plot, error) {
	if cs.slo == (loadgen.SLO{}) {
		return nil, nil
	}
	p := newPlot("Goodput within the SLO ("+sloShort(cs.slo)+"), workload="+cs.c.Workload, concLabel, "requests/s")
	for _, e := range cs.c.Engines {
		good := series{name: e + " goodput", color: cs.pal.color(e)}
		all := series{name: e + " completed", color: cs.pal.color(e), dashed: true}
		for _, pt := range cs.c.closedPoints(e) {
			good.add(float64(pt.Conc), pt.GoodputReqPS, 1)
			all.add(float64(pt.Conc), pt.ReqPerSec, 1)
		}
		for _, s := range []series{good, all} {
			if err := addSeries(p, nil, s); err != nil {
				return nil, err
			}
		}
	}
	levelAxis(&p.X, concLevels(cs.c.Concs))
	fromZero(p)
	return p, nil
}

// latencyPlot draws p50 (solid) and p99 (dashed) of one latency against
// concurrency, in ms, with the SLO bound where one is set; p99 only where
// every repetition had at least 100 samples. The y axis turns
// logarithmic when the values span more than a decade.
func (cs chartSet) latencyPlot(what string, bound time.Duration, get func(*Point) (p50, p99 Value)) (*plot.Plot, error) {
	p := newPlot(what+" p50 (solid) and p99 (dashed), workload="+cs.c.Workload, concLabel, what+" (ms)")
	any, dropped := false, false
	for _, e := range cs.c.Engines {
		s50 := series{name: e + " p50", color: cs.pal.color(e)}
		s99 := series{name: e + " p99", color: cs.pal.color(e), dashed: true}
		for _, pt := range cs.c.closedPoints(e) {
			v50, v99 := get(pt)
			s50.add(float64(pt.Conc), v50, 1e6)
			// A p99 from fewer than 100 samples is one of the few largest
			// values, not a tail: the table marks it, the chart leaves it
			// out.
			dropped = dropped || v99.N > 0 && v99.N < loadgen.MinSamples("p99")
			if v99.N >= loadgen.MinSamples("p99") {
				s99.add(float64(pt.Conc), v99, 1e6)
			}
		}
		any = any || len(s50.xys) > 0
		for _, s := range []series{s50, s99} {
			if err := addSeries(p, nil, s); err != nil {
				return nil, err
			}
		}
	}
	if !any {
		return nil, nil
	}
	if dropped {
		p.Legend.Add(fmt.Sprintf("p99 of < %d samples left out", loadgen.MinSamples("p99")))
	}
	addSLO(p, nil, what, bound)
	levelAxis(&p.X, concLevels(cs.c.Concs))
	if autoY(p) {
		p.Y.Label.Text = what + " (ms, log scale)"
	}
	return p, nil
}

// addSLO draws a latency bound as a dashed line with a legend entry.
func addSLO(p *plot.Plot, lab *labeller, what string, bound time.Duration) {
	if bound <= 0 {
		return
	}
	h := newHLine(float64(bound) / 1e6)
	p.Add(h)
	p.Legend.Add("SLO "+what+" ≤ "+bound.String(), h)
	if lab != nil {
		lab.hlines = append(lab.hlines, h.y)
	}
}

// tradeoffPlot draws, per engine, output tok/s per GPU against the median
// tok/s each user sees, one point per concurrency level, labelled c=N
// where no line or other label runs: moving along a line trades per-user
// speed for total throughput.
func (cs chartSet) tradeoffPlot() (*plot.Plot, error) {
	ylabel := "output tokens/s per GPU"
	if cs.gpus > 1 {
		ylabel = fmt.Sprintf("output tokens/s per GPU (÷%d)", cs.gpus)
	}
	p := newPlot("Throughput vs per-user speed, workload="+cs.c.Workload,
		"tokens/s per user (median 1/TPOT)", ylabel)
	lab := &labeller{}
	for _, e := range cs.c.Engines {
		s := series{name: e, color: cs.pal.color(e)}
		for _, pt := range cs.c.closedPoints(e) {
			if math.IsNaN(pt.OutTokPerSec.Med) || math.IsNaN(pt.UserTokPerSec.Med) {
				continue
			}
			s.xys = append(s.xys, plotter.XY{X: pt.UserTokPerSec.Med, Y: pt.OutTokPerSec.Med / float64(cs.gpus)})
			s.labels = append(s.labels, "c="+strconv.Itoa(pt.Conc))
		}
		if err := addSeries(p, lab, s); err != nil {
			return nil, err
		}
	}
	p.Add(lab)
	fromZero(p)
	p.X.Min = 0
	p.X.Max *= 1.1 // room for the last label
	return p, nil
}

// sloShort is the SLO in a few words, for titles.
func sloShort(s loadgen.SLO) string {
	var parts []string
	if s.TTFT > 0 {
		parts = append(parts, "TTFT ≤ "+s.TTFT.String())
	}
	if s.TPOT > 0 {
		parts = append(parts, "TPOT ≤ "+s.TPOT.String())
	}
	if s.E2E > 0 {
		parts = append(parts, "E2E ≤ "+s.E2E.String())
	}
	out := ""
	for i, x := range parts {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
