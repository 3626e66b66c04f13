package workload

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
)

// wordTokens is the tokenizer of the test's tokenize server: one token
// per space-separated word, two for a word of more than five bytes, and
// one for BOS, so that fitting a text cannot follow 4 bytes a token.
func wordTokens(s string) int {
	n := 1
	for _, w := range strings.Fields(s) {
		n++
		if len(w) > 5 {
			n++
		}
	}
	return n
}

// tokenizeServer serves POST /tokenize in vLLM's shape on loopback and
// counts its calls.
func tokenizeServer(t *testing.T, calls *atomic.Int64) *loadgen.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Model, Prompt string }
		if r.URL.Path != "/tokenize" || r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil || req.Model != "m" {
			http.Error(w, `{"message": "bad tokenize request"}`, http.StatusBadRequest)
			return
		}
		calls.Add(1)
		n := wordTokens(req.Prompt)
		toks := make([]int, n)
		_ = json.NewEncoder(w).Encode(map[string]any{"count": n, "max_model_len": 8192, "tokens": toks})
	}))
	t.Cleanup(srv.Close)
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: srv.URL, Model: "m", TokenizePath: "/tokenize"}, 1)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestSyntheticExactTokensWithTokenizer(t *testing.T) {
	var calls atomic.Int64
	tok := tokenizeServer(t, &calls)
	w := config.WorkloadSpec{Name: "syn", Kind: config.WorkloadSynthetic,
		InputTokens:  config.Dist{Dist: config.DistUniform, Min: 40, Max: 300},
		OutputTokens: config.Dist{Dist: config.DistFixed, Value: 16}}
	src, err := New(w, "")
	require.NoError(t, err)
	reqs, err := src.Open(context.Background(), cell.Open{Salts: cell.NewSalter(1), Tokenizer: tok, Total: 40, Seed: 9})
	require.NoError(t, err)
	assert.Equal(t, "tokenized by POST /tokenize", reqs.InputTokens())

	// The lengths drawn again from the same seed are the ones the texts were fitted to.
	rng := newRand(9, "syn")
	for i := range 40 {
		in, out := draw(w.InputTokens, rng), draw(w.OutputTokens, rng)
		r := reqs.Request(context.Background(), i)
		n, err := tok.Tokenize(context.Background(), r.Prompt)
		require.NoError(t, err)
		assert.Equal(t, in, n, "request %d: exactly its drawn length, as the engine counts", i)
		assert.Equal(t, out, r.MaxTokens)
		assert.True(t, strings.HasPrefix(r.Prompt, "[infbench 00000000000000000001-"), "salted first: %q", r.Prompt[:40])
	}
}

func TestSyntheticEstimatedWithoutTokenizer(t *testing.T) {
	w := config.WorkloadSpec{Name: "syn", Kind: config.WorkloadSynthetic,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 100}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 8}}
	src, err := New(w, "")
	require.NoError(t, err)
	reqs, err := src.Open(context.Background(), cell.Open{Salts: cell.NewSalter(1), Total: 3, Seed: 1})
	require.NoError(t, err)
	assert.Contains(t, reqs.InputTokens(), "estimated (4 bytes per token")
	for i := range 3 {
		assert.Len(t, reqs.Request(context.Background(), i).Prompt, 400, "4 bytes a token")
	}
}

// A configured route the server does not serve (404) falls back to the
// estimate and says why.
func TestSyntheticTokenizer404(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: srv.URL, Model: "m", TokenizePath: "/tokenize"}, 1)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	src, _ := New(config.WorkloadSpec{Name: "syn", Kind: config.WorkloadSynthetic,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 50}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 8}}, "")
	reqs, err := src.Open(context.Background(), cell.Open{Salts: cell.NewSalter(1), Tokenizer: c, Total: 2, Seed: 1})
	require.NoError(t, err)
	assert.Contains(t, reqs.InputTokens(), "estimated (4 bytes per token: loadgen: the engine has no tokenize endpoint: POST /tokenize answered 404)")
	assert.Len(t, reqs.Request(context.Background(), 0).Prompt, 200)
}

// The draws follow their distributions (generous tolerances: 20,000
// draws, means within 3%, spreads within 10%).
func TestDistributions(t *testing.T) {
	stats := func(d config.Dist) (mean, std float64, lo, hi int) {
		rng := newRand(42, "dist")
		const n = 20000
		var sum, sq float64
		lo, hi = math.MaxInt, 0
		for range n {
			x := draw(d, rng)
			sum += float64(x)
			sq += float64(x) * float64(x)
			lo, hi = min(lo, x), max(hi, x)
		}
		mean = sum / n
		return mean, math.Sqrt(sq/n - mean*mean), lo, hi
	}
	m, _, lo, hi := stats(config.Dist{Dist: config.DistFixed, Value: 77})
	assert.Equal(t, []float64{77}, []float64{m})
	assert.Equal(t, 77, lo)
	assert.Equal(t, 77, hi)

	m, s, lo, hi := stats(config.Dist{Dist: config.DistUniform, Min: 100, Max: 300})
	assert.InEpsilon(t, 200, m, 0.03)
	assert.InEpsilon(t, 200/math.Sqrt(12), s, 0.1)
	assert.Equal(t, 100, lo)
	assert.Equal(t, 300, hi)

	m, s, _, _ = stats(config.Dist{Dist: config.DistNormal, Mean: 500, Std: 50})
	assert.InEpsilon(t, 500, m, 0.03)
	assert.InEpsilon(t, 50, s, 0.1)
	_, _, lo, _ = stats(config.Dist{Dist: config.DistNormal, Mean: 5, Std: 50})
	assert.Equal(t, 1, lo, "clamped to at least one token")

	// lognormal: mean and std are of the lengths themselves.
	m, s, _, _ = stats(config.Dist{Dist: config.DistLognormal, Mean: 400, Std: 200})
	assert.InEpsilon(t, 400, m, 0.03)
	assert.InEpsilon(t, 200, s, 0.1)
}
