package loadgen

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TTFT of first turns is summarised apart from later turns; warmup and
// failed records are left out; records without turns leave both empty.
func TestTurnTTFT(t *testing.T) {
	rec := func(turn int, ttft time.Duration, warmup bool, kind ErrorKind) Record {
		return Record{Turn: turn, Session: 1, TTFT: ttft, E2E: ttft + time.Millisecond, End: ttft + time.Millisecond,
			Events:       []Event{{At: ttft, Tokens: 1, Bytes: 1}, {At: ttft + time.Millisecond, Tokens: 1, Bytes: 1}},
			OutputTokens: 2, MaxTokens: 2, Warmup: warmup, ErrorKind: kind}
	}
	s := Summarize([]Record{
		rec(1, 100*time.Millisecond, true, ""), // warmup
		rec(1, 10*time.Millisecond, false, ""),
		rec(1, 30*time.Millisecond, false, ""),
		rec(2, 2*time.Millisecond, false, ""),
		rec(3, 4*time.Millisecond, false, ""),
		rec(2, 9*time.Second, false, KindStall), // failed
	}, SLO{})
	assert.Equal(t, 2, s.TTFTTurn1.N)
	assert.Equal(t, float64(20*time.Millisecond), s.TTFTTurn1.P50)
	assert.Equal(t, 2, s.TTFTLater.N)
	assert.Equal(t, float64(3*time.Millisecond), s.TTFTLater.P50)
	units := map[string]float64{}
	for _, m := range s.Metrics() {
		units[m.Unit] = m.Value
	}
	assert.Equal(t, float64(20*time.Millisecond), units["ttft-turn1-p50-ns"])
	assert.Equal(t, float64(3*time.Millisecond), units["ttft-later-p50-ns"])
	// Per turn number: turn 2 and turn 3 apart.
	require.Len(t, s.TTFTByTurn, 3)
	for k, want := range []struct {
		n   int
		p50 time.Duration
	}{{2, 20 * time.Millisecond}, {1, 2 * time.Millisecond}, {1, 4 * time.Millisecond}} {
		assert.Equal(t, k+1, s.TTFTByTurn[k].Turn)
		assert.Equal(t, want.n, s.TTFTByTurn[k].N, "turn %d", k+1)
		assert.Equal(t, float64(want.p50), s.TTFTByTurn[k].P50, "turn %d", k+1)
	}
	assert.Equal(t, float64(2*time.Millisecond), units["ttft-turn2-p50-ns"])
	assert.Equal(t, float64(4*time.Millisecond), units["ttft-turn3-p50-ns"])
	n := 0
	for _, m := range s.Metrics() {
		if m.Unit == "ttft-turn1-p50-ns" {
			n++
		}
	}
	assert.Equal(t, 1, n, "turn 1's metric appears once")
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"ttft_by_turn_ns":[{"turn":1,"n":2,`)

	plain := Summarize([]Record{rec(0, time.Millisecond, false, "")}, SLO{})
	assert.Nil(t, plain.TTFTTurn1)
	assert.Nil(t, plain.TTFTByTurn)
	for _, m := range plain.Metrics() {
		assert.NotContains(t, m.Unit, "turn")
	}
	b, err = json.Marshal(plain)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "turn", "no per-turn blocks in a summary without turns")
}

// Turns beyond MaxTurnMetrics are in ttft_by_turn_ns but get no metric.
func TestTurnMetricsBound(t *testing.T) {
	var recs []Record
	for turn := 1; turn <= MaxTurnMetrics+2; turn++ {
		recs = append(recs, Record{Turn: turn, Session: 1, TTFT: time.Duration(turn) * time.Millisecond, E2E: time.Second, End: time.Second,
			Events: []Event{{At: time.Millisecond, Tokens: 1, Bytes: 1}}, OutputTokens: 1, MaxTokens: 1})
	}
	s := Summarize(recs, SLO{})
	require.Len(t, s.TTFTByTurn, MaxTurnMetrics+2)
	units := map[string]bool{}
	for _, m := range s.Metrics() {
		units[m.Unit] = true
	}
	assert.True(t, units[fmt.Sprintf("ttft-turn%d-p50-ns", MaxTurnMetrics)])
	assert.False(t, units[fmt.Sprintf("ttft-turn%d-p50-ns", MaxTurnMetrics+1)])
}
