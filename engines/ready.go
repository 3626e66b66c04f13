package engines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/config"
)

// Readiness is polled here, not by testcontainers-go: its wait.ForHTTP
// probes with an http.Client whose Timeout is 1 s (v0.45.0 wait/http.go),
// and SGLang's /health_generate answers after at least 1 s (it waits in
// asyncio.sleep(1) steps for the scheduler's output:
// docs/engine-facts.md, SGLang, "HTTP routes"), so that strategy never
// sees it ready. TensorRT-LLM's /health_generate runs a real one-token
// chat generation and vLLM's probe is a one-token completion: each probe
// gets container.ready.probe_timeout (default 60 s) instead.

const (
	// progressEvery is the least time between two progress lines.
	progressEvery = 10 * time.Second
	// excerptBytes is how much of a probe's answer a message shows.
	excerptBytes = 120
)

// readyTarget is what the poller needs of a started container.
type readyTarget interface {
	// baseURL is the engine's http://host:port as seen from here; an
	// error while the port is not mapped yet.
	baseURL(ctx context.Context) (string, error)
	// exited says whether the container has stopped, and how (nil: it
	// has not, as far as can be told).
	exited(ctx context.Context) *exitedError
}

// exitedError is a container that stopped while it was being waited for.
type exitedError struct {
	Code      int
	OOMKilled bool
	Reason    string // Docker's state error, if any
}

func (e *exitedError) Error() string {
	s := fmt.Sprintf("the container exited with code %d", e.Code)
	if e.OOMKilled {
		s += " (killed for lack of memory: give it more, or lower the engine's memory settings)"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// readyError is the poller's failure: its message names the engine, the
// probe, what the last probe got, what to do and the cause, which it
// wraps (context.DeadlineExceeded, context.Canceled, an *exitedError).
type readyError struct {
	msg string
	err error
}

func (e *readyError) Error() string { return e.msg }
func (e *readyError) Unwrap() error { return e.err }

// poller probes an engine until it answers its readiness request with a
// 2xx status: one probe at a time, each bounded by the probe timeout,
// Interval apart, until the deadline; it fails at once when the container
// exits. While it waits it writes a progress line at most every progress.
type poller struct {
	engine   string
	probe    config.Probe  // method, path, body (POST), probe timeout, interval
	began    time.Time     // the start, for the time elapsed (zero: the wait's)
	deadline time.Time     // the start-up deadline (zero: ctx's only)
	startup  time.Duration // the deadline's setting, for messages
	progress time.Duration // least time between progress lines
	notef    func(format string, args ...any)
	secrets  []string // values never printed
}

// newPoller is the poller of a container engine's spec, with the
// start-up deadline counted from began.
func (c *Container) newPoller(began time.Time) poller {
	s := c.spec
	return poller{engine: s.Name, probe: s.Ready, began: began, deadline: began.Add(s.Startup), startup: s.Startup,
		progress: progressEvery, notef: c.notef, secrets: c.secrets()}
}

// waitState is what the probes got so far.
type waitState struct {
	probes   int         // sent
	timeouts int         // of which ran out of the probe timeout
	last     probeResult // the last that tells something
}

// probeResult is what one probe got.
type probeResult struct {
	status   int    // 0: no answer
	excerpt  string // the answer's start, one line
	err      error  // why there was no answer
	timedOut bool   // the probe ran out of its own time
	took     time.Duration
}

func (r probeResult) ready() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// String describes the result in a line, secrets not yet removed.
func (r probeResult) String() string {
	switch {
	case r.timedOut:
		return fmt.Sprintf("no answer within the probe timeout (%v)", round(r.took))
	case r.err != nil:
		return r.err.Error()
	case r.excerpt == "":
		return fmt.Sprintf("HTTP %d after %v", r.status, round(r.took))
	}
	return fmt.Sprintf("HTTP %d after %v: %q", r.status, round(r.took), r.excerpt)
}

// round shortens a duration for a message: milliseconds under 10 s,
// seconds above.
func round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// wait probes t until the engine is ready and returns its base URL. It
// ends with a *readyError when the container exits, the deadline passes
// or ctx ends.
func (p poller) wait(ctx context.Context, t readyTarget) (string, error) {
	parent := ctx
	if !p.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, p.deadline)
		defer cancel()
	}
	ctx, stop := context.WithCancelCause(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		p.watch(ctx, t, stop)
	}()
	defer func() {
		stop(nil)
		<-watched
	}()
	hc := &http.Client{Transport: probeTransport()}
	defer hc.CloseIdleConnections()

	began, noted := p.began, time.Now()
	if began.IsZero() {
		began = noted
	}
	var base string
	var st waitState
	for {
		if base == "" {
			if u, err := t.baseURL(ctx); err != nil {
				st.last = probeResult{err: fmt.Errorf("the container port is not mapped yet: %w", err)}
			} else {
				base = u
			}
		}
		if base != "" {
			st.probes++
			r := p.probeOnce(ctx, hc, base)
			if r.ready() {
				return base, nil
			}
			// A probe cut short by the end of the wait says nothing
			// about the engine: the one before it is the last word.
			if ctx.Err() == nil {
				st.last = r
			}
			if r.timedOut {
				st.timeouts++
			}
		}
		if ctx.Err() != nil {
			return "", p.failure(parent, ctx, st, time.Since(began))
		}
		if time.Since(noted) >= p.progress {
			noted = time.Now()
			p.notef("%s", p.redact(fmt.Sprintf("not ready after %v: %d probe(s) of %s %s; last: %s",
				round(time.Since(began)), st.probes, p.probe.Method, p.probe.Path, st.last)))
		}
		pause := time.NewTimer(p.probe.Interval)
		select {
		case <-ctx.Done():
			pause.Stop()
			return "", p.failure(parent, ctx, st, time.Since(began))
		case <-pause.C:
		}
	}
}

