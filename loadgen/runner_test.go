package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamServer is a net/http server streaming chat chunks on a fixed
// schedule: the first content event ttft after the request arrives, then
// one every gap, tokens events in all, then a usage chunk and [DONE]. It
// counts the requests in flight and records, at each arrival, how many
// were (itself included).
type streamServer struct {
	*httptest.Server
	ttft, gap time.Duration
	tokens    int
	vary      bool // vary the output length per request (5..29 tokens)
	served    atomic.Int64

	inFlight atomic.Int64
	cut      atomic.Int64 // requests whose client went away mid-stream
	finished atomic.Int64 // requests streamed to [DONE]
	mu       sync.Mutex
	arrivals []int64
	ttfts    []time.Duration // actual first-content write offsets
}

func newStreamServer(t testing.TB, ttft, gap time.Duration, tokens int) *streamServer {
	s := &streamServer{ttft: ttft, gap: gap, tokens: tokens}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.Server.Config.MaxHeaderBytes = 1 << 16
	s.Start()
	t.Cleanup(s.Close)
	return s
}

var tokenEvent = []byte("data: " + `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,"finish_reason":null}]}` + "\n\n")

func (s *streamServer) handle(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.mu.Lock()
	s.arrivals = append(s.arrivals, n)
	s.mu.Unlock()
	_, _ = drainBody(r)
	tokens := s.tokens
	if k := s.served.Add(1); s.vary {
		tokens = 5 + int(k*7%25)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	f := w.(http.Flusher)
	_, _ = w.Write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"))
	f.Flush()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := 0; i < tokens; i++ {
		// Absolute schedule: lateness of one write does not shift the rest.
		if d := time.Until(arrived.Add(s.ttft + time.Duration(i)*s.gap)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				s.cut.Add(1)
				return
			}
		}
		if i == 0 {
			s.mu.Lock()
			s.ttfts = append(s.ttfts, time.Since(arrived))
			s.mu.Unlock()
		}
		if _, err := w.Write(tokenEvent); err != nil {
			s.cut.Add(1)
			return
		}
		f.Flush()
	}
	fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", tokens)
	s.finished.Add(1)
}

// countingDoer records, on the client side, when each request starts and
// ends.
type countingDoer struct {
	Doer
	mu     sync.Mutex
	events []inFlightEvent
}

type inFlightEvent struct {
	at    time.Time
	delta int
}

func (d *countingDoer) note(delta int) {
	d.mu.Lock()
	d.events = append(d.events, inFlightEvent{time.Now(), delta})
	d.mu.Unlock()
}

func (d *countingDoer) Do(ctx context.Context, r Request, epoch time.Time) Record {
	d.note(+1)
	defer d.note(-1)
	return d.Doer.Do(ctx, r, epoch)
}

// inFlight returns the maximum number of requests in flight and the
// time-weighted mean between the moment the count first reached c and the
// last request's start (after which the work has run out and the loop
// drains).
func (d *countingDoer) inFlight(c int) (peak int, mean float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var from, to time.Time
	for _, e := range d.events {
		if e.delta > 0 {
			to = e.at
		}
	}
	n := 0
	var area float64
	prev := time.Time{}
	for _, e := range d.events {
		if !from.IsZero() && e.at.After(from) {
			end := e.at
			if end.After(to) {
				end = to
			}
			if end.After(prev) {
				area += float64(n) * end.Sub(prev).Seconds()
			}
		}
		n += e.delta
		peak = max(peak, n)
		if from.IsZero() && n == c {
			from = e.at
		}
		prev = e.at
	}
	if span := to.Sub(from).Seconds(); span > 0 {
		mean = area / span
	}
	return peak, mean
}

