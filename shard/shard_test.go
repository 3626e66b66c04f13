package shard_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/shard"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

var lines = []config.Line{{Key: "infbench-seed", Value: "abc"}, {Key: "infbench-concurrency", Value: "200"}}

// joinAll joins n shards (shard 0 last, so that the others wait for its
// coordinator) and returns the members in index order, or the errors.
func joinAll(t *testing.T, n int, addr string, timeout time.Duration, cfg func(i int) []config.Line) ([]*shard.Member, []error) {
	ms, errs := make([]*shard.Member, n), make([]error, n)
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms[i], errs[i] = shard.Join(t.Context(), config.Sharding{Index: i, Count: n, Coordinator: addr, Timeout: timeout}, cfg(i))
		}()
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, m := range ms {
			if m != nil {
				_ = m.Close()
			}
		}
	})
	return ms, errs
}

// Shards join, pass a barrier together and are handed one start instant
// and one run identity; each knows its clock against the coordinator's.
func TestBarrier(t *testing.T) {
	addr := freeAddr(t)
	ms, errs := joinAll(t, 3, addr, 30*time.Second, func(int) []config.Line { return lines })
	for i, err := range errs {
		require.NoError(t, err, "shard %d", i)
	}
	assert.Equal(t, ms[0].Run, ms[1].Run)
	assert.Equal(t, ms[0].Run, ms[2].Run)
	assert.NotEmpty(t, ms[0].Run)

	type passed struct {
		clock  shard.Clock
		at     time.Time
		passed time.Time
		err    error
	}
	got := make([]passed, 3)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 1 {
				time.Sleep(300 * time.Millisecond) // the last to arrive
			}
			c, at, err := m.Barrier(t.Context(), "cell#0")
			got[i] = passed{c, at, time.Now(), err}
		}()
	}
	wg.Wait()
	for i, g := range got {
		require.NoError(t, g.err, "shard %d", i)
		// One process, one clock: the offset is within its error bound.
		assert.LessOrEqual(t, g.clock.Offset.Abs(), g.clock.RTT, "shard %d: offset %v, rtt %v", i, g.clock.Offset, g.clock.RTT)
		assert.True(t, g.at.After(got[1].passed.Add(-shard.StartLead)), "the start follows the last arrival")
	}
	// The common start, on each shard's clock, is one instant within the
	// offsets' error bounds.
	for i := range got {
		assert.LessOrEqual(t, got[i].at.Sub(got[0].at).Abs(), got[i].clock.RTT+got[0].clock.RTT, "shard %d's start against shard 0's", i)
	}
}

// A shard with another configuration is refused at the join, naming the
// line that differs.
func TestJoinRefusesAnotherConfiguration(t *testing.T) {
	addr := freeAddr(t)
	_, errs := joinAll(t, 2, addr, 5*time.Second, func(i int) []config.Line {
		if i == 1 {
			return []config.Line{{Key: "infbench-seed", Value: "abd"}, {Key: "infbench-concurrency", Value: "200"}}
		}
		return lines
	})
	// Shard 0 joins its own coordinator first; shard 1 is told at once,
	// shard 0 waits for a shard 1 that never passes.
	require.Error(t, errs[1])
	assert.Contains(t, errs[1].Error(), `shard 1's configuration differs from shard 0's: infbench-seed: "abd" against "abc"`)
	require.Error(t, errs[0])
	assert.Contains(t, errs[0].Error(), "not passed within 5s")
}

// Two processes claiming one index, and a count that differs, are
// refused; a missing shard ends the wait at the deadline, naming the
// barrier.
func TestBarrierRefusals(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c, err := shard.Serve(ctx, addr, 3)
	require.NoError(t, err)
	defer c.Close()
	join := func(i, n int) error {
		m, err := shard.Join(t.Context(), config.Sharding{Index: i, Count: n, Coordinator: addr, Timeout: 2 * time.Second}, lines)
		if m != nil {
			_ = m.Close()
		}
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- join(1, 3) }()
	time.Sleep(200 * time.Millisecond)
	err = join(1, 3)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `shard 1 reached barrier "join" twice, from two processes`)
	err = join(2, 4)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "shard 2 says the run has 4 shards, shard 0 says 3")
	err = <-errc
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf(`shard 1 of 3: barrier "join" at %s not passed within 2s`, addr))
}
