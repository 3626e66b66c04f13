package loadgen

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cpuTimes returns this process's user and system CPU time.
func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// TestAccuracyAtConcurrency1000 is the harness's own acceptance test:
// against a server with TTFT 200 ms and a token every 20 ms at concurrency
// 1000 (50,000 events/s, server and client sharing this machine's CPUs),
// the reported TTFT p50 must be within 1% and p99 within 10% of the truth
// (Python clients are off by +140% and +210% there). It also measures the
// client's CPU per streamed event in steady state. The server runs in a child
// process, so this process's CPU time is the client's alone: read, HTTP
// chunk decoding, SSE framing, stamping, parsing and counting.
//
// The 1% bound is tight enough that another busy process on the machine
// can break it, so the full check runs only when asked for, on an idle
// machine: INFBENCH_ACCURACY=1 (make accuracy, and CI's dedicated step).
// Otherwise the same test runs at concurrency 200 with bounds five times
// wider, which only a real regression breaks. It skips under -short and
// -race (the race detector multiplies every cost).
func TestAccuracyAtConcurrency1000(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing-accuracy test: runs without -short and without -race")
	}
	const (
		ttft   = 200 * time.Millisecond
		gap    = 20 * time.Millisecond
		tokens = 50
	)
	// The target for the harness's own CPU per event is 5 µs; runs
	// here measure 2.7–4.7 µs above the socket floor, with outliers past 5
	// when something else wakes on the machine. The assertion leaves room
	// for those (8 µs); the figure itself is logged and reported.
	// Per-event regressions that matter (an allocation, a JSON decode) are
	// caught exactly by TestSSEEventPathDoesNotAllocate and
	// BenchmarkSSEEvent.
	conc, p50Bound, p99Bound, overBound := 1000, 0.01, 0.10, 8*time.Microsecond
	if os.Getenv("INFBENCH_ACCURACY") != "1" {
		conc, p50Bound, p99Bound, overBound = 200, 0.05, 0.50, 25*time.Microsecond
		t.Logf("reduced check (concurrency %d, bounds ×5); INFBENCH_ACCURACY=1 runs the full one", conc)
	}
	url := startServerProcess(t, ttft, gap, tokens)
	c, err := NewClient(Target{BaseURL: url, Model: "m", IncludeUsage: true}, conc)
	require.NoError(t, err)
	defer c.Close()

	// Warmup flows into the measured requests; the ramp spreads the first
	// connection attempts over one request's duration, so the measurement
	// starts in steady state rather than with 1000 simultaneous dials.
	req := func(int) Request { return Request{Prompt: "p", MaxTokens: tokens} }
	loop := ClosedLoop{Concurrency: conc, Warmup: conc, Requests: 2 * conc, Ramp: ttft + tokens*gap}
	recs, err := loop.Run(context.Background(), c, req, nil)
	require.NoError(t, err)

	// CPU per event in steady state: further runs on the warm connections.
	// Interference from anything else on the machine only adds CPU time,
	// so the cost is the least of two runs (likewise the floor below).
	var (
		perEvent, user, sys, wall time.Duration
		events                    int
	)
	for range 2 {
		u0, s0 := cpuTimes()
		wall0 := time.Now()
		steady, err := ClosedLoop{Concurrency: conc, Requests: conc}.Run(context.Background(), c, req, nil)
		u1, s1 := cpuTimes()
		require.NoError(t, err)
		n := len(steady) * (tokens + 3) // role, tokens, usage, [DONE]
		if pe := (u1 - u0 + s1 - s0) / time.Duration(n); perEvent == 0 || pe < perEvent {
			perEvent, user, sys, wall, events = pe, u1-u0, s1-s0, time.Since(wall0), n
		}
	}
	cpu := user + sys

	s := Summarize(recs, SLO{})
	require.Equal(t, 2*conc, s.Completed, "errors: %v", s.FirstErrors)
	t.Logf("conc=%d: %d events in %v (%.0f events/s); client CPU %v = %v per event (user %v, kernel %v per event)",
		conc, events, wall.Round(time.Millisecond), float64(events)/wall.Seconds(), cpu.Round(time.Millisecond), perEvent,
		user/time.Duration(events), sys/time.Duration(events))
	t.Logf("TTFT p50 %v (%+.2f%%), p99 %v (%+.2f%%); TPOT p50 %v; ITL p99 %v; output %.0f tok/s",
		time.Duration(s.TTFT.P50), 100*(s.TTFT.P50/float64(ttft)-1), time.Duration(s.TTFT.P99), 100*(s.TTFT.P99/float64(ttft)-1),
		time.Duration(s.TPOT.P50), time.Duration(s.ITL.P99), s.OutputTokPerSec)

	assert.InDelta(t, float64(ttft), s.TTFT.P50, p50Bound*float64(ttft), "TTFT p50 within %.0f%%", 100*p50Bound)
	assert.InDelta(t, float64(ttft), s.TTFT.P99, p99Bound*float64(ttft), "TTFT p99 within %.0f%%", 100*p99Bound)
	assert.InDelta(t, float64(gap), s.TPOT.P50, p50Bound*float64(gap), "TPOT p50 within %.0f%%", 100*p50Bound)
	assert.Equal(t, tokens*2*conc, s.OutputTokens)
	// Paced like this, every event arrives alone: one goroutine wake-up,
	// one read returning it and one read finding the socket empty (Go's
	// netpoller is edge-triggered), plus the TCP ACK it provokes. On the
	// 2-vCPU Firecracker VM this was written on that costs about 10 µs
	// (6 µs of it in the kernel), against 0.4 µs for the framing, stamping
	// and parsing themselves (BenchmarkSSEEvent) and 1 µs per event when
	// events batch up in a read (BenchmarkIngestConc1000). The bound is
	// generous, to catch a regression such as a per-event allocation or
	// JSON decode, not to time the kernel.
	assert.LessOrEqual(t, perEvent, 25*time.Microsecond, "client CPU per streamed event")

	// What is the client's own share? The same pacing over bare TCP (no
	// HTTP, SSE or parsing) gives the floor any client pays on this
	// machine; the harness's cost above it — HTTP chunk decoding, framing,
	// stamping, parsing, counting — is the figure the 5 µs target is about.
	floor := min(readFloor(t, conc, gap, tokens), readFloor(t, conc, gap, tokens))
	t.Logf("bare socket read floor %v per message; harness above it %v per event", floor, perEvent-floor)
	assert.LessOrEqual(t, perEvent-floor, overBound, "harness CPU per event above the bare read")
}