// A closed loop at concurrency C never has more than C requests in flight,
// reaches C, and keeps C in flight while work remains. Nothing here bounds
// a time: the counts are compared with what the server itself counted in
// the same run, and the steady state is a share of the run's own time.
func TestClosedLoopKeepsExactlyCInFlight(t *testing.T) {
	const conc, warmup, requests = 8, 8, 80
	srv := newStreamServer(t, 20*ms, 2*ms, 0)
	srv.vary = true // completions spread out, as in a real steady state
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m", IncludeUsage: true}, conc)
	require.NoError(t, err)
	defer c.Close()
	d := &countingDoer{Doer: c}

	var sunk atomic.Int64
	loop := ClosedLoop{Concurrency: conc, Warmup: warmup, Requests: requests}
	recs, err := loop.Run(context.Background(), d, func(_ context.Context, i int) Request { return Request{Prompt: "p", MaxTokens: 30} },
		func(Record) { sunk.Add(1) })
	require.NoError(t, err)
	require.Len(t, recs, warmup+requests)
	assert.EqualValues(t, warmup+requests, sunk.Load(), "every record reaches the sink")

	// The server's count: every request arrived, and none while C were
	// already in flight there; C at once was reached.
	srv.mu.Lock()
	arrivals := append([]int64(nil), srv.arrivals...)
	srv.mu.Unlock()
	require.Len(t, arrivals, warmup+requests, "requests the server got")
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i] < arrivals[j] })
	assert.EqualValues(t, conc, arrivals[len(arrivals)-1], "the server never saw more than C in flight, and saw C")

	// The client's count agrees, and the records say the same.
	peak, mean := d.inFlight(conc)
	assert.Equal(t, conc, peak, "never more than C in flight")
	assert.Equal(t, conc, Summarize(recs, SLO{}).PeakInFlight)
	// Between filling up and running out of work, each worker sends its
	// next request the moment its previous one returns: the only time a
	// slot is empty is the loop's bookkeeping between two requests. A
	// loop that waited for a batch to drain, or ran fewer workers, would
	// hold about 0.7·C here (the output lengths vary 5..29 tokens); 0.9·C
	// leaves a busy machine 10% of every request for that bookkeeping.
	assert.GreaterOrEqual(t, mean, 0.9*conc, "time-weighted requests in flight")
	t.Logf("client side: peak %d, time-weighted mean %.4f in flight", peak, mean)

	sum := Summarize(recs, SLO{})
	assert.Equal(t, requests, sum.Requests, "warmup excluded")
	assert.Equal(t, requests, sum.Completed)
	assert.Greater(t, sum.OutputTokens, 5*requests)
	for i, r := range recs {
		assert.Equal(t, i, r.Index)
		assert.Equal(t, i < warmup, r.Warmup)
	}
}

// Cancelling stops the loop without waiting for the requests in flight:
// the server sees each of them cut off, none finished, and no request
// after them.
func TestClosedLoopStopsOnCancel(t *testing.T) {
	srv := newStreamServer(t, 10*ms, 10*ms, 1000) // 10 s per request
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m"}, 4)
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*ms)
	defer cancel()
	recs, err := ClosedLoop{Concurrency: 4, Requests: 100}.Run(ctx, c, func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 1000} }, nil)
	assert.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, recs, 4, "only the 4 requests in flight were started")
	for _, r := range recs {
		assert.Equal(t, KindCanceled, r.ErrorKind)
	}
	assert.Eventually(t, func() bool { return srv.cut.Load() == 4 }, 10*time.Second, ms, "the server saw all 4 cut off")
	assert.Zero(t, srv.finished.Load(), "no request ran to its end")
	sum := Summarize(recs, SLO{})
	assert.Equal(t, 4, sum.Canceled)
	assert.Equal(t, 0, sum.Failed, "canceled requests are not the server's errors")
}

func TestClosedLoopValidate(t *testing.T) {
	_, err := ClosedLoop{Concurrency: 0, Requests: 1}.Run(context.Background(), nil, nil, nil)
	assert.ErrorContains(t, err, "concurrency 0")
	_, err = ClosedLoop{Concurrency: 1}.Run(context.Background(), nil, nil, nil)
	assert.ErrorContains(t, err, "requests 0")
}

// Connections are reused: a closed loop at concurrency C opens C of them,
// however many requests it sends (a cold dial would add its time to TTFT).
func TestClosedLoopReusesConnections(t *testing.T) {
	s := &streamServer{tokens: 5}
	var conns atomic.Int64
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.Server.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	defer s.Close()
	c, err := NewClient(Target{BaseURL: s.URL, Model: "m", IncludeUsage: true}, 8)
	require.NoError(t, err)
	defer c.Close()
	recs, err := ClosedLoop{Concurrency: 8, Requests: 400}.Run(context.Background(), c,
		func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 5} }, nil)
	require.NoError(t, err)
	require.Equal(t, 400, Summarize(recs, SLO{}).Completed)
	assert.LessOrEqual(t, conns.Load(), int64(10), "connections opened for 400 requests at concurrency 8")
}

