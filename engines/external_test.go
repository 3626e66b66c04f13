package engines

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
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

// A closed port fails with the refusal itself, not after the timeout.
func TestExternalUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // a port that was just free: nothing listens
	e := config.Engine{Name: "external", Kind: config.KindExternal, URL: "http://" + addr}
	_, err = NewExternal(e, time.Minute, "").Start(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is the server up?")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

// A server that accepts but never answers fails at the timeout given,
// with the deadline as the inspectable cause.
func TestExternalTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	e := config.Engine{Name: "external", Kind: config.KindExternal, URL: srv.URL}
	_, err := NewExternal(e, 50*time.Millisecond, "").Start(t.Context())
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "GET /v1/models: no answer in time")
}
