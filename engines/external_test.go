package engines

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/config"
)

// An external server behind an API key: without it, Start says which
// variable to set; with it, every request carries the bearer token; the
// key appears in no error and no info line.
func TestExternalAPIKey(t *testing.T) {
	const key = "sk-secret-123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"m1"},{"id":"m2"}]}`))
	}))
	defer srv.Close()
	e := config.Engine{Name: "external", Kind: config.KindExternal, URL: srv.URL}

	_, err := NewExternal(e, 5*time.Second, "").Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 401: the server wants an API key: set INFBENCH_API_KEY")

	ep, err := NewExternal(e, 5*time.Second, key).Start(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "m1", ep.Model, "first model of /v1/models when none is named")
	assert.Equal(t, "Bearer "+key, ep.Headers["Authorization"])
	for _, l := range ep.Info {
		assert.NotContains(t, l.Value, key)
	}

	e.Model = "m3"
	_, err = NewExternal(e, 5*time.Second, key).Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `model "m3" is not served (the server lists m1, m2): set INFBENCH_MODEL to one of them`)
	assert.False(t, strings.Contains(err.Error(), key))
}

func TestExternalUnreachable(t *testing.T) {
	e := config.Engine{Name: "external", Kind: config.KindExternal, URL: "http://127.0.0.1:1"}
	start := time.Now()
	_, err := NewExternal(e, 2*time.Second, "").Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is the server up?")
	assert.Less(t, time.Since(start), 5*time.Second)
}
