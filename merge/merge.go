package merge

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/servermetrics"
)

// BenchFile is the merged folder's benchmark-format file.
const BenchFile = "bench.txt"

// ErrShort is matched by Merge's error when a shard has fewer records of
// a cell than its share: the merged folder is written, and the cell is
// flagged.
var ErrShort = errors.New("a shard is short")

// Merge merges the shard folders dirs (in any order) into the new folder
// out. log gets a line per warning (nil: none). It refuses folders that
// are not the shards of one run. When a shard is short it writes the
// merge all the same and returns an error matching ErrShort that names
// each short shard and cell.
func Merge(ctx context.Context, out string, dirs []string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	var fs []*folder
	for _, d := range dirs {
		f, err := read(d)
		if err != nil {
			return err
		}
		if f.truncated {
			fmt.Fprintf(log, "infbench merge: %s: the last line of %s was cut short (the shard was killed while writing it) and is left out\n", d, resultsdir.RequestsFile)
		}
		fs = append(fs, f)
	}
	shards, err := check(fs)
	if err != nil {
		return err
	}
	order := keyOrder(shards)
	reqs, short, err := unite(shards, order)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(out, resultsdir.RunFile)); err == nil {
		return fmt.Errorf("%s already holds a run (%s exists): merge into a new folder", out, resultsdir.RunFile)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	run := mergedRun(shards)
	if err := writeRequests(filepath.Join(out, resultsdir.RequestsFile), reqs); err != nil {
		return err
	}
	sums := &resultsdir.Summaries{Cells: report.Recompute(reqs, run.SLO, order)}
	for i := range sums.Cells {
		c := &sums.Cells[i]
		c.Server = serverMetrics(shards, c.Key)
		c.Summary.Flags = append(c.Summary.Flags, short[c.Key]...)
		var notes []string
		c.Summary.InputTokens, notes = shardNotes(shards, c.Key)
		c.Summary.Flags = append(c.Summary.Flags, notes...)
	}
	if err := resultsdir.WriteJSON(filepath.Join(out, resultsdir.RunFile), run); err != nil {
		return err
	}
	if err := resultsdir.WriteJSON(filepath.Join(out, resultsdir.SummaryFile), sums); err != nil {
		return err
	}
	if err := writeBench(filepath.Join(out, BenchFile), run, sums); err != nil {
		return err
	}
	if err := report.Render(ctx, out, report.WithLog(log)); err != nil {
		return fmt.Errorf("rendering the merged report: %w", err)
	}
	var all []string
	for _, k := range order {
		all = append(all, short[k]...)
	}
	if len(all) > 0 {
		for _, s := range all {
			fmt.Fprintln(log, "infbench merge:", s)
		}
		return fmt.Errorf("%w: %s (the merge is written to %s, its cells flagged)", ErrShort, all[0], out)
	}
	return nil
}