// stallServer answers every request with its response headers and then
// nothing, until the client goes away; it counts the requests it got.
type stallServer struct {
	*httptest.Server
	arrived atomic.Int64
}

func newStallServer(t testing.TB) *stallServer {
	s := &stallServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.arrived.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(s.Close)
	return s
}

// A server that sends headers and then nothing: each request waits out
// the stall timeout, so without the give-up rule 20 requests at
// concurrency 4 would take 5 stall timeouts (24 with the warmup: 6). The
// first 4 to finish all stall, so the loop stops there, having sent at
// most 2 × 4 requests (each worker sends its next one as its first
// fails), and says why.
func TestClosedLoopGivesUpWhenTheFirstRequestsAllStall(t *testing.T) {
	const stall = time.Second
	srv := newStallServer(t)
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m"}, 4, WithStallTimeout(stall))
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	recs, err := ClosedLoop{Concurrency: 4, Warmup: 4, Requests: 20}.Run(context.Background(), c,
		func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 8} }, nil)
	took := time.Since(start)
	require.ErrorIs(t, err, ErrHopeless)
	var h *HopelessError
	require.ErrorAs(t, err, &h)
	assert.Equal(t, HopelessError{Failed: 4, Reason: string(KindStall), Example: "no event for 1s (stall timeout)"}, *h)
	assert.Contains(t, err.Error(), "the first 4 requests to finish all failed with stall")
	assert.LessOrEqual(t, srv.arrived.Load(), int64(8), "requests the server got")
	stalls, canceled := 0, 0
	for _, r := range recs {
		switch r.ErrorKind {
		case KindStall:
			stalls++
		case KindCanceled:
			canceled++
		default:
			t.Errorf("request %d: %s %s", r.Index, r.ErrorKind, r.Error)
		}
	}
	assert.Equal(t, 4, stalls)
	assert.Equal(t, len(recs)-4, canceled, "the ones in flight when the loop gave up are canceled, not failed")
	// How long that took is the root package's acceptance test
	// (TestStalledCellStopsAndFailsTheRun); here the server's count says
	// the loop stopped after the first round.
	t.Logf("gave up after %v; the server got %d requests", took, srv.arrived.Load())
}

// The rule compares reasons: HTTP 500 and 503 are one (http 5xx); a
// single success among the first requests keeps the loop going, and a
// negative GiveUpAfter turns the rule off.
func TestGiveUpRuleReasons(t *testing.T) {
	var n atomic.Int64
	mixed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = drainBody(r)
		code := []int{500, 503}[n.Add(1)%2]
		http.Error(w, `{"message":"overloaded"}`, code)
	}))
	defer mixed.Close()
	c, err := NewClient(Target{BaseURL: mixed.URL, Model: "m"}, 3)
	require.NoError(t, err)
	defer c.Close()
	req := func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 2} }
	_, err = ClosedLoop{Concurrency: 3, Requests: 30}.Run(context.Background(), c, req, nil)
	var h *HopelessError
	require.ErrorAs(t, err, &h)
	assert.Equal(t, "http 5xx", h.Reason)
	assert.Equal(t, 3, h.Failed)
	assert.Less(t, n.Load(), int64(30), "stopped before sending every request")

	n.Store(0)
	recs, err := ClosedLoop{Concurrency: 3, Requests: 30, GiveUpAfter: -1}.Run(context.Background(), c, req, nil)
	require.NoError(t, err)
	assert.Len(t, recs, 30, "the rule is off")

	// Every second request succeeds (one at a time, so in this order):
	// the first two to finish are not all failures, and every request runs.
	srv := newStreamServer(t, 0, 0, 2)
	var k atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k.Add(1)%2 == 1 {
			_, _ = drainBody(r)
			http.Error(w, "no", 500)
			return
		}
		srv.handle(w, r)
	}))
	defer flaky.Close()
	fc, err := NewClient(Target{BaseURL: flaky.URL, Model: "m", IncludeUsage: true}, 1)
	require.NoError(t, err)
	defer fc.Close()
	recs, err = ClosedLoop{Concurrency: 1, Requests: 10}.Run(context.Background(), fc, req, nil)
	require.NoError(t, err)
	s := Summarize(recs, SLO{})
	assert.Equal(t, 10, s.Requests)
	assert.Equal(t, 5, s.Completed)
}
