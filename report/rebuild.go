package report

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/results"
)

// Recompute summarises the requests of every cell run: the records of
// each results.Key, sorted by index as infbench.RunCell passes them to
// loadgen.Summarize, with slo. The order is that of order (the keys of an
// existing summary.json), then of first appearance in reqs.
func Recompute(reqs []results.Request, slo loadgen.SLO, order []results.Key) []results.CellSummary {
	byKey := map[results.Key][]loadgen.Record{}
	keys := slices.Clone(order)
	known := map[results.Key]bool{}
	for _, k := range keys {
		known[k] = true
	}
	for _, q := range reqs {
		if !known[q.Key] {
			known[q.Key] = true
			keys = append(keys, q.Key)
		}
		byKey[q.Key] = append(byKey[q.Key], q.Record)
	}
	out := make([]results.CellSummary, 0, len(keys))
	for _, k := range keys {
		recs := byKey[k]
		slices.SortStableFunc(recs, func(a, b loadgen.Record) int { return cmp.Compare(a.Index, b.Index) })
		out = append(out, results.CellSummary{Key: k, Summary: loadgen.Summarize(recs, slo)})
	}
	return out
}

// rebuild recomputes dir's summary.json from requests.jsonl and writes it.
func rebuild(dir string, run *results.Run, warn func(string)) (*results.Summaries, error) {
	reqs, truncated, err := results.ReadRequests(dir)
	if err != nil {
		return nil, err
	}
	if truncated {
		warn(fmt.Sprintf("%s: the last line was cut short (the run was killed while writing it) and is left out", results.RequestsFile))
	}
	var order []results.Key
	if old, err := results.ReadSummaries(dir); err == nil {
		for _, c := range old.Cells {
			order = append(order, c.Key)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		warn(fmt.Sprintf("ignoring the old %s: %v", results.SummaryFile, err))
	}
	sums := &results.Summaries{Cells: Recompute(reqs, run.SLO, order)}
	return sums, results.WriteJSON(filepath.Join(dir, results.SummaryFile), sums)
}
