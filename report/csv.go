package report

import (
	"encoding/csv"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// CSVFile is the summary as a spreadsheet: one row per cell run.
const CSVFile = "summary.csv"

// csvColumns are summary.csv's columns, in order; README.md's report
// section documents each. Latencies are in milliseconds, rates per
// second; an empty field is a value the cell does not have (no open loop,
// no samples, no SLO).
func csvColumns() []string {
	return []string{
		"engine", "workload", "conc", "rate", "rep",
		"requests", "completed", "failed", "error_rate", "duration_s",
		"output_tok_per_s", "total_tok_per_s", "req_per_s", "goodput_req_per_s", "sent_req_per_s",
		"ttft_n", "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms",
		"ttft_sched_p50_ms", "ttft_sched_p99_ms",
		"tpot_n", "tpot_p50_ms", "tpot_p99_ms",
		"itl_n", "itl_p50_ms", "itl_p99_ms",
		"e2e_n", "e2e_p50_ms", "e2e_p99_ms",
		"user_tok_per_s_p50", "small_sample", "flags",
	}
}

// writeCSV writes summary.csv: a header, then one row per entry of
// summary.json in its order.
func writeCSV(w io.Writer, cells []resultsdir.CellSummary) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns()); err != nil {
		return err
	}
	for _, c := range cells {
		if err := cw.Write(csvRow(c)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvRow(c resultsdir.CellSummary) []string {
	s := &c.Summary
	f := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	// ms is a percentile of d in milliseconds, empty without samples.
	ms := func(d *loadgen.Dist, v float64) string {
		if d.N == 0 {
			return ""
		}
		return f(v / 1e6)
	}
	n := func(d *loadgen.Dist) string { return strconv.Itoa(d.N) }
	conc, rt := strconv.Itoa(c.Conc), ""
	if c.Rate > 0 {
		conc, rt = "", f(c.Rate)
	}
	opt := func(ok bool, v float64) string {
		if !ok {
			return ""
		}
		return f(v)
	}
	total := ""
	if s.TotalTokPerSec != nil {
		total = f(*s.TotalTokPerSec)
	}
	return []string{
		c.Engine, c.Workload, conc, rt, strconv.Itoa(c.Rep),
		strconv.Itoa(s.Requests), strconv.Itoa(s.Completed), strconv.Itoa(s.Failed), f(s.ErrorRate), f(s.Duration.Seconds()),
		f(s.OutputTokPerSec), total, f(s.ReqPerSec), opt(s.SLO != (loadgen.SLO{}), s.GoodputReqPerS), opt(s.Paced, s.SentReqPerSec),
		n(&s.TTFT), ms(&s.TTFT, s.TTFT.P50), ms(&s.TTFT, s.TTFT.P90), ms(&s.TTFT, s.TTFT.P99),
		ms(&s.TTFTFromSchedule, s.TTFTFromSchedule.P50), ms(&s.TTFTFromSchedule, s.TTFTFromSchedule.P99),
		n(&s.TPOT), ms(&s.TPOT, s.TPOT.P50), ms(&s.TPOT, s.TPOT.P99),
		n(&s.ITL), ms(&s.ITL, s.ITL.P50), ms(&s.ITL, s.ITL.P99),
		n(&s.E2E), ms(&s.E2E, s.E2E.P50), ms(&s.E2E, s.E2E.P99),
		opt(s.UserSpeed.N > 0, s.UserSpeed.P50), smallSample(s), strings.Join(s.Flags, "; "),
	}
}

// smallSample lists the columns of the row whose percentile came from
// too few samples to mean what it says (loadgen.MinSamples): e.g.
// "ttft_p90 ttft_p99 tpot_p99".
func smallSample(s *loadgen.Summary) string {
	var out []string
	for _, d := range []struct {
		name string
		dist *loadgen.Dist
		pcts []string
	}{
		{"ttft", &s.TTFT, []string{"p90", "p99"}},
		{"ttft_sched", &s.TTFTFromSchedule, []string{"p99"}},
		{"tpot", &s.TPOT, []string{"p99"}},
		{"itl", &s.ITL, []string{"p99"}},
		{"e2e", &s.E2E, []string{"p99"}},
	} {
		if d.dist.N == 0 {
			continue
		}
		for _, p := range d.pcts {
			if d.dist.N < loadgen.MinSamples(p) {
				out = append(out, d.name+"_"+p)
			}
		}
	}
	return strings.Join(out, " ")
}
