package sweep_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/sweep"
)

// threshold is a synthetic monotone probe: every rate up to edge passes.
// It records the rates it was asked for.
type threshold struct {
	pass  func(rate float64) bool
	rates []float64
}

func (t *threshold) probe(_ context.Context, rate float64) (sweep.Outcome, error) {
	t.rates = append(t.rates, rate)
	if t.pass(rate) {
		return sweep.Outcome{Pass: true, Goodput: rate * 0.99}, nil
	}
	return sweep.Outcome{Bound: "ttft_p99", Value: 2, Limit: 1}, nil
}

func upTo(edge float64) func(float64) bool { return func(r float64) bool { return r <= edge } }

var std = sweep.Settings{Start: 1, Factor: 2, Resolution: 0.05, MaxCells: 12, Digits: 3}

func passes(r sweep.Result) []bool {
	out := make([]bool, len(r.Probes))
	for i, p := range r.Probes {
		out[i] = p.Pass
	}
	return out
}

// Edge 37: doubling from 1 brackets it in [32, 64]; the geometric means,
// rounded to 3 digits, narrow it to [36.5, 38.1], 4.4 % wide.
func TestMonotone(t *testing.T) {
	p := &threshold{pass: upTo(37)}
	r, err := sweep.Search(t.Context(), std, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 4, 8, 16, 32, 64, 45.3, 38.1, 34.9, 36.5}, p.rates)
	assert.Equal(t, []bool{true, true, true, true, true, true, false, false, false, true, true}, passes(r))
	assert.Equal(t, sweep.StopResolution, r.Stopped)
	assert.Equal(t, 36.5, r.Capacity)
	assert.InDelta(t, 36.5*0.99, r.Goodput, 1e-9, "the goodput of the probe at the capacity")
	assert.Equal(t, 36.5, r.Lo)
	assert.Equal(t, 38.1, r.Hi)
	assert.LessOrEqual(t, r.Hi/r.Lo-1, std.Resolution)
	assert.Equal(t, sweep.Bracket, r.Probes[6].Phase)
	assert.Equal(t, sweep.Bisect, r.Probes[7].Phase)
}

// A start above the edge brackets downward, then bisects.
func TestStartAboveCapacity(t *testing.T) {
	p := &threshold{pass: upTo(3)}
	s := std
	s.Start = 8
	r, err := sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{8, 4, 2, 2.83, 3.36, 3.08, 2.95}, p.rates)
	assert.Equal(t, sweep.StopResolution, r.Stopped)
	assert.Equal(t, 2.95, r.Capacity)
	assert.Equal(t, 3.08, r.Hi)
}

// max_cells ends the search where it is: after 8 probes the bracket is
// [32, 45.3] and the capacity found is 32.
func TestMaxCells(t *testing.T) {
	p := &threshold{pass: upTo(37)}
	s := std
	s.MaxCells = 8
	r, err := sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 4, 8, 16, 32, 64, 45.3}, p.rates)
	assert.Equal(t, sweep.StopMaxCells, r.Stopped)
	assert.Equal(t, 32.0, r.Capacity)
	assert.Equal(t, 45.3, r.Hi)

	// Spent while bracketing upward: no fail yet, Hi 0.
	p = &threshold{pass: upTo(1000)}
	s.MaxCells = 3
	r, err = sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 4}, p.rates)
	assert.Equal(t, sweep.StopMaxCells, r.Stopped)
	assert.Equal(t, 4.0, r.Capacity)
	assert.Zero(t, r.Hi)
}

// A pass at max_rate ends the search: the last step is clamped to it.
func TestMaxRate(t *testing.T) {
	p := &threshold{pass: upTo(1000)}
	s := std
	s.Start, s.MaxRate = 10, 50
	r, err := sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{10, 20, 40, 50}, p.rates)
	assert.Equal(t, sweep.StopMaxRate, r.Stopped)
	assert.Equal(t, 50.0, r.Capacity)
	assert.Zero(t, r.Hi)
}

// Nothing passes: downward bracketing stops above min_rate, or when the
// cells are spent; either way the search says no_pass and capacity 0.
func TestNoPass(t *testing.T) {
	p := &threshold{pass: func(float64) bool { return false }}
	s := std
	s.Start, s.MinRate = 8, 1
	r, err := sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{8, 4, 2, 1}, p.rates, "0.5 is below min_rate 1")
	assert.Equal(t, sweep.StopNoPass, r.Stopped)
	assert.Zero(t, r.Capacity)
	assert.Zero(t, r.Lo)
	assert.Equal(t, 1.0, r.Hi)

	p.rates = nil
	s.MinRate, s.MaxCells = 0, 3
	r, err = sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{8, 4, 2}, p.rates)
	assert.Equal(t, sweep.StopNoPass, r.Stopped, "no pass outranks max_cells")
}

