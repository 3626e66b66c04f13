package loadgen

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentileLinearInterpolation(t *testing.T) {
	xs := []float64{10, 20, 30, 40}
	// h = (n-1)p: p50 -> 1.5 -> 25; p90 -> 2.7 -> 37; p99 -> 2.97 -> 39.7
	assert.InDelta(t, 25, Percentile(xs, 50), 1e-9)
	assert.InDelta(t, 37, Percentile(xs, 90), 1e-9)
	assert.InDelta(t, 39.7, Percentile(xs, 99), 1e-9)
	assert.Equal(t, 10.0, Percentile(xs, 0))
	assert.Equal(t, 40.0, Percentile(xs, 100))
	assert.Equal(t, 7.0, Percentile([]float64{7}, 99))
	assert.True(t, math.IsNaN(Percentile(nil, 50)))

	// p95 and p99 of 1..100 differ (the seed reported p95 = p99 = max).
	var hundred []float64
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, float64(i))
	}
	d := NewDist(hundred)
	assert.InDelta(t, 95.05, d.P95, 1e-9)
	assert.InDelta(t, 99.01, d.P99, 1e-9)
	assert.Empty(t, d.Flags)
	assert.InDelta(t, 50.5, d.Mean, 1e-9)
	assert.InDelta(t, 29.011491975882016, d.Std, 1e-9) // sample std (n-1)
}

func TestDistFlagsSmallSamples(t *testing.T) {
	d := NewDist(make([]float64, 15))
	assert.Equal(t, []string{"p95 from 15 samples (needs ≥ 20)", "p99 from 15 samples (needs ≥ 100)"}, d.Flags)
	assert.Len(t, NewDist(make([]float64, 5)).Flags, 3)
}

// rec builds a completed record: sent at s, first content at ttft, then
// one event per token every gap.
func rec(s, ttft, gap time.Duration, tokens, max int) Record {
	r := Record{Sent: s, TTFT: ttft, MaxTokens: max, OutputTokens: tokens, PromptTokens: 100,
		TokenSource: TokensFromUsage, ITLSource: ITLOnePerEvent}
	for i := 0; i < tokens; i++ {
		r.Events = append(r.Events, Event{At: ttft + time.Duration(i)*gap, Tokens: 1, Bytes: 3})
	}
	r.E2E = r.Events[tokens-1].At
	r.End = r.E2E + time.Millisecond
	return r
}

func TestSummarizeDefinitions(t *testing.T) {
	recs := []Record{
		{Warmup: true, Sent: 0, End: time.Hour, OutputTokens: 1e6}, // warmup: excluded entirely
		rec(0, 100*ms, 10*ms, 11, 11),                              // E2E 200ms, TPOT 10ms
		rec(50*ms, 200*ms, 20*ms, 11, 11),                          // E2E 400ms, TPOT 20ms, ends at 451ms
		{Sent: 60 * ms, End: 5 * ms, ErrorKind: KindHTTP, Error: "HTTP 500: boom"},
		{Sent: 70 * ms, End: 5 * ms, ErrorKind: KindCanceled, Error: "run stopped"},
	}
	s := Summarize(recs, SLO{TTFT: 150 * ms})
	assert.Equal(t, 3, s.Requests)
	assert.Equal(t, 2, s.Completed)
	assert.Equal(t, 1, s.Failed)
	assert.Equal(t, 1, s.Canceled)
	assert.InDelta(t, 1.0/3, s.ErrorRate, 1e-9)
	assert.Equal(t, map[ErrorKind]int{KindHTTP: 1}, s.Errors)
	assert.Equal(t, []string{"http: HTTP 500: boom"}, s.FirstErrors)

	// Duration: first measured send (0) to last completion (50+400+1 ms).
	assert.Equal(t, 451*ms, s.Duration)
	assert.Equal(t, 22, s.OutputTokens)
	assert.InDelta(t, 22/0.451, s.OutputTokPerSec, 1e-9, "Σ tokens / duration")
	require.NotNil(t, s.TotalTokPerSec, "every request sent usage")
	assert.InDelta(t, 222/0.451, *s.TotalTokPerSec, 1e-9)
	assert.InDelta(t, 2/0.451, s.ReqPerSec, 1e-9)
	assert.Equal(t, 1, s.Good, "only the first meets TTFT ≤ 150ms")
	assert.InDelta(t, 1/0.451, s.GoodputReqPerS, 1e-9)

	assert.Equal(t, 2, s.TTFT.N)
	assert.InDelta(t, float64(150*ms), s.TTFT.P50, 1)
	assert.InDelta(t, float64(15*ms), s.TPOT.P50, 1)
	assert.InDelta(t, float64(300*ms), s.E2E.P50, 1)
	assert.Equal(t, 20, s.ITL.N, "10 gaps per request, pooled")
	assert.InDelta(t, float64(15*ms), s.ITL.P50, 1)
	assert.InDelta(t, 75, s.UserSpeed.P50, 1e-6, "median of 100 and 50 tok/s")
	assert.Equal(t, string(TokensFromUsage), s.TokenSource)
	assert.Contains(t, s.Flags[0], "1 of 3 requests failed")
}

