package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

	plain := Summarize([]Record{rec(0, time.Millisecond, false, "")}, SLO{})
	assert.Zero(t, plain.TTFTTurn1.N)
	for _, m := range plain.Metrics() {
		assert.NotContains(t, m.Unit, "turn")
	}
}
