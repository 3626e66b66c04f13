package report

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/servermetrics"
)

// Recompute summarises the requests of every cell run: the records of
// each resultsdir.Key, sorted by index as cell.Run passes them to
// loadgen.Summarize, with slo. The order is that of order (the keys of an
// existing summary.json), then of first appearance in reqs.
func Recompute(reqs []resultsdir.Request, slo loadgen.SLO, order []resultsdir.Key) []resultsdir.CellSummary {
	byKey := map[resultsdir.Key][]loadgen.Record{}
	keys := slices.Clone(order)
	known := map[resultsdir.Key]bool{}
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
	out := make([]resultsdir.CellSummary, 0, len(keys))
	for _, k := range keys {
		recs := byKey[k]
		slices.SortStableFunc(recs, func(a, b loadgen.Record) int { return cmp.Compare(a.Index, b.Index) })
		out = append(out, resultsdir.CellSummary{Key: k, Summary: loadgen.Summarize(recs, slo)})
	}
	return out
}

// rebuild recomputes dir's summary.json from requests.jsonl and writes it,
// keeping each cell's server metrics from the old one (they are not in
// requests.jsonl); it returns the requests too.
func rebuild(dir string, run *resultsdir.Run, warn func(string)) ([]resultsdir.Request, *resultsdir.Summaries, error) {
	reqs, truncated, err := resultsdir.ReadRequests(dir)
	if err != nil {
		return nil, nil, err
	}
	if truncated {
		warn(fmt.Sprintf("%s: the last line was cut short (the run was killed while writing it) and is left out", resultsdir.RequestsFile))
	}
	var order []resultsdir.Key
	server := map[resultsdir.Key]*servermetrics.Cell{} // not in requests.jsonl: kept from the old summary
	if old, err := resultsdir.ReadSummaries(dir); err == nil {
		for _, c := range old.Cells {
			order = append(order, c.Key)
			server[c.Key] = c.Server
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		warn(fmt.Sprintf("ignoring the old %s: %v", resultsdir.SummaryFile, err))
	}
	sums := &resultsdir.Summaries{Cells: Recompute(reqs, run.SLO, order)}
	for i := range sums.Cells {
		sums.Cells[i].Server = server[sums.Cells[i].Key]
	}
	return reqs, sums, resultsdir.WriteJSON(filepath.Join(dir, resultsdir.SummaryFile), sums)
}