func TestSummarizeITLMultiTokenEvents(t *testing.T) {
	// Events at 100, 130 (carrying 3 tokens), 140 ms: gaps 30/3 ×3, 10.
	r := Record{Sent: 0, TTFT: 100 * ms, E2E: 140 * ms, End: 150 * ms, OutputTokens: 5, MaxTokens: 5,
		TokenSource: TokensFromUsage, ITLSource: ITLApportioned,
		Events: []Event{{At: 100 * ms, Tokens: 1}, {At: 130 * ms, Tokens: 3}, {At: 140 * ms, Tokens: 1}}}
	s := Summarize([]Record{r}, SLO{})
	require.Equal(t, 4, s.ITL.N)
	assert.InDelta(t, float64(10*ms), s.ITL.P50, 1)
	assert.InDelta(t, float64(10*ms), s.TPOT.P50, 1, "(140-100)/(5-1)")
	assert.Contains(t, s.Flags, "ITL estimated for 1 requests: events carried several tokens, apportioned by text length")
}

func TestSummarizeFlagsShortOutputsAndChunkCounts(t *testing.T) {
	short := rec(0, 10*ms, ms, 5, 64)
	short.TokenSource = TokensFromChunks
	s := Summarize([]Record{short, rec(0, 10*ms, ms, 64, 64)}, SLO{})
	assert.Equal(t, 1, s.ShortOutput)
	assert.Contains(t, s.Flags, "1 of 2 requests stopped short of max_tokens (shortest 5 tokens): output length was not fixed")
	assert.Contains(t, s.Flags, "output tokens of 1 requests counted from content events: the server sent no usage")
	assert.Equal(t, "mixed", s.TokenSource)
}

