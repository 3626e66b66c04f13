package engines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infbench/infbench/config"
)

// seenProbe is a readiness probe as the server recorded it.
type seenProbe struct {
	method, path, body, contentType string
	waited                          time.Duration // from arrival to the answer, or to the client giving up
	abandoned                       bool          // the client gave up before the answer
}

// probeServer is a loopback readiness endpoint: each probe is answered
// after delay (or never, if delay < 0) by answer(n), n counting from 0.
type probeServer struct {
	*httptest.Server
	arrived atomic.Int32 // probes that reached the handler
	mu      sync.Mutex
	seen    []seenProbe // probes ended, answered or abandoned
}

func newProbeServer(t *testing.T, delay time.Duration, answer func(n int) (int, string)) *probeServer {
	t.Helper()
	ps := &probeServer{}
	var n atomic.Int32
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		ps.arrived.Add(1)
		body, _ := io.ReadAll(r.Body)
		sp := seenProbe{method: r.Method, path: r.URL.Path, body: string(body), contentType: r.Header.Get("Content-Type")}
		var wait <-chan time.Time
		if delay >= 0 {
			wait = time.After(delay)
		}
		select {
		case <-wait:
		case <-r.Context().Done():
			sp.abandoned = true
		}
		sp.waited = time.Since(arrived)
		ps.mu.Lock()
		ps.seen = append(ps.seen, sp)
		ps.mu.Unlock()
		if sp.abandoned {
			return
		}
		code, text := answer(int(n.Add(1) - 1))
		w.WriteHeader(code)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(ps.Close)
	return ps
}

// settled returns the probes once every probe that arrived has ended
// (the server notices a client giving up a moment after it does).
func (ps *probeServer) settled(t *testing.T) []seenProbe {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if seen := ps.probes(); len(seen) == int(ps.arrived.Load()) {
			return seen
		}
	}
	t.Fatalf("%d probes arrived, %d ended after 10 s", ps.arrived.Load(), len(ps.probes()))
	return nil
}

func (ps *probeServer) probes() []seenProbe {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]seenProbe(nil), ps.seen...)
}

// fakeTarget is a container whose port maps to url after unmapped
// failed lookups, and which exits (with exit) once exitWhen says so.
type fakeTarget struct {
	url      string
	unmapped atomic.Int32
	exit     *exitedError
	exitWhen func() bool
}

func (f *fakeTarget) baseURL(context.Context) (string, error) {
	if f.unmapped.Add(-1) >= 0 {
		return "", errors.New("port 8000/tcp not found")
	}
	return f.url, nil
}

func (f *fakeTarget) exited(context.Context) *exitedError {
	if f.exitWhen != nil && f.exitWhen() {
		return f.exit
	}
	return nil
}

// notes collects a poller's progress lines.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) notef(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, fmt.Sprintf(format, args...))
}

func (n *notes) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.lines...)
}

const readySecret = "hf_ready_test_secret"

func testPoller(probe config.Probe, deadline time.Time, progress time.Duration, n *notes) poller {
	return poller{engine: "sglang", probe: probe, deadline: deadline, startup: time.Until(deadline).Round(time.Millisecond),
		progress: progress, notef: n.notef, secrets: []string{readySecret}}
}