// Non-monotone truth: rates below 10 pass, 10 to 15 fail, 15 to 17 pass
// again, above fail. Doubling from 1 steps over the failing band (8, then
// 16), so the search never sees it: it brackets [16, 32] and reports the
// capacity 16.7, in the upper passing band, although 10–15 fail. The
// search probes nothing above a failing rate or below a passing one, so
// no pass in its probes lies above a fail.
func TestNonMonotoneBandAboveAFail(t *testing.T) {
	p := &threshold{pass: func(r float64) bool { return r < 10 || (r >= 15 && r <= 17) }}
	r, err := sweep.Search(t.Context(), std, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 4, 8, 16, 32, 22.6, 19, 17.4, 16.7}, p.rates)
	assert.Equal(t, sweep.StopResolution, r.Stopped)
	assert.Equal(t, 16.7, r.Capacity)
	assert.False(t, p.pass(12), "a rate below the capacity found fails")
	for _, a := range r.Probes {
		for _, b := range r.Probes {
			if a.Pass && !b.Pass {
				assert.Less(t, a.Rate, b.Rate, "a pass above a fail among the probes")
			}
		}
	}
}

// Noise: the probe at 34.9 fails once although the truth passes up to 37.
// The search trusts it: the bracket closes below it and the capacity found
// is 33.4, lower than the truth (a noisy fail is conservative; a noisy pass
// would raise the capacity instead).
func TestNoisyFailLowersCapacity(t *testing.T) {
	p := &threshold{pass: func(r float64) bool { return r <= 37 && r != 34.9 }}
	r, err := sweep.Search(t.Context(), std, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 4, 8, 16, 32, 64, 45.3, 38.1, 34.9, 33.4}, p.rates)
	assert.Equal(t, 33.4, r.Capacity)
	assert.Equal(t, 34.9, r.Hi)
}

// Without rounding the bisection stops on the resolution alone.
func TestNoRounding(t *testing.T) {
	p := &threshold{pass: upTo(37)}
	s := std
	s.Digits = 0
	r, err := sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, sweep.StopResolution, r.Stopped)
	assert.LessOrEqual(t, r.Hi/r.Lo-1, s.Resolution)
	assert.LessOrEqual(t, r.Capacity, 37.0)
	assert.Greater(t, r.Capacity*(1+s.Resolution), 37.0)
}

// A coarse rounding that leaves no rate between lo and hi stops the
// bisection: with 1 digit, 8×2 = 16 rounds to 20, 40 fails, √(20·40) =
// 28.3 rounds to 30 (pass), and √(30·40) = 34.6 rounds back to 30.
func TestRoundingLimitsResolution(t *testing.T) {
	p := &threshold{pass: upTo(37)}
	s := std
	s.Digits, s.Resolution = 1, 0.01
	r, err := sweep.Search(t.Context(), s, p.probe)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 4, 8, 20, 40, 30}, p.rates)
	assert.Equal(t, 30.0, r.Capacity)
	assert.Equal(t, sweep.StopResolution, r.Stopped)
}

// A probe's error ends the search with what it had probed.
func TestProbeError(t *testing.T) {
	boom := errors.New("results folder gone")
	n := 0
	r, err := sweep.Search(t.Context(), std, func(_ context.Context, rate float64) (sweep.Outcome, error) {
		if n++; n == 3 {
			return sweep.Outcome{}, boom
		}
		return sweep.Outcome{Pass: true}, nil
	})
	require.ErrorIs(t, err, boom)
	assert.EqualError(t, err, "probe at 4 requests/s: results folder gone")
	assert.Len(t, r.Probes, 2)
	assert.Equal(t, sweep.Stop("error: probe at 4 requests/s: results folder gone"), r.Stopped)
	assert.Equal(t, 2.0, r.Capacity)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = sweep.Search(ctx, std, func(context.Context, float64) (sweep.Outcome, error) {
		t.Fatal("probed after ctx was done")
		return sweep.Outcome{}, nil
	})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*sweep.Settings)
		want string
	}{
		{func(s *sweep.Settings) { s.Start = 0 }, "sweep: start 0: give a positive rate in requests/s"},
		{func(s *sweep.Settings) { s.Factor = 1 }, "sweep: factor 1: must be above 1"},
		{func(s *sweep.Settings) { s.Resolution = 0 }, "sweep: resolution 0: must be positive"},
		{func(s *sweep.Settings) { s.MaxCells = 0 }, "sweep: max_cells 0: must be at least 1"},
		{func(s *sweep.Settings) { s.MaxRate = 0.5 }, "sweep: start 1 is above max_rate 0.5"},
		{func(s *sweep.Settings) { s.MinRate = 2 }, "sweep: min_rate 2 is above start 1"},
	} {
		s := std
		tc.mod(&s)
		_, err := sweep.Search(t.Context(), s, func(context.Context, float64) (sweep.Outcome, error) {
			t.Fatal("probed with invalid settings")
			return sweep.Outcome{}, nil
		})
		assert.ErrorContains(t, err, tc.want)
	}
}

func TestOutcomeWhy(t *testing.T) {
	assert.Equal(t, "ttft_p99 2 > 1", sweep.Outcome{Bound: "ttft_p99", Value: 2, Limit: 1}.Why())
	assert.Equal(t, "pass", sweep.Outcome{Pass: true}.Why())
	assert.Equal(t, "ttft p99 1.2s > 1s", sweep.Outcome{Bound: "ttft_p99", Detail: "ttft p99 1.2s > 1s"}.Why())
}