// Without usage the prompt tokens are unknown, not zero: total-tok/s is
// left out of the metrics and is null in summary.json, and the cell says
// why; the output throughput stays.
func TestSummarizeTotalThroughputUnknownWithoutUsage(t *testing.T) {
	noUsage := rec(0, 10*ms, ms, 8, 8)
	noUsage.TokenSource, noUsage.PromptTokens = TokensFromChunks, 0
	withUsage := rec(0, 10*ms, ms, 8, 8)
	withUsage.PromptTokens = 100
	s := Summarize([]Record{withUsage, noUsage}, SLO{})
	assert.Nil(t, s.TotalTokPerSec)
	assert.Equal(t, 1, s.PromptTokensUnknown)
	assert.Contains(t, s.Flags, "prompt tokens of 1 requests unknown (no usage): total-tok/s left out")
	units := map[string]bool{}
	for _, m := range s.Metrics() {
		units[m.Unit] = true
	}
	assert.False(t, units["total-tok/s"], "total-tok/s computed from unknown prompt tokens")
	assert.True(t, units["tok/s"])
	js, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"total_tok_per_s":null`)
	assert.Contains(t, string(js), `"prompt_tokens_unknown":1`)

	s = Summarize([]Record{withUsage}, SLO{})
	require.NotNil(t, s.TotalTokPerSec)
	assert.Greater(t, *s.TotalTokPerSec, s.OutputTokPerSec)
}

func TestApportion(t *testing.T) {
	evs := []Event{{Bytes: 1}, {Bytes: 6}, {Bytes: 1}}
	apportion(evs, 8)
	assert.Equal(t, []int{1, 6, 1}, []int{evs[0].Tokens, evs[1].Tokens, evs[2].Tokens})
	apportion(evs, 3)
	assert.Equal(t, []int{1, 1, 1}, []int{evs[0].Tokens, evs[1].Tokens, evs[2].Tokens})
	apportion(evs, 2) // fewer tokens than events: still adds up
	assert.Equal(t, 2, evs[0].Tokens+evs[1].Tokens+evs[2].Tokens)
}

func TestMetricsUnits(t *testing.T) {
	var recs []Record
	for i := 0; i < 100; i++ {
		recs = append(recs, rec(time.Duration(i)*ms, 100*ms, 10*ms, 11, 11))
	}
	s := Summarize(recs, SLO{TTFT: time.Second})
	units := map[string]float64{}
	for _, m := range s.Metrics() {
		units[m.Unit] = m.Value
	}
	for _, u := range []string{"ttft-p50-ns", "ttft-p90-ns", "ttft-p99-ns", "tpot-p50-ns", "tpot-p99-ns", "itl-p50-ns", "itl-p99-ns",
		"e2e-p50-ns", "e2e-p99-ns", "tok/s", "total-tok/s", "req/s", "tok/s/user", "err-%", "goodput-req/s"} {
		assert.Contains(t, units, u)
	}
	assert.InDelta(t, float64(100*ms), units["ttft-p50-ns"], 1)
	assert.Zero(t, units["err-%"])

	// 15 requests: p99 (needs 100) is left out of the metrics, p90 stays;
	// the ITL pools 150 gaps, so its p99 stays.
	few := Summarize(recs[:15], SLO{})
	units = map[string]float64{}
	for _, m := range few.Metrics() {
		units[m.Unit] = m.Value
	}
	assert.Contains(t, units, "ttft-p90-ns")
	assert.NotContains(t, units, "ttft-p99-ns")
	assert.NotContains(t, units, "e2e-p99-ns")
	assert.Contains(t, units, "itl-p99-ns")
	assert.NotZero(t, few.TTFT.P99, "still in the summary, flagged")
	assert.NotEmpty(t, few.TTFT.Flags)

	// Nothing completed: no latency metric, but the error rate.
	none := Summarize([]Record{{ErrorKind: KindHTTP}}, SLO{})
	ms := none.Metrics()
	require.Len(t, ms, 1)
	assert.Equal(t, Metric{100, "err-%"}, ms[0])
}

func TestPeakInFlightAndSmallCellFlag(t *testing.T) {
	// Two slots, each sending its next request when the previous ends.
	var recs []Record
	for i := 0; i < 6; i++ {
		slot := time.Duration(i%2) * ms
		r := rec(time.Duration(i/2)*30*ms+slot, 10*ms, ms, 5, 5)
		r.End = 30 * ms
		recs = append(recs, r)
	}
	s := Summarize(recs, SLO{})
	assert.Equal(t, 2, s.PeakInFlight)
	for _, f := range s.Flags {
		assert.NotContains(t, f, "only 6 measured requests")
	}
	s = Summarize(recs[:3], SLO{})
	assert.Contains(t, s.Flags, "only 3 measured requests at concurrency 2: the ramp-up and the drain weigh as much as the steady state (use at least 8)")
}

// Goodput in an open loop counts the wait before the send against the SLO.
func TestGoodputFromScheduleInOpenLoop(t *testing.T) {
	r := rec(500*ms, 100*ms, ms, 5, 5)
	r.Paced, r.Scheduled = true, 0 // due at 0, sent 500 ms late
	s := Summarize([]Record{r}, SLO{TTFT: 300 * ms})
	assert.Equal(t, 0, s.Good, "TTFT 100 ms from the send, 600 ms from the schedule")
	r.Paced = false
	assert.Equal(t, 1, Summarize([]Record{r}, SLO{TTFT: 300 * ms}).Good)
}
