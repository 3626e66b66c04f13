// Package benchtest holds the helpers of the root package's tests that
// run the benchmark itself: the test binary in a subprocess, and servers
// that misbehave on purpose. It is for tests only.
package benchtest

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infbench/infbench/resultsdir"
)

// Result is what a benchmark run in a subprocess printed and its exit
// status.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the benchmarks of the test binary at binary (os.Args[0] from
// the test itself) in a subprocess, as go test -bench would, with the environment env (INFBENCH_RESULTS a fresh
// folder unless env sets it) and the extra arguments.
func Run(t *testing.T, binary string, env []string, args ...string) Result {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the benchmark in a subprocess")
	}
	cmd := command(t, binary, env, args)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	return Result{stdout.String(), stderr.String(), code}
}

// command is the benchmark subprocess of Run and Start: the test binary
// with a small default matrix (2 streams, 4 requests of 8 tokens, short
// prompts, no shard) that env overrides.
func command(t *testing.T, binary string, env, args []string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), binary, append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), "INFBENCH_TARGET=", "INFBENCH_MODEL=", "INFBENCH_RATES=", "INFBENCH_SEED=",
		"INFBENCH_MAX_ERROR_RATE=", "INFBENCH_STALL_TIMEOUT=", "INFBENCH_CONCURRENCY=2", "INFBENCH_PROMPTS=short",
		"INFBENCH_REQUESTS=4", "INFBENCH_MAX_TOKENS=8", "INFBENCH_SHARD=", "INFBENCH_SHARDS=", "INFBENCH_COORDINATOR=",
		resultsdir.EnvDir+"="+filepath.Join(t.TempDir(), "results"))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// StallServer is an OpenAI-compatible server that lists model m and
// answers every completion with its headers and then nothing. It records
// when the first request came and when the last connection went away.
type StallServer struct {
	*httptest.Server
	Requests atomic.Int64
	mu       sync.Mutex
	first    time.Time
	gone     time.Time
}

// Span is from the first request's arrival to the last connection's end.
func (s *StallServer) Span() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone.Sub(s.first)
}

// NewStallServer starts one for the test's life.
func NewStallServer(t *testing.T) *StallServer {
	s := &StallServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"m","object":"model"}]}`))
			return
		}
		s.mu.Lock()
		if s.Requests.Add(1) == 1 {
			s.first = time.Now()
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		s.mu.Lock()
		s.gone = time.Now()
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}
