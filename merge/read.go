package merge

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/shard"
)

// folder is one shard's results folder, read.
type folder struct {
	dir       string
	run       *resultsdir.Run
	cells     map[resultsdir.Key]resultsdir.ShardCell
	sums      *resultsdir.Summaries
	reqs      []resultsdir.Request
	truncated bool
}

func read(dir string) (*folder, error) {
	run, err := resultsdir.ReadRun(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if run.Shard == nil || len(run.Shard.MergedFrom) > 0 {
		return nil, fmt.Errorf("%s: not the results folder of one shard (run.json has no shard, or is itself a merge): merge the folders the shards of one run wrote with %s=i/n", dir, "INFBENCH_SHARD")
	}
	cells, err := resultsdir.ReadShardCells(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	f := &folder{dir: dir, run: run, cells: map[resultsdir.Key]resultsdir.ShardCell{}}
	for _, c := range cells {
		f.cells[c.Key] = c
	}
	if f.sums, err = resultsdir.ReadSummaries(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if f.reqs, f.truncated, err = resultsdir.ReadRequests(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return f, nil
}

// check refuses folders that are not the shards of one run, naming the
// first difference against shard 0's folder, and returns them by index.
func check(fs []*folder) ([]*folder, error) {
	if len(fs) == 0 {
		return nil, fmt.Errorf("no results folders to merge")
	}
	first := fs[0]
	n := first.run.Shard.Count
	byIndex := make([]*folder, n)
	for _, f := range fs {
		sh := f.run.Shard
		if sh.Count != n {
			return nil, fmt.Errorf("%s is shard %d of %d, %s shard %d of %d: a different shard count, so a different run",
				f.dir, sh.Index, sh.Count, first.dir, first.run.Shard.Index, n)
		}
		if sh.Index < 0 || sh.Index >= n {
			return nil, fmt.Errorf("%s: shard %d of %d is out of range", f.dir, sh.Index, n)
		}
		if d := byIndex[sh.Index]; d != nil {
			return nil, fmt.Errorf("shard %d of %d given twice: %s and %s (give each shard's folder once)", sh.Index, n, d.dir, f.dir)
		}
		byIndex[sh.Index] = f
	}
	for _, f := range fs[1:] {
		if err := same(first, f); err != nil {
			return nil, err
		}
	}
	for i, f := range byIndex {
		if f == nil {
			return nil, fmt.Errorf("shard %d of %d is missing: give the folders of all %d shards of run %s (have %s)",
				i, n, n, first.run.Shard.Run, have(byIndex))
		}
	}
	return byIndex, nil
}

func have(byIndex []*folder) string {
	var out []string
	for i, f := range byIndex {
		if f != nil {
			out = append(out, fmt.Sprintf("%d: %s", i, f.dir))
		}
	}
	return "shards " + fmt.Sprint(out)
}

// same names the first difference between two shards' runs: the seed,
// the configuration lines, engines.yaml as applied, the engines, then
// the run identity (two runs of the same configuration and seed).
func same(a, b *folder) error {
	differ := func(what string) error {
		return fmt.Errorf("%s and %s are not shards of one run: %s", a.dir, b.dir, what)
	}
	if sa, sb := line(a.run, "infbench-seed"), line(b.run, "infbench-seed"); sa != sb {
		return differ(fmt.Sprintf("different seeds, infbench-seed %s against %s", sa, sb))
	}
	if d := shard.Diff(a.run.Config, b.run.Config); d != "" {
		return differ("different configuration, " + d)
	}
	if d := runConfigDiff(a.run, b.run); d != "" {
		return differ("different engines.yaml, " + d)
	}
	if d := engineDiff(a.run.Engines, b.run.Engines); d != "" {
		return differ("different engines, " + d)
	}
	if a.run.Shard.Run != b.run.Shard.Run {
		return differ(fmt.Sprintf("different runs of one configuration, run %s against %s (the identity shard 0's coordinator handed out)",
			a.run.Shard.Run, b.run.Shard.Run))
	}
	return nil
}

func line(r *resultsdir.Run, key string) string {
	for _, l := range r.Config {
		if l.Key == key {
			return l.Value
		}
	}
	return ""
}

// runConfigDiff compares run.json's run_config field by field.
func runConfigDiff(a, b *resultsdir.Run) string {
	ja, _ := json.Marshal(a.RunConfig)
	jb, _ := json.Marshal(b.RunConfig)
	var ma, mb map[string]json.RawMessage
	_ = json.Unmarshal(ja, &ma)
	_ = json.Unmarshal(jb, &mb)
	keys := make([]string, 0, len(ma)+len(mb))
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if string(ma[k]) != string(mb[k]) {
			return fmt.Sprintf("run_config.%s: %s against %s", k, orNone(ma[k]), orNone(mb[k]))
		}
	}
	return ""
}

func orNone(b json.RawMessage) string {
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

func engineDiff(a, b []resultsdir.Engine) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d engines against %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Kind != y.Kind || x.Model != y.Model {
			return fmt.Sprintf("engine %d: %s (%s, model %q) against %s (%s, model %q)", i, x.Name, x.Kind, x.Model, y.Name, y.Kind, y.Model)
		}
		if d := shard.Diff(x.Info, y.Info); d != "" {
			return fmt.Sprintf("engine %s: %s", x.Name, d)
		}
	}
	return ""
}
