package loadgen

import (
	"context"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/infbench/infbench/loadgen/streamhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cpuTimes returns this process's user and system CPU time.
func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// TestAccuracyAgainstServerTruth is the harness's own acceptance test:
// against a server in another process that streams a first token 200 ms
// after each request arrives and then one every 20 ms, at concurrency
// 1000 (INFBENCH_ACCURACY=1; 200 otherwise), the harness's TTFT and E2E
// must agree with what the server itself recorded: when it wrote each
// request's first and last content event, against when the client sent
// the request. It compares with that truth, not with the schedule: a
// server that starts requests late on a busy machine (it shares the CPUs)
// makes every client's TTFT longer than 200 ms, and that is no error of
// the harness. Beside the harness, a minimal client (raw sockets, no HTTP
// library, the kernel's other timestamp interface) runs a tenth as many
// streams against the same server at the same time; the two clients'
// median errors against the server's truth must agree within 2 % of the
// true TTFT.
//
// No bound here is on CPU time or on wall-clock time: those are reported
// by BenchmarkPacedStreams.
func TestAccuracyAgainstServerTruth(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing-accuracy test: runs without -short and without -race")
	}
	const (
		ttft   = 200 * time.Millisecond
		gap    = 20 * time.Millisecond
		tokens = 64
	)
	conc := 200
	if os.Getenv("INFBENCH_ACCURACY") == "1" {
		conc = 1000
	} else {
		t.Logf("concurrency %d; INFBENCH_ACCURACY=1 runs it at 1000", conc)
	}
	kernel, why := streamhttp.KernelStamps()
	url := startHTTPHelper(t, helperTruthEnv, ttft, gap, tokens)
	c, err := NewClient(Target{BaseURL: url, Model: "m", IncludeUsage: true}, conc)
	require.NoError(t, err)
	defer c.Close()
	t.Logf("clock: %s", c.Clock())
	if kernel {
		assert.Equal(t, streamhttp.ClockKernel, c.Clock())
	} else {
		t.Logf("no kernel receive timestamps here (%v): comparing user-space stamps", why)
	}

	// The minimal client runs beside the harness for as long as it does.
	ctx, stopMinimal := context.WithCancel(context.Background())
	waitMinimal := minimalTTFTs(ctx, url, max(1, conc/10))

	var (
		epoch time.Time
		once  sync.Once
	)
	req := func(_ context.Context, i int) Request {
		return Request{Prompt: "h" + strconv.Itoa(i), MaxTokens: tokens}
	}
	// Warmup flows into the measured requests; the ramp spreads the first
	// connections over one request's duration, so that measuring starts in
	// steady state rather than with 1000 simultaneous dials.
	loop := ClosedLoop{Concurrency: conc, Warmup: conc, Requests: 2 * conc, Ramp: ttft + tokens*gap}
	recs, err := loop.Run(context.Background(), epochDoer{c, &once, &epoch}, req, nil)
	stopMinimal()
	minimal := waitMinimal()
	require.NoError(t, err)
	s := Summarize(recs, SLO{})
	require.Equal(t, 2*conc, s.Completed, "errors: %v", s.FirstErrors)
	assert.Equal(t, tokens*2*conc, s.OutputTokens)

	// The truth, per measured request: the server's first and last
	// content writes (when they returned) minus the client's send, all on
	// the wall clock. The harness's error is its TTFT minus that.
	truth := fetchTruth(t, url)
	var trueTTFT, trueE2E, errTTFT, userErr, late, ownTrue, ownTTFT []float64
	for i := range recs {
		r := &recs[i]
		if r.Warmup {
			continue
		}
		tr, ok := truth["h"+strconv.Itoa(r.Index)]
		require.True(t, ok, "the server recorded no truth for request %d", r.Index)
		sent := epoch.Add(r.Sent).UnixNano()
		tt := time.Duration(tr.First[1] - sent)
		trueTTFT = append(trueTTFT, float64(tt))
		trueE2E = append(trueE2E, float64(tr.Last[1]-sent))
		errTTFT = append(errTTFT, float64(r.TTFT-tt))
		userErr = append(userErr, float64(r.TTFT+r.Events[0].Lag-tt))
		late = append(late, float64(time.Duration(tr.Arrived-sent)))
		// A first content event read with the next one (the client was
		// late by a token's gap) carries the later write's stamp: that
		// read's error is flagged (shared_stamps), not hidden. Requests
		// whose first event had a read of its own measure the stamps.
		if len(r.Events) > 1 && r.Events[1].At != r.Events[0].At {
			ownTrue = append(ownTrue, float64(tt))
			ownTTFT = append(ownTTFT, float64(r.TTFT))
		}
	}
	tT, tE, eT, uE, lt := NewDist(trueTTFT), NewDist(trueE2E), NewDist(errTTFT), NewDist(userErr), NewDist(late)
	d := func(x float64) time.Duration { return time.Duration(x).Round(time.Microsecond) }
	t.Logf("conc=%d, %d measured requests; the server's truth: TTFT p50 %v p99 %v (scheduled %v; requests reached the server %v p50, %v p99 after the send)",
		conc, s.Completed, d(tT.P50), d(tT.P99), ttft, d(lt.P50), d(lt.P99))
	t.Logf("harness: TTFT p50 %v (%+.3f%% of the truth's), p99 %v (%+.3f%%); E2E p50 %v vs truth %v; TPOT p50 %v",
		d(s.TTFT.P50), 100*(s.TTFT.P50/tT.P50-1), d(s.TTFT.P99), 100*(s.TTFT.P99/tT.P99-1), d(s.E2E.P50), d(tE.P50), d(s.TPOT.P50))
	t.Logf("harness error per request (TTFT − truth): p50 %v, p99 %v, max %v; with user-space stamps it would be p50 %v, p99 %v, max %v",
		d(eT.P50), d(eT.P99), d(eT.Max), d(uE.P50), d(uE.P99), d(uE.Max))
	t.Logf("client lag (user − kernel stamp) over %d events: p50 %v, p99 %v, max %v; %d events shared a read",
		s.ClientLag.N, d(s.ClientLag.P50), d(s.ClientLag.P99), d(s.ClientLag.Max), s.SharedStamps)

	oT, oH := NewDist(ownTrue), NewDist(ownTTFT)
	t.Logf("the %d requests whose first content event had a read of its own: TTFT p50 %v against the truth's %v (%+.3f%%)",
		oT.N, d(oH.P50), d(oT.P50), 100*(oH.P50/oT.P50-1))
	assert.InDelta(t, 0, eT.P50, 0.01*tT.P50, "the median request's TTFT error within 1%% of the true TTFT")
	require.GreaterOrEqual(t, oT.N, 100, "requests whose first content event had a read of its own")
	assert.InEpsilon(t, oT.P50, oH.P50, 0.01, "TTFT p50 within 1%% of the server's truth, over the requests whose first event had its own read")
	assert.InEpsilon(t, tT.P99, s.TTFT.P99, 0.10, "TTFT p99 within 10%% of the server's truth")
	assert.InEpsilon(t, tE.P50, s.E2E.P50, 0.01, "E2E p50 within 1%% of the server's truth")
	if kernel {
		assert.Equal(t, "kernel", s.Clock)
		assert.Positive(t, s.ClientLag.N, "client lag measured")
	}
	if kernel {
		// Where the kernel gives stamps the minimal client runs too; a
		// broken one must fail the test, not skip the comparison.
		require.GreaterOrEqual(t, len(minimal), 20, "requests the minimal client finished beside the harness")
	} else if len(minimal) < 20 {
		t.Logf("the minimal client finished only %d requests (no kernel stamps here): no comparison", len(minimal))
		return
	}
	// The minimal client's requests have the server's truth too: each
	// client's error is its TTFT minus that truth, request by request, so
	// the server's own delays on a busy machine (which differ between the
	// two clients' requests) cancel, and what is compared is the two
	// clients' measurement errors.
	m, mErr := make([]float64, 0, len(minimal)), make([]float64, 0, len(minimal))
	for _, x := range minimal {
		tr, ok := truth[x.ID]
		require.True(t, ok, "the server recorded no truth for the minimal client's request %s", x.ID)
		m = append(m, float64(x.TTFT))
		mErr = append(mErr, float64(x.TTFT-time.Duration(tr.First[1]-x.Sent.UnixNano())))
	}
	md, mE := NewDist(m), NewDist(mErr)
	t.Logf("minimal client beside it (%d streams): %d requests, TTFT p50 %v p99 %v (harness/minimal p50 %+.3f%%); its error per request (TTFT − truth) p50 %v, p99 %v",
		max(1, conc/10), md.N, d(md.P50), d(md.P99), 100*(s.TTFT.P50/md.P50-1), d(mE.P50), d(mE.P99))
	assert.InDelta(t, mE.P50, eT.P50, 0.02*tT.P50,
		"the harness's median error against the server's truth within 2%% of the true TTFT of the minimal client's median error")
}

// minimalTTFT is one request of the minimal client: its prompt (the key
// of the server's truth), when it was sent (wall clock) and its TTFT.
type minimalTTFT struct {
	ID   string
	Sent time.Time
	TTFT time.Duration
}

// epochDoer passes each request to Client.Do and remembers the loop's
// epoch, so that a record's send time can be put on the wall clock.
type epochDoer struct {
	c     *Client
	once  *sync.Once
	epoch *time.Time
}

func (d epochDoer) Do(ctx context.Context, r Request, epoch time.Time) Record {
	d.once.Do(func() { *d.epoch = epoch }) // the same value from every worker: the loop's start
	return d.c.Do(ctx, r, epoch)
}
