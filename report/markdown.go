package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/infbench/infbench/resultsdir"
)

// markdown writes report.md: the run's context, then per prompt category
// a table with the engines side by side, the flags, and the charts.
func markdown(w io.Writer, run *resultsdir.Run, cats []*Category, open []resultsdir.CellSummary, openCharts []chart, charts map[string][]chart, gpu []chart) error {
	var b strings.Builder
	b.WriteString("# infbench results\n\n")
	writeContext(&b, run)
	for _, c := range cats {
		fmt.Fprintf(&b, "## workload=%s\n\n", c.Workload)
		writeTable(&b, c)
		writeServerTable(&b, c)
		writeFlags(&b, c)
		for _, ch := range charts[c.Workload] {
			fmt.Fprintf(&b, "![%s](%s)\n\n", ch.Caption, ch.File)
		}
	}
	writeOpenLoop(&b, open, openCharts)
	if len(gpu) > 0 {
		b.WriteString("## GPU\n\n")
		for _, ch := range gpu {
			fmt.Fprintf(&b, "![%s](%s)\n\n", ch.Caption, ch.File)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeContext(b *strings.Builder, run *resultsdir.Run) {
	or := func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	}
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, mdEscape(v)) }
	row("started", run.Start.UTC().Format(time.RFC3339))
	row("model", or(run.Model, "unknown"))
	row("GPU", or(run.GPU, "none recorded"))
	if run.GPUs > 1 {
		row("GPUs per engine", fmt.Sprint(run.GPUs))
	}
	row("host", fmt.Sprintf("%s (%s/%s, %d CPUs)", or(run.Host, "unknown"), run.GOOS, run.GOARCH, run.CPUs))
	row("Go", run.GoVersion)
	row("git revision", or(run.GitRevision, "unknown"))
	row("SLO", sloText(run))
	for _, l := range run.Config {
		row(l.Key, l.Value)
	}
	for _, e := range run.Engines {
		row("engine "+e.Name, fmt.Sprintf("%s, model %s", e.Kind, or(e.Model, "unknown")))
		for _, l := range e.Info {
			row(l.Key, l.Value)
		}
	}
	b.WriteString("\n")
}

func sloText(run *resultsdir.Run) string {
	var parts []string
	if run.SLO.TTFT > 0 {
		parts = append(parts, "TTFT ≤ "+run.SLO.TTFT.String())
	}
	if run.SLO.TPOT > 0 {
		parts = append(parts, "TPOT ≤ "+run.SLO.TPOT.String())
	}
	if run.SLO.E2E > 0 {
		parts = append(parts, "E2E ≤ "+run.SLO.E2E.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// writeTable writes one row per concurrency and, per engine, tok/s,
// TTFT p50/p99, TPOT p50/p99 and err %.
func writeTable(b *strings.Builder, c *Category) {
	b.WriteString("| conc |")
	for _, e := range c.Engines {
		fmt.Fprintf(b, " %[1]s tok/s | %[1]s TTFT p50 / p99 | %[1]s TPOT p50 / p99 | %[1]s err %% |", mdEscape(e))
	}
	b.WriteString("\n|---:|")
	b.WriteString(strings.Repeat("---:|---:|---:|---:|", len(c.Engines)))
	b.WriteString("\n")
	reps := 1
	for _, conc := range c.Concs {
		fmt.Fprintf(b, "| %d |", conc)
		for _, e := range c.Engines {
			p := c.At(e, conc)
			if p == nil {
				b.WriteString(" – | – | – | – |")
				continue
			}
			reps = max(reps, p.Reps)
			fmt.Fprintf(b, " %s | %s / %s | %s / %s | %s |", num(p.OutTokPerSec, 0),
				ms(p.TTFTP50), ms(p.TTFTP99), ms(p.TPOTP50), ms(p.TPOTP99), num(p.ErrPct, 1))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	if reps > 1 {
		fmt.Fprintf(b, "Each number is the median over the cell's repetitions (up to %d).\n\n", reps)
	}
}

// writeServerTable writes, when any cell of the category has server
// metrics, one row per engine and concurrency with what the engine's own
// metrics said: requests running and waiting (mean / max), KV-cache use
// (mean / peak), preemptions and the prefix-cache hit rate; "–" where
// the engine does not export one.
func writeServerTable(b *strings.Builder, c *Category) {
	var rows []*Point
	for _, e := range c.Engines {
		for _, conc := range c.Concs {
			if p := c.At(e, conc); p != nil && p.Server != nil {
				rows = append(rows, p)
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("Server metrics, from each engine's Prometheus endpoint over the cell (warmup included):\n\n")
	b.WriteString("| engine | conc | running mean / max | waiting mean / max | KV cache mean / peak % | preemptions | prefix hit % |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	pair := func(a, m float64, prec int) string {
		if math.IsNaN(a) && math.IsNaN(m) {
			return "–"
		}
		return num(a, prec) + " / " + num(m, prec)
	}
	for _, p := range rows {
		s := p.Server
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s |\n", mdEscape(p.Engine), p.Conc,
			pair(s.RunningMean, s.RunningMax, 1), pair(s.WaitingMean, s.WaitingMax, 1),
			pair(s.KVUsageMeanPct, s.KVUsagePeakPct, 1), num(s.Preemptions, 0), num(s.PrefixHitPct, 1))
	}
	b.WriteString("\n")
}

func writeFlags(b *strings.Builder, c *Category) {
	var lines []string
	for _, e := range c.Engines {
		for _, conc := range c.Concs {
			if p := c.At(e, conc); p != nil {
				for _, f := range p.Flags {
					lines = append(lines, fmt.Sprintf("- engine=%s conc=%d: %s\n", e, conc, mdEscape(f)))
				}
			}
		}
	}
	if len(lines) == 0 {
		b.WriteString("No flags: every cell completed without errors, short outputs or small-sample percentiles.\n\n")
		return
	}
	b.WriteString("Flags:\n\n")
	for _, l := range lines {
		b.WriteString(l)
	}
	b.WriteString("\n")
}

// ms formats nanoseconds as milliseconds with three significant digits.
func ms(ns float64) string {
	if math.IsNaN(ns) {
		return "–"
	}
	v := ns / 1e6
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// mdEscape keeps a value from breaking a table row.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
