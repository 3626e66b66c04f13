package merge_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/merge"
	"github.com/infbench/infbench/resultsdir"
)

var key = resultsdir.Key{Cell: "engine=sim/conc=4/workload=short", Engine: "sim", Conc: 4, Workload: "short"}

// shardRun describes one fabricated shard folder.
type shardRun struct {
	index, count int
	seed, conc   string
	ramp         time.Duration
	run          string
	start        time.Time     // the shard's own clock
	offset       time.Duration // coordinator − shard
	sent         []time.Duration
	summary      func(*loadgen.Summary) // what cell.Run adds to the shard's summary (nil: nothing)
	indexOf      func(i int) int        // the run-wide index of its i-th record (nil: i·count + index)
}

// write makes a shard's results folder as a shard run writes it: run.json,
// shard.jsonl, one record per send (each lasting 100 ms, 10 tokens) and
// the shard's summary.
func (s shardRun) write(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("shard-%d", s.index))
	w, err := resultsdir.Create(dir, resultsdir.Run{
		Start:     s.start,
		Config:    []config.Line{{Key: "infbench-seed", Value: s.seed}, {Key: "infbench-concurrency", Value: s.conc}},
		RunConfig: &config.Run{API: "chat", Ramp: s.ramp},
		Engines:   []resultsdir.Engine{{Name: "sim", Kind: "sim", Model: "m"}},
		Shard:     &resultsdir.Shard{Index: s.index, Count: s.count, Run: s.run, Procs: 2},
	})
	require.NoError(t, err)
	require.NoError(t, resultsdir.AppendShardCell(dir, resultsdir.ShardCell{Key: key, Shard: s.index, Shards: s.count,
		Start: s.start, ClockOffset: s.offset, Concurrency: 2, Requests: len(s.sent), Warmup: 0}))
	sink := w.Sink(key)
	var recs []loadgen.Record
	for i, at := range s.sent {
		idx := i*s.count + s.index
		if s.indexOf != nil {
			idx = s.indexOf(i)
		}
		r := loadgen.Record{Index: idx, Sent: at, TTFT: 10 * time.Millisecond, E2E: 100 * time.Millisecond,
			End: 100 * time.Millisecond, OutputTokens: 10, MaxTokens: 10, TokenSource: loadgen.TokensFromUsage,
			Events: []loadgen.Event{{At: 10 * time.Millisecond, Tokens: 1}, {At: 100 * time.Millisecond, Tokens: 9}}}
		sink(r)
		recs = append(recs, r)
	}
	sum := loadgen.Summarize(recs, loadgen.SLO{})
	if s.summary != nil {
		s.summary(&sum)
	}
	require.NoError(t, w.AddSummary(key, sum))
	require.NoError(t, w.Close())
	return dir
}

func base(i int) shardRun {
	return shardRun{index: i, count: 2, seed: "abc", conc: "4", run: "r1",
		start: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), sent: []time.Duration{0, 100 * time.Millisecond}}
}

