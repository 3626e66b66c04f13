package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/infbench/infbench/resultsdir"
)

// capacity is what the capacity searches (sweep.json) found for one
// engine and workload: every repetition's search and the median of their
// slo-max-req/s.
type capacity struct {
	engine string
	sweeps []resultsdir.Sweep
	med    float64
}

// capacities groups the searches of workload by engine, in the
// category's engine order (others after it).
func capacities(all []resultsdir.Sweep, c *Category) []capacity {
	var out []capacity
	idx := map[string]int{}
	for _, s := range all {
		if s.Workload != c.Workload {
			continue
		}
		i, ok := idx[s.Engine]
		if !ok {
			i = len(out)
			idx[s.Engine] = i
			out = append(out, capacity{engine: s.Engine})
		}
		out[i].sweeps = append(out[i].sweeps, s)
	}
	for i := range out {
		var xs []float64
		for _, s := range out[i].sweeps {
			xs = append(xs, s.Capacity)
		}
		out[i].med = median(xs)
	}
	order := func(e string) int {
		if i := slices.Index(c.Engines, e); i >= 0 {
			return i
		}
		return len(c.Engines)
	}
	slices.SortStableFunc(out, func(a, b capacity) int { return order(a.engine) - order(b.engine) })
	return out
}

// writeCapacity writes the capacity table of a workload: per search, the
// highest rate that met every bound, the goodput measured there, the
// rates probed (✓ passed, ✗ failed) and why the search stopped; then the
// bounds and what each failing probe broke.
func writeCapacity(b *strings.Builder, caps []capacity) {
	if len(caps) == 0 {
		return
	}
	b.WriteString("### Capacity under SLO\n\n")
	b.WriteString("The highest open-loop request rate at which every bound held, found by the capacity search (sweep.json); each probe is an open-loop cell of the table above.\n\n")
	b.WriteString("| engine | rep | slo-max req/s | goodput there (req/s) | probes (rate req/s: ✓ met, ✗ missed) | stopped |\n")
	b.WriteString("|---|---:|---:|---:|---|---|\n")
	var bounds []string
	var why []string
	for _, c := range caps {
		for _, s := range c.sweeps {
			capTxt := rate(s.Capacity)
			if s.Capacity <= 0 {
				capTxt = "none passed"
			}
			var probes []string
			for _, p := range s.Probes {
				mark := "✗"
				if p.Pass {
					mark = "✓"
				} else if p.Why != "" {
					why = append(why, fmt.Sprintf("- %s rep %d at %s req/s: %s\n", mdEscape(s.Engine), s.Rep, rate(p.Rate), mdEscape(p.Why)))
				}
				probes = append(probes, rate(p.Rate)+" "+mark)
			}
			fmt.Fprintf(b, "| %s | %d | %s | %s | %d: %s | %s |\n", mdEscape(s.Engine), s.Rep, capTxt, num(s.Goodput, 2),
				len(s.Probes), strings.Join(probes, ", "), mdEscape(stoppedText(s)))
			if bt := boundsText(s); !slices.Contains(bounds, bt) {
				bounds = append(bounds, bt)
			}
		}
	}
	b.WriteString("\n")
	for _, bt := range bounds {
		fmt.Fprintf(b, "Probes judged on: %s.\n\n", bt)
	}
	if len(why) > 0 {
		b.WriteString("Failed probes:\n\n")
		for _, w := range why {
			b.WriteString(w)
		}
		b.WriteString("\n")
	}
}

func rate(r float64) string { return strconv.FormatFloat(r, 'g', 4, 64) }

// stoppedText spells out why a search ended.
func stoppedText(s resultsdir.Sweep) string {
	switch s.Stopped {
	case "resolution":
		if s.Lo > 0 && s.Hi > 0 {
			return fmt.Sprintf("resolution: bracket %s–%s req/s within %.0f%%", rate(s.Lo), rate(s.Hi), 100*s.Resolution)
		}
		return "resolution reached"
	case "max_cells":
		return fmt.Sprintf("max_cells: %d probes run", s.MaxCells)
	case "max_rate":
		return "max_rate: every probe up to the highest rate passed"
	case "no_pass":
		return "no_pass: even the lowest rate missed a bound"
	}
	return s.Stopped
}

func boundsText(s resultsdir.Sweep) string {
	var parts []string
	if s.TTFTP99 > 0 {
		parts = append(parts, "TTFT p99 ≤ "+time.Duration(s.TTFTP99).String())
	}
	if s.TPOTP99 > 0 {
		parts = append(parts, "TPOT p99 ≤ "+time.Duration(s.TPOTP99).String())
	}
	if s.MaxErrorRate > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("error rate ≤ %s%%", strconv.FormatFloat(100*s.MaxErrorRate, 'g', 3, 64)))
	}
	return strings.Join(parts, ", ")
}
