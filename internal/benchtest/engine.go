package benchtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/resultsdir"
)

// Bench is the part of *testing.B that Measure and Sweep need, for a
// test that calls them directly.
type Bench struct{ T *testing.T }

func (b Bench) Name() string    { return b.T.Name() }
func (b Bench) Log(args ...any) { b.T.Log(args...) }

// SimEngine writes an engines.yaml with one simulated engine (the YAML
// of its sim: block), the slo and sweep blocks given, and loads it (with promptsFile) with
// nothing from the environment but the results folder; it starts the
// engine and returns it, with the results folder.
func SimEngine(t *testing.T, promptsFile, simBlock, rest string) (*infbench.Suite, *infbench.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	t.Setenv(resultsdir.EnvDir, results)
	file := filepath.Join(dir, "engines.yaml")
	yaml := `api: chat
concurrency: [8]
requests: {min: 16, per_concurrency: 4}
warmup: {min: 1, per_concurrency: 1}
timeouts: {stall: 60s, request: 10m, startup: 1m}
max_in_flight: 1024
max_error_rate: 0.01
seed: 0x5eed
` + rest + `
engines:
  - name: sim
    kind: sim
    model: m
    sim:
` + simBlock + "\n"
	require.NoError(t, os.WriteFile(file, []byte(yaml), 0o644))
	s, err := infbench.Load(file, promptsFile, func(string) string { return "" })
	require.NoError(t, err)
	run, err := infbench.OpenRun(t.Context(), s, infbench.OpenProgress(testing.Verbose()), io.Discard, false)
	require.NoError(t, err)
	t.Cleanup(func() { _ = run.Close(context.Background()) })
	x, err := run.StartEngine(t.Context(), s.Engines()[0], time.Time{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Stop(context.Background()) })
	return s, x, results
}

// HalfFailing is the simulator behind a server that answers every second
// completion with HTTP 503, from the second one.
func HalfFailing(t *testing.T) *httptest.Server {
	engine := sim.New(sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	go engine.Run(t.Context())
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" && n.Add(1)%2 == 0 {
			http.Error(w, `{"message":"overloaded"}`, http.StatusServiceUnavailable)
			return
		}
		engine.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}
