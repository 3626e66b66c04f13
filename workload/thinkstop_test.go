package workload_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/workload"
)

// A cell that stops while its session waits out a long think time
// returns at once, not after the think time: the wait is under the
// loop's context.
func TestMultiTurnStopEndsThinkTime(t *testing.T) {
	const think = 30 * time.Second
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	client := simtest.Client(t, url, "m", 2)
	src, err := workload.New(config.WorkloadSpec{Name: "mt", Kind: config.WorkloadMultiTurn, Turns: 3, ThinkTime: think,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 20}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 4}}, "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// At concurrency 2, the worker done first waits for a session while
	// both think; the second answer stops the cell.
	var stopped time.Time
	answers := 0
	sink := func(r loadgen.Record) {
		if r.Turn == 1 && r.OK() {
			if answers++; answers == 2 {
				stopped = time.Now()
				cancel()
			}
		}
	}
	cl := cell.Cell{Engine: "sim", Concurrency: 2, Workload: "mt", Source: src, Requests: 6, Seed: 1}
	recs, _, err := cell.Run(ctx, client, cl, cell.NewSalter(1), sink, nil)
	took := time.Since(stopped)
	require.Error(t, err)
	require.False(t, stopped.IsZero())
	for _, r := range recs {
		assert.NotEqual(t, 2, r.Turn, "no turn 2 was sent")
	}
	assert.Less(t, took, think/2, "the cell returned without waiting out the think time")
}
