package loadgen

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func durations(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d)
	}
	return out
}

func gapStats(s []time.Duration) (mean, cv float64) {
	var gaps []float64
	for i := 1; i < len(s); i++ {
		gaps = append(gaps, (s[i] - s[i-1]).Seconds())
	}
	d := NewDist(gaps)
	return d.Mean, d.Std / d.Mean
}

func TestOpenLoopSchedule(t *testing.T) {
	poisson := OpenLoop{Rate: 50, Requests: 20000, Seed: 1}.Schedule()
	require.Len(t, poisson, 20000)
	assert.Zero(t, poisson[0], "the first request goes at once")
	mean, cv := gapStats(poisson)
	// 20,000 exponential gaps: the sample mean is within 3% of 1/rate and
	// the coefficient of variation within 5% of 1 (both > 4 standard
	// errors).
	assert.InDelta(t, 0.02, mean, 0.02*0.03)
	assert.InDelta(t, 1, cv, 0.05, "Poisson gaps have CV 1")

	regular := OpenLoop{Rate: 50, Burstiness: 4, Requests: 20000, Seed: 1}.Schedule()
	_, cv = gapStats(regular)
	assert.InDelta(t, 0.5, cv, 0.03, "gamma shape 4: CV 1/√4")
	bursty := OpenLoop{Rate: 50, Burstiness: 0.25, Requests: 20000, Seed: 1}.Schedule()
	mean, cv = gapStats(bursty)
	assert.InDelta(t, 0.02, mean, 0.02*0.06)
	assert.InDelta(t, 2, cv, 0.15, "gamma shape 1/4: CV 2")

	assert.Equal(t, poisson, OpenLoop{Rate: 50, Requests: 20000, Seed: 1}.Schedule(), "same seed, same schedule")
	assert.NotEqual(t, poisson[1:10], OpenLoop{Rate: 50, Requests: 20000, Seed: 2}.Schedule()[1:10])
}

func TestOpenLoopValidate(t *testing.T) {
	for _, l := range []OpenLoop{{Rate: 0, Requests: 1}, {Rate: math.Inf(1), Requests: 1}, {Rate: 1}, {Rate: 1, Requests: 1, Burstiness: -1},
		{Rate: 1, Requests: 1, Shard: 2, Shards: 2}, {Rate: 1, Requests: 1, Shard: -1, Shards: 3}} {
		_, err := l.Run(context.Background(), nil, nil, nil)
		assert.Error(t, err, "%+v", l)
	}
}

// The shards of a loop send every arrival of its schedule once: shard i
// the arrivals k mod n = i, in order.
func TestOpenLoopShardsDealOutTheSchedule(t *testing.T) {
	l := OpenLoop{Rate: 10, Warmup: 3, Requests: 8}
	for _, n := range []int{2, 3, 5, 12} {
		seen := make([]int, 11)
		for i := range n {
			l.Shard, l.Shards = i, n
			mine := l.Mine()
			assert.True(t, slices.IsSorted(mine))
			for _, k := range mine {
				assert.Equal(t, i, k%n, "shard %d of %d", i, n)
				seen[k]++
			}
		}
		assert.Equal(t, slices.Repeat([]int{1}, 11), seen, "%d shards: every arrival once", n)
	}
	l.Shard, l.Shards = 0, 1
	assert.Len(t, l.Mine(), 11, "one shard: every arrival")
}

// Against a fast server the loop keeps to its schedule: it sends at the
// rate of its own schedule, never early, and latency from the schedule
// is latency from the send plus the send lag. Compared with the schedule
// of the same run, not with a clock: a late timer shifts a send, but the
// schedule is absolute, so lateness does not accumulate.
func TestOpenLoopKeepsItsRate(t *testing.T) {
	srv := newStreamServer(t, 5*ms, ms, 3)
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m", IncludeUsage: true}, 64)
	require.NoError(t, err)
	defer c.Close()
	loop := OpenLoop{Rate: 200, Warmup: 20, Requests: 200, Seed: 7, MaxInFlight: 64}
	recs, err := loop.Run(context.Background(), c, func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 3} }, nil)
	require.NoError(t, err)
	require.Len(t, recs, 220)
	for i, r := range recs {
		require.True(t, r.Paced)
		require.Equal(t, i, r.Index)
		assert.GreaterOrEqual(t, r.Sent, r.Scheduled, "never sent early")
	}
	s := Summarize(recs, SLO{})
	require.Equal(t, 200, s.Completed, s.FirstErrors)
	require.True(t, s.Paced)
	// The schedule itself: 200 Poisson gaps at 200/s (standard error
	// about 7%).
	assert.InDelta(t, 200, s.DueReqPerSec, 50)
	// A loop that waited for responses (a closed loop in disguise) would
	// send far below its schedule's rate; one that keeps to it sends at
	// it, whatever each send's lag.
	assert.InDelta(t, 1, s.SentReqPerSec/s.DueReqPerSec, 0.25, "sent %.1f/s where the schedule asked %.1f/s", s.SentReqPerSec, s.DueReqPerSec)
	assert.InDelta(t, s.TTFT.Mean+s.SendLag.Mean, s.TTFTFromSchedule.Mean, 1e3, "from the schedule = lag + from the send (ns)")
	assert.Empty(t, slices.DeleteFunc(slices.Clone(s.Flags), func(f string) bool { return !strings.Contains(f, "held back") }))
}