// watch checks the container's state every interval and stops the wait
// with an *exitedError as soon as the container has exited.
func (p poller) watch(ctx context.Context, t readyTarget, stop context.CancelCauseFunc) {
	tick := time.NewTicker(min(p.probe.Interval, time.Second))
	defer tick.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, dockerTimeout)
		exit := t.exited(sctx)
		cancel()
		if exit != nil {
			stop(exit)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeOnce sends the readiness request once, within the probe timeout.
func (p poller) probeOnce(ctx context.Context, hc *http.Client, base string) probeResult {
	pctx, cancel := context.WithTimeout(ctx, p.probe.ProbeTimeout)
	defer cancel()
	var body io.Reader
	if p.probe.Method == http.MethodPost {
		body = strings.NewReader(p.probe.Body)
	}
	req, err := http.NewRequestWithContext(pctx, p.probe.Method, base+p.probe.Path, body)
	if err != nil {
		return probeResult{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	began := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return probeResult{err: err, took: time.Since(began), timedOut: pctx.Err() != nil && ctx.Err() == nil}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, excerptBytes+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return probeResult{status: resp.StatusCode, excerpt: excerpt(head), took: time.Since(began)}
}

// failure explains why the wait ended without a ready engine: the
// container exited, the start-up deadline passed, or ctx (the caller's,
// parent) ended.
func (p poller) failure(parent, ctx context.Context, st waitState, took time.Duration) error {
	cause := context.Cause(ctx)
	probe := fmt.Sprintf("%s %s", p.probe.Method, p.probe.Path)
	seen := fmt.Sprintf("%d probe(s), %v after the start", st.probes, round(took))
	if st.timeouts > 0 {
		seen += fmt.Sprintf(", %d timed out", st.timeouts)
	}
	if st.last.status != 0 || st.last.err != nil {
		seen += "; last: " + st.last.String()
	}
	last := st.last
	var msg string
	var exit *exitedError
	switch {
	case errors.As(cause, &exit):
		msg = fmt.Sprintf("engine %q: %v while waiting for %s to answer 2xx (%s): fix its command line, image or resources (see the container log)",
			p.engine, exit, probe, seen)
	case errors.Is(parent.Err(), context.DeadlineExceeded):
		msg = fmt.Sprintf("engine %q was not ready before the start-up timeout (timeouts.startup in engines.yaml), waiting for %s to answer 2xx (%s): raise timeouts.startup if it is still loading: %v",
			p.engine, probe, seen, cause)
	case parent.Err() != nil:
		msg = fmt.Sprintf("engine %q was interrupted waiting for %s to answer 2xx (%s): %v", p.engine, probe, seen, cause)
	case last.timedOut:
		msg = fmt.Sprintf("engine %q was not ready within container.startup (%v): %s got no answer within the probe timeout (container.ready.probe_timeout, %v) (%s): raise probe_timeout if the engine is slow to answer, or container.startup if it is still loading: %v",
			p.engine, p.startup, probe, p.probe.ProbeTimeout, seen, cause)
	default:
		msg = fmt.Sprintf("engine %q was not ready within container.startup (%v): %s never answered 2xx (%s; each probe may take up to container.ready.probe_timeout, %v): see the container log, and raise container.startup if it is still loading: %v",
			p.engine, p.startup, probe, seen, p.probe.ProbeTimeout, cause)
	}
	return &readyError{msg: p.redact(msg), err: cause}
}

func (p poller) redact(s string) string { return redact(s, nonEmpty(p.secrets)) }

// excerpt is the start of an answer as one short line: control
// characters and runs of spaces become one space, and a longer answer is
// cut with "…".
func excerpt(b []byte) string {
	cut := len(b) > excerptBytes
	if cut {
		b = b[:excerptBytes]
	}
	s := strings.Join(strings.FieldsFunc(strings.ToValidUTF8(string(b), ""), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if cut {
		s += "…"
	}
	return s
}

// probeTransport is a fresh transport without keep-alives: every probe
// opens its own connection, so that one reset by a port that is not
// served yet (docker-proxy accepts before the engine listens:
// docs/engine-facts.md, vLLM) is never reused.
func probeTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	return tr
}

// containerTarget is a started container as the poller sees it.
type containerTarget struct {
	ctr  *testcontainers.DockerContainer
	port string // the container port, e.g. 8000/tcp
}

func (t containerTarget) baseURL(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	return t.ctr.PortEndpoint(ctx, t.port, "http")
}

func (t containerTarget) exited(ctx context.Context) *exitedError {
	st, err := t.ctr.State(ctx)
	if err != nil || st == nil {
		return nil // unknown: the probes go on, and the deadline bounds them
	}
	if st.Status != container.StateExited && st.Status != container.StateDead {
		return nil
	}
	return &exitedError{Code: st.ExitCode, OOMKilled: st.OOMKilled, Reason: st.Error}
}
