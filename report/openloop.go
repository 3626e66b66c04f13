package report

import (
	"fmt"
	"strconv"
	"strings"

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
func writeOpenLoop(b *strings.Builder, open []resultsdir.CellSummary) {
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
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s |\n", mdEscape(c.Engine), mdEscape(c.Prompt),
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
}