// SGLang's /health_generate answers after at least 1 s, and 503 until its
// warm-up is done: the poller waits for each answer (testcontainers'
// wait.ForHTTP gives up after 1 s), reports the 503s, and is ready at the
// first 200.
func TestPollerWaitsForSlowReadiness(t *testing.T) {
	const answerAfter = 1100 * time.Millisecond // SGLang: ≥ 1 s
	srv := newProbeServer(t, answerAfter, func(n int) (int, string) {
		if n < 2 {
			return http.StatusServiceUnavailable, "warming up\n\tnot ready; token " + readySecret
		}
		return http.StatusOK, "Generation health check OK"
	})
	var n notes
	target := &fakeTarget{url: srv.URL}
	target.unmapped.Store(1) // the port is mapped from the second look on
	p := testPoller(config.Probe{Method: "GET", Path: "/health_generate", ProbeTimeout: config.DefaultProbeTimeout, Interval: 10 * time.Millisecond},
		time.Now().Add(10*time.Minute), 0, &n)
	base, err := p.wait(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if base != srv.URL {
		t.Errorf("base URL %q, want %q", base, srv.URL)
	}
	seen := srv.probes()
	if len(seen) != 3 {
		t.Fatalf("server saw %d probes, want 3 (two 503s, then 200): %+v", len(seen), seen)
	}
	for i, sp := range seen {
		if sp.method != "GET" || sp.path != "/health_generate" || sp.body != "" {
			t.Errorf("probe %d: %s %s %q, want GET /health_generate without a body", i, sp.method, sp.path, sp.body)
		}
		// The server's own clock: the client stayed for the whole answer,
		// longer than testcontainers' 1 s.
		if sp.abandoned || sp.waited < answerAfter {
			t.Errorf("probe %d: the client gave up after %v (abandoned %v); the answer took %v", i, sp.waited, sp.abandoned, answerAfter)
		}
	}
	lines := n.all()
	for _, l := range lines {
		t.Log(l)
	}
	if len(lines) != 3 { // the unmapped port, then each 503
		t.Fatalf("progress lines %q, want 3", lines)
	}
	if !strings.Contains(lines[0], "not mapped yet") {
		t.Errorf("first progress line %q, want the unmapped port", lines[0])
	}
	last := lines[len(lines)-1]
	for _, want := range []string{"not ready after ", "2 probe(s) of GET /health_generate", "last: HTTP 503 after ", `"warming up not ready; token [redacted]"`} {
		if !strings.Contains(last, want) {
			t.Errorf("progress line %q lacks %q", last, want)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, readySecret) || strings.Contains(l, "\n") {
			t.Errorf("progress line %q shows the secret or spans lines", l)
		}
	}
}

// A POST probe (vLLM's one-token completion) sends its body as JSON; any
// 2xx is ready; progress lines come no more often than progress.
func TestPollerPostsBody(t *testing.T) {
	const body = `{"model": "m", "prompt": "hi", "max_tokens": 1}`
	srv := newProbeServer(t, 0, func(n int) (int, string) {
		if n < 3 {
			return http.StatusServiceUnavailable, "loading"
		}
		return http.StatusNoContent, ""
	})
	var n notes
	p := testPoller(config.Probe{Method: "POST", Path: "/v1/completions", Body: body, ProbeTimeout: time.Minute, Interval: time.Millisecond},
		time.Now().Add(10*time.Minute), time.Hour, &n)
	if _, err := p.wait(t.Context(), &fakeTarget{url: srv.URL}); err != nil {
		t.Fatal(err)
	}
	seen := srv.probes()
	if len(seen) != 4 {
		t.Fatalf("server saw %d probes, want 4", len(seen))
	}
	for i, sp := range seen {
		if sp.method != "POST" || sp.path != "/v1/completions" || sp.body != body || sp.contentType != "application/json" {
			t.Errorf("probe %d: %s %s %q (%s), want POST /v1/completions %q as JSON", i, sp.method, sp.path, sp.body, sp.contentType, body)
		}
	}
	if lines := n.all(); len(lines) != 0 {
		t.Errorf("progress lines %q within the first hour, want none", lines)
	}
}

// A probe timeout shorter than the engine's answer fails every probe; the
// poller keeps probing until the start-up deadline, then names the probe
// timeout.
func TestPollerProbeTimeout(t *testing.T) {
	const answerAfter = 500 * time.Millisecond
	const probeTimeout = 100 * time.Millisecond
	srv := newProbeServer(t, answerAfter, func(int) (int, string) { return http.StatusOK, "Generation health check OK" })
	var n notes
	deadline := time.Now().Add(800 * time.Millisecond)
	p := testPoller(config.Probe{Method: "GET", Path: "/health_generate", ProbeTimeout: probeTimeout, Interval: 10 * time.Millisecond},
		deadline, time.Hour, &n)
	_, err := p.wait(t.Context(), &fakeTarget{url: srv.URL})
	ended := time.Now()
	if err == nil {
		t.Fatal("ready although every probe timed out")
	}
	if ended.Before(deadline) {
		t.Errorf("gave up %v before the deadline", deadline.Sub(ended))
	}
	var re *readyError
	if !errors.As(err, &re) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %#v, want a *readyError wrapping context.DeadlineExceeded", err)
	}
	for _, want := range []string{`engine "sglang" was not ready within container.startup`,
		"GET /health_generate got no answer within the probe timeout (container.ready.probe_timeout, 100ms)",
		"last: no answer within the probe timeout", "raise probe_timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	t.Log(err)
	seen := srv.settled(t)
	if len(seen) < 2 {
		t.Fatalf("server saw %d probe(s), want the poller to keep probing", len(seen))
	}
	for i, sp := range seen {
		if !sp.abandoned || sp.waited >= answerAfter {
			t.Errorf("probe %d: the server answered after %v (abandoned %v), want the client to give up first", i, sp.waited, sp.abandoned)
		}
	}
	// Every probe timed out, but the one the deadline cut may not count.
	// A probe the deadline cut before it reached the server is counted
	// by the poller but never seen by the server.
	if !strings.Contains(err.Error(), fmt.Sprintf("%d probe(s), ", len(seen))) && !strings.Contains(err.Error(), fmt.Sprintf("%d probe(s), ", len(seen)+1)) ||
		!strings.Contains(err.Error(), fmt.Sprintf(", %d timed out;", len(seen))) && !strings.Contains(err.Error(), fmt.Sprintf(", %d timed out;", len(seen)-1)) {
		t.Errorf("error does not count the probes (%d sent, all timed out):\n%v", len(seen), err)
	}
}

// A container that exits ends the wait at once, even with a probe in
// flight that would never be answered.
func TestPollerContainerExits(t *testing.T) {
	srv := newProbeServer(t, -1, nil) // never answers
	var n notes
	target := &fakeTarget{url: srv.URL, exit: &exitedError{Code: 2}, exitWhen: func() bool { return srv.arrived.Load() > 0 }}
	deadline := time.Now().Add(time.Hour)
	p := testPoller(config.Probe{Method: "GET", Path: "/health", ProbeTimeout: 50 * time.Minute, Interval: 10 * time.Millisecond},
		deadline, time.Hour, &n)
	_, err := p.wait(t.Context(), target)
	left := time.Until(deadline)
	var exit *exitedError
	if !errors.As(err, &exit) || exit.Code != 2 {
		t.Fatalf("error %v, want one wrapping the exit", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || left < 59*time.Minute {
		t.Errorf("the wait ended %v before its deadline, want it at once: %v", left, err)
	}
	for _, want := range []string{`engine "sglang": the container exited with code 2 while waiting for GET /health`, "fix its command line"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	t.Log(err)
	// The probe in flight was cut, not left running.
	if seen := srv.settled(t); len(seen) != 1 || !seen[0].abandoned {
		t.Errorf("server saw %+v, want one probe, abandoned by the client", seen)
	}
}

// An ended context ends the wait, as interrupted, wrapping its cause.
func TestPollerInterrupted(t *testing.T) {
	srv := newProbeServer(t, 0, func(int) (int, string) { return http.StatusServiceUnavailable, "loading" })
	ctx, cancel := context.WithCancelCause(t.Context())
	var n notes
	target := &fakeTarget{url: srv.URL, exitWhen: func() bool {
		if len(srv.probes()) >= 2 {
			cancel(fmt.Errorf("signal interrupt: %w", context.Canceled))
		}
		return false
	}}
	p := testPoller(config.Probe{Method: "GET", Path: "/health", ProbeTimeout: time.Minute, Interval: 10 * time.Millisecond},
		time.Now().Add(time.Hour), time.Hour, &n)
	_, err := p.wait(ctx, target)
	t.Log(err)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "was interrupted waiting for GET /health") ||
		!strings.Contains(err.Error(), "signal interrupt") || !strings.Contains(err.Error(), `last: HTTP 503 after`) {
		t.Errorf("error %v, want interrupted, the last status and the cause", err)
	}
}

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  Generation health check OK\r\n", "Generation health check OK"},
		{"a\x00b\tc\n\nd", "a b c d"},
		{strings.Repeat("x", excerptBytes+1), strings.Repeat("x", excerptBytes) + "…"},
		{"\xff\xfeok", "ok"},
	} {
		if got := excerpt([]byte(tc.in)); got != tc.want {
			t.Errorf("excerpt(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
