package loadgen_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
)

// Client.Tokenize against a loopback server of vLLM's shape: the body it
// sends, the count it reads, and each failure named.
func TestTokenize(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		_ = json.NewDecoder(r.Body).Decode(&req)
		switch r.URL.Path {
		case "/tokenize":
			assert.Equal(t, "Bearer k", r.Header.Get("Authorization"))
			assert.Equal(t, map[string]string{"model": "m", "prompt": "one two three"}, req)
			_, _ = w.Write([]byte(`{"count": 4, "max_model_len": 8192, "tokens": [1, 2, 3, 4]}`))
		case "/broken":
			http.Error(w, `{"object": "error", "message": "no tokenizer loaded"}`, http.StatusInternalServerError)
		case "/shape":
			_, _ = w.Write([]byte(`{"tokens": [1]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tok := func(path string) *loadgen.Client {
		c, err := loadgen.NewClient(loadgen.Target{BaseURL: srv.URL, Model: "m", TokenizePath: path,
			Headers: map[string]string{"Authorization": "Bearer k"}}, 1)
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	ctx := context.Background()
	n, err := tok("/tokenize").Tokenize(ctx, "one two three")
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.Equal(t, "/tokenize", tok("/tokenize").Tokenizer())

	_, err = tok("").Tokenize(ctx, "x")
	assert.ErrorIs(t, err, loadgen.ErrNoTokenizer)
	_, err = tok("/missing").Tokenize(ctx, "x")
	assert.ErrorIs(t, err, loadgen.ErrNoTokenizer)
	assert.ErrorContains(t, err, "POST /missing answered 404")
	_, err = tok("/broken").Tokenize(ctx, "x")
	assert.NotErrorIs(t, err, loadgen.ErrNoTokenizer)
	assert.ErrorContains(t, err, "tokenize: POST /broken: HTTP 500: no tokenizer loaded")
	_, err = tok("/shape").Tokenize(ctx, "x")
	assert.ErrorContains(t, err, `tokenize: POST /shape: want {"count": N, ...}, got {"tokens": [1]}`)
}
