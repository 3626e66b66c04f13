package infbench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/shard"
)

// checkSharding refuses a sharded run without INFBENCH_TARGET or
// without INFBENCH_SEED: the shards must load one server (each would
// otherwise start an engine of its own), and salt their prompts and draw
// their schedules from one seed (a random one per process would differ).
func checkSharding(getenv func(string) string) error {
	s, err := config.ParseSharding(getenv)
	if err != nil {
		return err
	}
	if s.Sharded() && getenv(config.EnvTarget) == "" {
		return fmt.Errorf("shard %d of %d: %s is not set: the shards of a run load one server, so point them all at it (an engine of this build would start once per shard)",
			s.Index, s.Count, config.EnvTarget)
	}
	if s.Sharded() && getenv(EnvSeed) == "" {
		return fmt.Errorf("shard %d of %d: %s is not set: give every shard of the run the same new seed, e.g. %s=$(openssl rand -hex 6)",
			s.Index, s.Count, EnvSeed, EnvSeed)
	}
	return nil
}

// cellShard is the cell's part for this process.
func (s *Suite) cellShard() cell.Shard {
	return cell.Shard{Index: s.Sharding.Index, Count: s.Sharding.Count}
}

// joinShards joins a sharded run's barrier (shard 0 serves it) and
// records the shard in run.json; an unsharded run does nothing.
func (r *Run) joinShards(ctx context.Context) error {
	sh := r.Suite.Sharding
	if !sh.Sharded() {
		return nil
	}
	fmt.Fprintf(r.Progress.W(), "[infbench] shard %d of %d: joining the run at %s\n", sh.Index, sh.Count, sh.Coordinator)
	m, err := shard.Join(ctx, sh, r.Suite.ConfigLines())
	if err != nil {
		return err
	}
	r.Shard = m
	return r.Results.UpdateRun(func(run *resultsdir.Run) {
		run.Shard = &resultsdir.Shard{Index: sh.Index, Count: sh.Count, Run: m.Run, Coordinator: sh.Coordinator, Procs: runtime.GOMAXPROCS(0)}
	})
}

// closeShards stops shard 0's coordinator.
func (r *Run) closeShards() error {
	if r.Shard == nil {
		return nil
	}
	return r.Shard.Close()
}

// shardStart is where a shard stands when it has passed a cell's
// barrier: its clock against the coordinator's, and the common start on
// its own clock.
type shardStart struct {
	clock shard.Clock
	at    time.Time
}

// shardBarrier measures the clock against the coordinator and waits at
// the cell's barrier with the other shards. Unsharded, it does nothing.
func (r *Run) shardBarrier(ctx context.Context, key resultsdir.Key, c cell.Cell) (shardStart, error) {
	if r.Shard == nil {
		return shardStart{}, nil
	}
	clock, at, err := r.Shard.Barrier(ctx, fmt.Sprintf("%s#%d", c.Name(), key.Rep))
	return shardStart{clock, at}, err
}

// startShard sleeps until the common start (and the shard's delay in a
// ramp, cell.Cell.StartDelay), stamps the shard's start
// of the cell, immediately before its loop starts, and appends it with the shard's share and clock to
// shard.jsonl. It returns the sink to give cell.Run: the results sink
// with the shard's run-wide request indices and sessions
// (shardRecords).
// Unsharded, it returns sink as it is. A failed append is returned, and
// the cell runs anyway.
func (r *Run) startShard(ctx context.Context, key resultsdir.Key, c cell.Cell, st shardStart, sink func(loadgen.Record)) (func(loadgen.Record), error) {
	if r.Shard == nil {
		return sink, nil
	}
	share := cell.ShareOf(c, c.Shard)
	sc := resultsdir.ShardCell{Key: key, Shard: c.Shard.Index, Shards: c.Shard.Count,
		ClockOffset: st.clock.Offset, ClockRTT: st.clock.RTT,
		Concurrency: share.Concurrency, Rate: share.Rate, MaxInFlight: share.MaxInFlight, Requests: share.Requests, Warmup: share.Warmup}
	if err := shard.Start(ctx, st.at.Add(c.StartDelay())); err != nil {
		return sink, err
	}
	sc.Start = time.Now()
	err := resultsdir.AppendShardCell(r.Results.Dir(), sc)
	return shardRecords(cell.NumberingOf(c, c.Shard), sink), err
}

// shardRecords wraps a shard's sink: its records' Index and multi-turn
// Session (1-based) are made run-wide (cell.Numbering), so that the
// shards' requests are numbered as one process's, and no two shards'
// sessions share a number in the merged requests.jsonl. An open-loop
// shard's numbering leaves both as they are: its records carry their
// arrivals' indices in the whole schedule already, and have no sessions.
func shardRecords(n cell.Numbering, sink func(loadgen.Record)) func(loadgen.Record) {
	return func(rec loadgen.Record) {
		rec.Index = n.Index(rec.Index)
		if rec.Session > 0 {
			rec.Session = n.Session(rec.Session)
		}
		sink(rec)
	}
}