// Shard 1's clock is 5 ms behind the coordinator's and it started its
// cell 2 ms later on its own clock: on the coordinator's timeline, 7 ms
// after shard 0. Every record of shard 1 moves by 7 ms, the duration is
// the span from shard 0's first send to shard 1's last completion, and
// the summary comes from all four records.
func TestMergeAlignsTheShards(t *testing.T) {
	s0, s1 := base(0), base(1)
	s1.start = s1.start.Add(2 * time.Millisecond)
	s1.offset = 5 * time.Millisecond
	d0, d1 := s0.write(t), s1.write(t)
	out := filepath.Join(t.TempDir(), "merged")
	require.NoError(t, merge.Merge(t.Context(), out, []string{d1, d0}, nil))

	reqs, _, err := resultsdir.ReadRequests(out)
	require.NoError(t, err)
	require.Len(t, reqs, 4)
	var got []string
	for _, q := range reqs {
		got = append(got, fmt.Sprintf("%d@%v/shard %d", q.Index, q.Sent, *q.Shard))
	}
	assert.Equal(t, []string{"0@0s/shard 0", "1@7ms/shard 1", "2@100ms/shard 0", "3@107ms/shard 1"}, got)
	sums, err := resultsdir.ReadSummaries(out)
	require.NoError(t, err)
	require.Len(t, sums.Cells, 1)
	s := sums.Cells[0].Summary
	assert.Equal(t, 4, s.Requests)
	assert.Equal(t, 207*time.Millisecond, s.Duration)
	assert.InDelta(t, 40/0.207, s.OutputTokPerSec, 1e-9)
	assert.Equal(t, 2, s.PeakInFlight, "one of each shard overlaps")

	run, err := resultsdir.ReadRun(out)
	require.NoError(t, err)
	assert.Equal(t, []string{d0, d1}, run.Shard.MergedFrom)
	bench, err := os.ReadFile(filepath.Join(out, merge.BenchFile))
	require.NoError(t, err)
	assert.Contains(t, string(bench), "infbench-seed: abc\n")
	assert.Regexp(t, `(?m)^BenchmarkServe/engine=sim/conc=4/workload=short-2\s+1\s.*\s193\.2 tok/s`, string(bench))
	for _, f := range []string{"report.md", "throughput-short.png"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
}

// Folders of different runs are refused, naming the difference.
func TestMergeRefusesAnotherRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*shardRun)
		want   string
	}{
		{"seed", func(s *shardRun) { s.seed = "abd" }, "different seeds, infbench-seed abc against abd"},
		{"configuration", func(s *shardRun) { s.conc = "8" }, `different configuration, infbench-concurrency: "4" against "8"`},
		{"engines.yaml", func(s *shardRun) { s.ramp = time.Second }, "different engines.yaml, run_config.Ramp: 0 against 1000000000"},
		{"run", func(s *shardRun) { s.run = "r2" }, "different runs of one configuration, run r1 against r2"},
		{"shard count", func(s *shardRun) { s.count = 3 }, "is shard 1 of 3,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s1 := base(1)
			tc.change(&s1)
			d0, d1 := base(0).write(t), s1.write(t)
			out := filepath.Join(t.TempDir(), "merged")
			err := merge.Merge(t.Context(), out, []string{d0, d1}, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NoDirExists(t, out, "nothing written")
		})
	}
}

// Two shards that recorded the same request of a cell (folders of runs
// that split it differently) are refused, naming the request and both.
func TestMergeRefusesARequestOfTwoShards(t *testing.T) {
	s1 := base(1)
	s1.indexOf = func(i int) int { return 2 * i } // shard 0's 0 and 2
	d0, d1 := base(0).write(t), s1.write(t)
	out := filepath.Join(t.TempDir(), "merged")
	err := merge.Merge(t.Context(), out, []string{d0, d1}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "request 0 of engine=sim/conc=4/workload=short (repetition 0) is in shard 0's folder "+d0+" and in shard 1's "+d1)
	assert.NoDirExists(t, out, "nothing written")
}

// A short shard is named, in the error, the log and the merged cell's
// flags; the merge is written with what it left.
func TestMergeNamesAShortShard(t *testing.T) {
	s1 := base(1)
	d0, d1 := base(0).write(t), s1.write(t)
	// Shard 1's share was 3 requests; it recorded 2.
	require.NoError(t, os.Remove(filepath.Join(d1, resultsdir.ShardFile)))
	require.NoError(t, resultsdir.AppendShardCell(d1, resultsdir.ShardCell{Key: key, Shard: 1, Shards: 2, Start: s1.start, Requests: 2, Warmup: 1}))
	var log bytes.Buffer
	out := filepath.Join(t.TempDir(), "merged")
	err := merge.Merge(t.Context(), out, []string{d0, d1}, &log)
	require.ErrorIs(t, err, merge.ErrShort)
	want := "shard 1 (" + d1 + ") is short in engine=sim/conc=4/workload=short (repetition 0): 2 of its 3 requests (2 measured + 1 warmup) recorded"
	assert.Contains(t, err.Error(), want)
	assert.Contains(t, log.String(), want)
	sums, err := resultsdir.ReadSummaries(out)
	require.NoError(t, err)
	assert.Contains(t, sums.Cells[0].Summary.Flags[len(sums.Cells[0].Summary.Flags)-1], want)
}
