package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// splitLoops separates the closed-loop cells (by concurrency: the tables
// and charts) from the open-loop ones (by request rate).
func splitLoops(cells []resultsdir.CellSummary) (closed, open []resultsdir.CellSummary) {
	for _, c := range cells {
		if c.Rate > 0 {
			open = append(open, c)
		} else {
			closed = append(closed, c)
		}
	}
	return closed, open
}

// writeOpenLoop writes one row per open-loop cell run: the rate asked for
// and the rate sent, throughput, and TTFT measured from the send and from
// the schedule (the queueing a closed loop hides), with the cell's flags.
func writeOpenLoop(b *strings.Builder, open []resultsdir.CellSummary, charts []chart) {
	if len(open) == 0 {
		return
	}
	b.WriteString("## Open loop\n\n")
	b.WriteString("Requests arrive on a fixed schedule whatever the server does; latency \"from schedule\" counts from the moment each request was due, so a server that falls behind cannot hide its queue.\n\n")
	b.WriteString("| engine | prompt | rate asked | rate sent | tok/s | TTFT p50 / p99 | TTFT from schedule p50 / p99 | err % |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	var flags []string
	for _, c := range open {
		s := c.Summary
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s |\n", mdEscape(c.Engine), mdEscape(c.Workload),
			strconv.FormatFloat(c.Rate, 'g', -1, 64), num(s.SentReqPerSec, 2), num(s.OutputTokPerSec, 0),
			ms(s.TTFT.P50), ms(s.TTFT.P99), ms(s.TTFTFromSchedule.P50), ms(s.TTFTFromSchedule.P99), num(100*s.ErrorRate, 1))
		for _, f := range s.Flags {
			flags = append(flags, fmt.Sprintf("- %s (rep %d): %s\n", c.Cell, c.Rep, mdEscape(f)))
		}
	}
	b.WriteString("\n")
	if len(flags) > 0 {
		b.WriteString("Flags:\n\n")
		for _, f := range flags {
			b.WriteString(f)
		}
		b.WriteString("\n")
	}
	for _, ch := range charts {
		fmt.Fprintf(b, "![%s](%s)\n\n", ch.Caption, ch.File)
	}
}

// openLoopCharts renders, per prompt category with open-loop cells, TTFT
// measured from the schedule (p50 solid, p99 dashed) against the request
// rate offered, one line per engine: where a line turns up, the engine
// stops keeping up. Several repetitions of a cell are summarised by their
// median.
func openLoopCharts(dir string, open []resultsdir.CellSummary, pal palette) ([]chart, error) {
	type key struct {
		prompt, engine string
		rate           float64
	}
	vals := map[key][][2]float64{}
	var prompts, engines []string
	var rates []float64
	for _, c := range open {
		k := key{c.Workload, c.Engine, c.Rate}
		p99 := c.Summary.TTFTFromSchedule.P99
		if c.Summary.TTFTFromSchedule.N < loadgen.MinSamples("p99") {
			p99 = math.NaN() // too few requests for a tail: left out
		}
		vals[k] = append(vals[k], [2]float64{c.Summary.TTFTFromSchedule.P50, p99})
		if !slices.Contains(prompts, c.Workload) {
			prompts = append(prompts, c.Workload)
		}
		if !slices.Contains(engines, c.Engine) {
			engines = append(engines, c.Engine)
		}
		if !slices.Contains(rates, c.Rate) {
			rates = append(rates, c.Rate)
		}
	}
	slices.Sort(rates)
	var out []chart
	for _, prompt := range prompts {
		p := newPlot("TTFT from schedule, p50 (solid) and p99 (dashed), workload="+prompt,
			"offered load (requests/s)", "TTFT from schedule (ms)")
		for _, e := range engines {
			s50 := series{name: e + " p50", color: pal.color(e)}
			s99 := series{name: e + " p99", color: pal.color(e), dashed: true}
			for _, r := range rates {
				v := vals[key{prompt, e, r}]
				if len(v) == 0 {
					continue
				}
				var p50s, p99s []float64
				for _, x := range v {
					p50s = append(p50s, x[0])
					if !math.IsNaN(x[1]) {
						p99s = append(p99s, x[1])
					}
				}
				if m := median(p50s); !math.IsNaN(m) && m > 0 {
					s50.xys = append(s50.xys, plotter.XY{X: r, Y: m / 1e6})
				}
				if m := median(p99s); !math.IsNaN(m) && m > 0 {
					s99.xys = append(s99.xys, plotter.XY{X: r, Y: m / 1e6})
				}
			}
			if err := addSeries(p, s50); err != nil {
				return out, err
			}
			if err := addSeries(p, s99); err != nil {
				return out, err
			}
		}
		fromZero(p)
		file, err := save(p, dir, "openloop-"+fileSafe(prompt))
		if err != nil {
			return out, err
		}
		out = append(out, chart{File: file, Caption: "TTFT from schedule against offered load (workload=" + prompt + ")"})
	}
	return out, nil
}
