package report

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"

	"github.com/infbench/infbench/loadgen"
)

const rateLabel = "offered load (requests/s)"

// openCharts renders the open-loop charts of one workload, against the
// request rate offered: TTFT from the schedule and TPOT (p50, p99) with
// the SLO bound, and goodput; each with the capacity the sweep found
// (sweep.json) marked per engine.
func (cs chartSet) openCharts() ([]chart, error) {
	if len(cs.c.Rates) == 0 {
		return nil, nil
	}
	name := fileSafe(cs.c.Workload)
	ttftBound, tpotBound := cs.loadBounds()
	var out []chart
	for _, r := range []struct {
		base, caption string
		draw          func() (*plot.Plot, error)
	}{
		{"load-ttft-" + name, "TTFT from the schedule, p50 and p99, against offered load, with the SLO bound and the found capacity", func() (*plot.Plot, error) {
			return cs.loadLatencyPlot("TTFT from schedule", "TTFT", "TTFT", ttftBound, func(p *Point) (Value, Value) { return p.TTFTSchedP50, p.TTFTSchedP99 })
		}},
		{"load-tpot-" + name, "TPOT, p50 and p99, against offered load, with the SLO bound and the found capacity", func() (*plot.Plot, error) {
			return cs.loadLatencyPlot("TPOT", "TPOT", "TPOT", tpotBound, func(p *Point) (Value, Value) { return p.TPOTP50, p.TPOTP99 })
		}},
		{"load-goodput-" + name, "goodput against offered load, with the found capacity", cs.loadGoodputPlot},
	} {
		if err := cs.render(&out, r.base, r.caption, r.draw); err != nil {
			return out, err
		}
	}
	return out, nil
}

// loadBounds are the p99 bounds the capacity search judged its probes on
// (the first search of the workload that sets one), else the run's SLO.
func (cs chartSet) loadBounds() (ttft, tpot time.Duration) {
	ttft, tpot = cs.slo.TTFT, cs.slo.TPOT
	for _, c := range cs.caps {
		for _, s := range c.sweeps {
			if s.TTFTP99 > 0 {
				ttft = time.Duration(s.TTFTP99)
			}
			if s.TPOTP99 > 0 {
				tpot = time.Duration(s.TPOTP99)
			}
			return ttft, tpot
		}
	}
	return ttft, tpot
}

// loadLatencyPlot draws p50 (solid) and p99 (dashed) of one latency
// against the offered rate, the bound, and the capacity markers.
func (cs chartSet) loadLatencyPlot(what, axis, short string, bound time.Duration, get func(*Point) (p50, p99 Value)) (*plot.Plot, error) {
	p := newPlot(what+" p50 (solid) and p99 (dashed), workload="+cs.c.Workload, rateLabel, axis+" (ms)")
	lab := &labeller{}
	any, dropped := false, false
	for _, e := range cs.c.Engines {
		s50 := series{name: e + " p50", color: cs.pal.color(e)}
		s99 := series{name: e + " p99", color: cs.pal.color(e), dashed: true}
		for _, pt := range cs.c.openPoints(e) {
			v50, v99 := get(pt)
			s50.add(pt.Rate, v50, 1e6)
			dropped = dropped || v99.N > 0 && v99.N < loadgen.MinSamples("p99")
			if v99.N >= loadgen.MinSamples("p99") {
				s99.add(pt.Rate, v99, 1e6)
			}
		}
		any = any || len(s50.xys) > 0
		for _, s := range []series{s50, s99} {
			if err := addSeries(p, lab, s); err != nil {
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
	addSLO(p, lab, short+" p99", bound)
	cs.addCapacities(lab)
	p.Add(lab)
	levelAxis(&p.X, cs.rateLevels())
	if autoY(p) {
		p.Y.Label.Text = axis + " (ms, log scale)"
	}
	return p, nil
}

// loadGoodputPlot draws, per engine against the offered rate, the
// requests/s that met every SLO bound (solid) and all completed
// requests/s (dashed), both over the same duration: the gap between them
// is the load served too slowly, and where the dashed line bends away
// from the offered rate the engine no longer keeps up.
func (cs chartSet) loadGoodputPlot() (*plot.Plot, error) {
	title := "Goodput against offered load, workload=" + cs.c.Workload
	if cs.slo != (loadgen.SLO{}) {
		title = "Goodput within " + sloShort(cs.slo) + ", workload=" + cs.c.Workload
	}
	p := newPlot(title, rateLabel, "requests/s")
	lab := &labeller{}
	for _, e := range cs.c.Engines {
		good := series{name: e + " goodput", color: cs.pal.color(e)}
		all := series{name: e + " completed", color: cs.pal.color(e), dashed: true}
		for _, pt := range cs.c.openPoints(e) {
			good.add(pt.Rate, pt.GoodputReqPS, 1)
			all.add(pt.Rate, pt.ReqPerSec, 1)
		}
		for _, s := range []series{good, all} {
			if err := addSeries(p, lab, s); err != nil {
				return nil, err
			}
		}
	}
	cs.addCapacities(lab)
	p.Add(lab)
	levelAxis(&p.X, cs.rateLevels())
	fromZero(p)
	return p, nil
}

// rateLevels are the workload's rates, the x axis's ticks.
func (cs chartSet) rateLevels() []float64 { return cs.c.Rates }

// addCapacities marks each engine's found capacity: a dotted vertical
// line labelled "slo-max X req/s".
func (cs chartSet) addCapacities(lab *labeller) {
	for _, c := range cs.caps {
		if math.IsNaN(c.med) || c.med <= 0 {
			continue
		}
		txt := fmt.Sprintf("slo-max %s req/s", strconv.FormatFloat(c.med, 'g', 3, 64))
		if len(c.sweeps) > 1 {
			txt += fmt.Sprintf(" (median of %d)", len(c.sweeps))
		}
		lab.marker(c.med, c.engine, txt, cs.pal.color(c.engine))
	}
}
