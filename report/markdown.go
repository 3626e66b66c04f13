package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// section is what report.md shows of one workload.
type section struct {
	c      *Category
	closed []chart // against concurrency
	dists  []chart // latency distributions
	open   []chart // against offered load
	caps   []capacity
}

// markdown writes report.md: the run's context, then per workload its
// tables (closed loop, open loop, capacity), flags and charts, then the
// GPU charts and the list of files.
func markdown(w io.Writer, run *resultsdir.Run, secs []section, gpu []chart) error {
	var b strings.Builder
	b.WriteString("# infbench results\n\n")
	writeContext(&b, run)
	for _, s := range secs {
		c := s.c
		fmt.Fprintf(&b, "## workload=%s\n\n", c.Workload)
		if len(c.Concs) > 0 {
			writeTable(&b, c)
			writeDetailTable(&b, c, runSLO(run) != (loadgen.SLO{}))
			if reps := maxReps(c, false); reps > 1 {
				fmt.Fprintf(&b, "Each number is the median over the cell's repetitions (up to %d); the charts' bars span their min–max.\n\n", reps)
			}
			writeServerTable(&b, c)
			writeFlags(&b, c)
			writeCharts(&b, s.closed)
			writeCharts(&b, s.dists)
		}
		if len(c.Rates) > 0 {
			writeOpenLoop(&b, c)
			writeCapacity(&b, s.caps)
			writeCharts(&b, s.open)
		}
	}
	if len(gpu) > 0 {
		b.WriteString("## GPU\n\n")
		writeCharts(&b, gpu)
	}
	fmt.Fprintf(&b, "## Files\n\n%s has one row per cell run (every repetition), for spreadsheets; %s, %s and %s hold everything measured (README.md, \"Results, reports and comparisons\").\n",
		CSVFile, resultsdir.SummaryFile, resultsdir.RequestsFile, resultsdir.RunFile)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCharts(b *strings.Builder, charts []chart) {
	for _, ch := range charts {
		fmt.Fprintf(b, "![%s](%s)\n\n", ch.Caption, ch.File)
	}
}

func maxReps(c *Category, open bool) int {
	reps := 0
	for _, e := range c.Engines {
		pts := c.closedPoints(e)
		if open {
			pts = c.openPoints(e)
		}
		for _, p := range pts {
			reps = max(reps, p.Reps)
		}
	}
	return reps
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
	row("SLO", sloText(runSLO(run)))
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

// runSLO is the SLO the run's goodput was computed with: run.json's slo,
// else its run_config's.
func runSLO(run *resultsdir.Run) loadgen.SLO {
	if run.SLO == (loadgen.SLO{}) && run.RunConfig != nil {
		return run.RunConfig.SLO.Loadgen()
	}
	return run.SLO
}

func sloText(s loadgen.SLO) string {
	if t := sloShort(s); t != "" {
		return t
	}
	return "none"
}

// marks puts a mark on each table value computed from too few samples to
// mean what it says (loadgen.MinSamples: p90 < 10, p95 < 20, p99 < 100)
// and collects the footnotes that explain them, one mark per distinct
// percentile and sample size.
type marks struct {
	keys  []string
	notes []string
}

func (m *marks) mark(pct string, n int) string {
	if n <= 0 || n >= loadgen.MinSamples(pct) {
		return ""
	}
	key := pct + "/" + strconv.Itoa(n)
	for i, k := range m.keys {
		if k == key {
			return markSymbol(i)
		}
	}
	m.keys = append(m.keys, key)
	sym := markSymbol(len(m.keys) - 1)
	m.notes = append(m.notes, fmt.Sprintf("%s %s of %d samples (< %d): one of the few largest values, not a tail", sym, pct, n, loadgen.MinSamples(pct)))
	return sym
}

func markSymbol(i int) string {
	syms := [...]string{"†", "‡", "§", "¶", "‖"}
	if i < len(syms) {
		return syms[i]
	}
	return "†" + strconv.Itoa(i+1)
}

// write writes the footnotes under a table.
func (m *marks) write(b *strings.Builder) {
	if len(m.notes) == 0 {
		return
	}
	b.WriteString(strings.Join(m.notes, "\\\n"))
	b.WriteString("\n\n")
}

// pair is "p50 / p99" of a latency, the p99 marked when its sample is
// small.
func (m *marks) pair(p50, p99 Value) string {
	return ms(p50.Med) + " / " + ms(p99.Med) + m.mark("p99", p99.N)
}

// writeTable writes one row per concurrency and, per engine, tok/s,
// TTFT p50/p99, TPOT p50/p99 and err %.
func writeTable(b *strings.Builder, c *Category) {
	writeConcTable(b, c, []string{"tok/s", "TTFT p50 / p99", "TPOT p50 / p99", "err %%"}, func(p *Point, m *marks) []string {
		return []string{num(p.OutTokPerSec.Med, 0), m.pair(p.TTFTP50, p.TTFTP99), m.pair(p.TPOTP50, p.TPOTP99), num(p.ErrPct.Med, 1)}
	})
}

// writeDetailTable writes, per concurrency and engine, goodput (with an
// SLO), E2E p50/p99 and ITL p50/p99.
func writeDetailTable(b *strings.Builder, c *Category, slo bool) {
	writeConcTable(b, c, []string{"goodput req/s", "E2E p50 / p99", "ITL p50 / p99"}, func(p *Point, m *marks) []string {
		good := "–"
		if slo {
			good = num(p.GoodputReqPS.Med, 2)
		}
		return []string{good, m.pair(p.E2EP50, p.E2EP99), m.pair(p.ITLP50, p.ITLP99)}
	})
}

// writeConcTable writes one row per concurrency with, per engine, the
// columns named by heads (each a format, after the engine's name) and
// filled by row, then the small-sample marks' footnotes.
func writeConcTable(b *strings.Builder, c *Category, heads []string, row func(*Point, *marks) []string) {
	b.WriteString("| conc |")
	for _, e := range c.Engines {
		for _, h := range heads {
			fmt.Fprintf(b, " %s "+h+" |", mdEscape(e))
		}
	}
	b.WriteString("\n|---:|")
	b.WriteString(strings.Repeat(strings.Repeat("---:|", len(heads)), len(c.Engines)))
	b.WriteString("\n")
	var m marks
	for _, conc := range c.Concs {
		fmt.Fprintf(b, "| %d |", conc)
		for _, e := range c.Engines {
			p := c.At(e, conc)
			if p == nil {
				b.WriteString(strings.Repeat(" – |", len(heads)))
				continue
			}
			for _, v := range row(p, &m) {
				fmt.Fprintf(b, " %s |", v)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	m.write(b)
}

// writeOpenLoop writes one row per engine and offered rate: the rate
// sent, throughput, goodput, TTFT from the schedule (the queueing a
// closed loop hides) and TPOT, with the cells' flags.
func writeOpenLoop(b *strings.Builder, c *Category) {
	b.WriteString("### Open loop\n\n")
	b.WriteString("Requests arrive on a fixed schedule whatever the server does; TTFT \"from schedule\" counts from the moment each request was due, so a server that falls behind cannot hide its queue.\n\n")
	b.WriteString("| engine | rate asked | rate sent | tok/s | goodput req/s | TTFT from schedule p50 / p99 | TPOT p50 / p99 | err % |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	var m marks
	var flags []string
	for _, e := range c.Engines {
		for _, p := range c.openPoints(e) {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(e), rate(p.Rate), num(p.SentReqPerS.Med, 2),
				num(p.OutTokPerSec.Med, 0), num(p.GoodputReqPS.Med, 2), m.pair(p.TTFTSchedP50, p.TTFTSchedP99),
				m.pair(p.TPOTP50, p.TPOTP99), num(p.ErrPct.Med, 1))
			for _, f := range p.Flags {
				flags = append(flags, fmt.Sprintf("- engine=%s rate=%s: %s\n", e, rate(p.Rate), mdEscape(f)))
			}
		}
	}
	b.WriteString("\n")
	m.write(b)
	if reps := maxReps(c, true); reps > 1 {
		fmt.Fprintf(b, "Each number is the median over the cell's repetitions (up to %d).\n\n", reps)
	}
	if len(flags) > 0 {
		b.WriteString("Flags:\n\n")
		for _, f := range flags {
			b.WriteString(f)
		}
		b.WriteString("\n")
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
		for _, p := range c.closedPoints(e) {
			if p.Server != nil {
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
		for _, p := range c.closedPoints(e) {
			for _, f := range p.Flags {
				lines = append(lines, fmt.Sprintf("- engine=%s conc=%d: %s\n", e, p.Conc, mdEscape(f)))
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