// keyOrder is the cell runs in the order shard 0 finished them, then any
// that only started (shard.jsonl), shard by shard.
func keyOrder(shards []*folder) []resultsdir.Key {
	var order []resultsdir.Key
	seen := map[resultsdir.Key]bool{}
	add := func(k resultsdir.Key) {
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	for _, f := range shards {
		for _, c := range f.sums.Cells {
			add(c.Key)
		}
	}
	for _, f := range shards {
		var started []resultsdir.ShardCell
		for _, c := range f.cells {
			started = append(started, c)
		}
		slices.SortFunc(started, func(a, b resultsdir.ShardCell) int { return a.Start.Compare(b.Start) })
		for _, c := range started {
			add(c.Key)
		}
	}
	return order
}

// unite puts every shard's records of every cell run on the aligned
// timeline, marks their shard, and says which shard is short where.
func unite(shards []*folder, order []resultsdir.Key) ([]resultsdir.Request, map[resultsdir.Key][]string, error) {
	n := len(shards)
	start := map[resultsdir.Key]time.Time{} // earliest aligned start of each cell run
	for _, f := range shards {
		for k, c := range f.cells {
			if s, ok := start[k]; !ok || c.AlignedStart().Before(s) {
				start[k] = c.AlignedStart()
			}
		}
	}
	counts := make([]map[resultsdir.Key]int, n)
	owner := map[resultsdir.Key]map[int]int{} // cell run → request index → shard
	var out []resultsdir.Request
	for i, f := range shards {
		counts[i] = map[resultsdir.Key]int{}
		for _, q := range f.reqs {
			c, ok := f.cells[q.Key]
			if !ok {
				return nil, nil, fmt.Errorf("%s: requests of %s (repetition %d) but no start of it in %s: the folder is damaged",
					f.dir, q.Cell, q.Rep, resultsdir.ShardFile)
			}
			// The shards number a cell's requests as one process would
			// (cell.Numbering), each index once: one recorded by two
			// shards means folders of runs that did not split the cell
			// alike.
			if j, dup := owner[q.Key][q.Index]; dup {
				return nil, nil, fmt.Errorf("request %d of %s (repetition %d) is in shard %d's folder %s and in shard %d's %s: the shards did not split the cell alike (give the folders of one sharded run)",
					q.Index, q.Cell, q.Rep, j, shards[j].dir, i, f.dir)
			}
			if owner[q.Key] == nil {
				owner[q.Key] = map[int]int{}
			}
			owner[q.Key][q.Index] = i
			shift := c.AlignedStart().Sub(start[q.Key])
			q.Sent += shift
			if q.Paced {
				q.Scheduled += shift
			}
			idx := i
			q.Shard = &idx
			counts[i][q.Key]++
			out = append(out, q)
		}
	}
	pos := map[resultsdir.Key]int{}
	for i, k := range order {
		pos[k] = i
	}
	slices.SortStableFunc(out, func(a, b resultsdir.Request) int {
		return cmp.Or(cmp.Compare(pos[a.Key], pos[b.Key]), cmp.Compare(a.Index, b.Index))
	})
	short := map[resultsdir.Key][]string{}
	for _, k := range order {
		for i, f := range shards {
			c, ok := f.cells[k]
			if !ok {
				short[k] = append(short[k], fmt.Sprintf("shard %d (%s) is short in %s (repetition %d): it never started the cell (0 requests)",
					i, f.dir, k.Cell, k.Rep))
				continue
			}
			if got, want := counts[i][k], c.Requests+c.Warmup; got < want {
				short[k] = append(short[k], fmt.Sprintf("shard %d (%s) is short in %s (repetition %d): %d of its %d requests (%d measured + %d warmup) recorded; the cell had less than its whole load after the shard stopped",
					i, f.dir, k.Cell, k.Rep, got, want, c.Requests, c.Warmup))
			}
		}
	}
	return out, short, nil
}

// mergedRun is shard 0's run.json, started at the earliest start, with
// the shards it was merged from.
func mergedRun(shards []*folder) *resultsdir.Run {
	run := *shards[0].run
	sh := *run.Shard
	sh.Index = 0
	sh.MergedFrom = nil
	for _, f := range shards {
		sh.MergedFrom = append(sh.MergedFrom, f.dir)
		if f.run.Start.Before(run.Start) {
			run.Start = f.run.Start
		}
	}
	run.Shard = &sh
	return &run
}

// serverMetrics is the engine's own metrics over a cell run: shard 0's
// scrape, else the first shard's that has one.
func serverMetrics(shards []*folder, k resultsdir.Key) *servermetrics.Cell {
	for _, f := range shards {
		for _, c := range f.sums.Cells {
			if c.Key == k && c.Server != nil {
				return c.Server
			}
		}
	}
	return nil
}

func writeRequests(path string, reqs []resultsdir.Request) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing the merged requests: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range reqs {
		if err := enc.Encode(&reqs[i]); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