// A server slower than the offered load: with one slot, requests queue in
// the client. A closed loop (or a client that stamps only the actual send)
// would report the server's own TTFT; measured from the schedule, the
// queueing shows.
func TestOpenLoopHasNoCoordinatedOmission(t *testing.T) {
	srv := newStreamServer(t, 20*ms, ms, 2)
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m", IncludeUsage: true}, 1)
	require.NoError(t, err)
	defer c.Close()
	// 100 requests/s offered, about 45 served: the backlog grows.
	loop := OpenLoop{Rate: 100, Burstiness: 100, Requests: 40, Seed: 3, MaxInFlight: 1}
	recs, err := loop.Run(context.Background(), c, func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 2} }, nil)
	require.NoError(t, err)
	s := Summarize(recs, SLO{})
	require.Equal(t, 40, s.Completed, s.FirstErrors)
	t.Logf("TTFT from send p50 %v; from schedule p50 %v, max %v; send lag max %v",
		time.Duration(s.TTFT.P50), time.Duration(s.TTFTFromSchedule.P50), time.Duration(s.TTFTFromSchedule.Max), time.Duration(s.SendLag.Max))
	// Every bound here only gets easier on a busy machine: the server
	// takes at least 21 ms a request (it sleeps 20 ms, then writes two
	// tokens 1 ms apart), so 40 requests due 10 ms apart pile up a backlog
	// of at least 11 ms per request, whatever the clock.
	srv.mu.Lock()
	serverTTFT := NewDist(durations(srv.ttfts))
	srv.mu.Unlock()
	assert.GreaterOrEqual(t, s.TTFT.P50, serverTTFT.P50, "the client cannot see the first token before the server wrote it")
	assert.Greater(t, s.TTFTFromSchedule.Max, float64(200*ms), "the backlog: the last request waited for ~20 before it")
	assert.Greater(t, s.TTFTFromSchedule.P50, 3*s.TTFT.P50)
	assert.Less(t, s.SentReqPerSec, 70.0, "the loop reports the rate it achieved, not the one asked for")

	units := map[string]bool{}
	for _, m := range s.Metrics() {
		units[m.Unit] = true
	}
	assert.True(t, units["ttft-sched-p50-ns"] && units["sent-req/s"], "%v", units)
}

// Cancelling stops the loop without waiting for the requests in flight
// (each would take 10 s): the server sees them cut off, none finished.
func TestOpenLoopStopsOnCancel(t *testing.T) {
	srv := newStreamServer(t, 10*ms, 10*ms, 1000)
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m"}, 8)
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*ms)
	defer cancel()
	recs, err := OpenLoop{Rate: 20, Requests: 1000, MaxInFlight: 8}.Run(ctx, c, func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 1000} }, nil)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotEmpty(t, recs)
	assert.Less(t, len(recs), 1000)
	for _, r := range recs {
		assert.Equal(t, KindCanceled, r.ErrorKind)
	}
	assert.Zero(t, srv.finished.Load(), "no request ran to its end")
	assert.Eventually(t, func() bool { return srv.cut.Load() == srv.served.Load() }, 10*time.Second, ms,
		"every request the server got was cut off")
}

// The schedule seed depends on the run seed, the rate and the repetition
// only: every engine at a rate and repetition is offered the same
// arrivals; another repetition, rate or run gets others.
func TestScheduleSeed(t *testing.T) {
	sched := func(seed uint64) []time.Duration {
		return OpenLoop{Rate: 20, Requests: 100, Seed: seed}.Schedule()
	}
	a := ScheduleSeed(0xabc, 20, 0)
	assert.Equal(t, a, ScheduleSeed(0xabc, 20, 0))
	assert.Equal(t, sched(a), sched(ScheduleSeed(0xabc, 20, 0)))
	for _, other := range []uint64{ScheduleSeed(0xabc, 20, 1), ScheduleSeed(0xabc, 20.5, 0), ScheduleSeed(0xabd, 20, 0)} {
		assert.NotEqual(t, a, other)
		assert.NotEqual(t, sched(a)[1:10], sched(other)[1:10])
	}
}

// An open loop against a server that sends headers and then nothing
// gives up too: the first 8 requests to finish (max_in_flight clamped to
// 8) all stall, and the ones sent meanwhile are canceled.
func TestOpenLoopGivesUpWhenTheFirstRequestsAllStall(t *testing.T) {
	const stall = time.Second
	srv := newStallServer(t)
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m"}, 64, WithStallTimeout(stall))
	require.NoError(t, err)
	defer c.Close()
	recs, err := OpenLoop{Rate: 20, Requests: 200, MaxInFlight: 64, Seed: 1}.Run(context.Background(), c,
		func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 8} }, nil)
	var h *HopelessError
	require.ErrorAs(t, err, &h)
	assert.Equal(t, 8, h.Failed)
	assert.Equal(t, string(KindStall), h.Reason)
	assert.Less(t, len(recs), 200, "stopped before the schedule ran out")
	s := Summarize(recs, SLO{})
	assert.Equal(t, 8, s.Errors[KindStall])
	assert.Equal(t, len(recs)-8, s.Canceled)
}
