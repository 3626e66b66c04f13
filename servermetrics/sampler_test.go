package servermetrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/servermetrics"
)

// served is one scrape's values as the test server sent them.
type served struct {
	running, waiting, kv, preempt, hits, queries float64
}

// changingServer serves vLLM-named metrics whose values change with every
// scrape, and keeps what it served, in order.
type changingServer struct {
	*httptest.Server
	mu   sync.Mutex
	sent []served
	more chan struct{} // a value each time a scrape has been served
}

func newChangingServer(t *testing.T) *changingServer {
	s := &changingServer{more: make(chan struct{}, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		i := float64(len(s.sent))
		v := served{running: float64(int(i*7) % 13), waiting: float64(int(i*5) % 4), kv: float64(int(i*3)%10) / 10,
			preempt: 2 * i, hits: 100 * i, queries: 400 * i}
		s.sent = append(s.sent, v)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\"} %g\n"+
			"# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{engine=\"0\"} %g\n"+
			"# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine=\"0\"} %g\n"+
			"# TYPE vllm:num_preemptions_total counter\nvllm:num_preemptions_total{engine=\"0\"} %g\n"+
			"# TYPE vllm:prefix_cache_hits_total counter\nvllm:prefix_cache_hits_total{engine=\"0\"} %g\n"+
			"# TYPE vllm:prefix_cache_queries_total counter\nvllm:prefix_cache_queries_total{engine=\"0\"} %g\n",
			v.running, v.waiting, v.kv, v.preempt, 1000+v.hits, 1000+v.queries)
		s.more <- struct{}{}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *changingServer) served() []served {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// The sampler's figures are those of the scrapes the server served: the
// first before the cell, the samples while it ran, the last after it.
// A scrape cut short by Stop is not a sample, so the samples are the
// served ones after the first, up to Scrapes of them.
func TestSamplerAgainstChangingServer(t *testing.T) {
	srv := newChangingServer(t)
	s, err := servermetrics.Start(t.Context(), srv.URL+"/metrics", servermetrics.WithInterval(time.Millisecond))
	require.NoError(t, err)
	for range 12 { // the one before and at least 11 samples
		<-srv.more
	}
	c := s.Stop(t.Context())
	sent := srv.served()
	require.GreaterOrEqual(t, c.Scrapes, 10)
	// The scrape after the cell is the one whose counter the delta ends
	// at (preemptions = 2 × the scrape's index): the one after the
	// samples, or the next if one was cut short by Stop.
	require.NotNil(t, c.Preemptions)
	after := int(*c.Preemptions / 2)
	require.Contains(t, []int{c.Scrapes + 1, c.Scrapes + 2}, after, "before + samples + (one cut short) + after")
	require.Less(t, after, len(sent))
	first, last := sent[0], sent[after]
	during := sent[1 : 1+c.Scrapes]
	seen := append(append([]served{first}, during...), last)

	stat := func(f func(served) float64, scale float64) servermetrics.Stat {
		st := servermetrics.Stat{N: len(during)}
		var sum float64
		for _, v := range during {
			sum += f(v) * scale
		}
		st.Mean = sum / float64(len(during))
		for i, v := range seen {
			if i == 0 || f(v)*scale > st.Max {
				st.Max = f(v) * scale
			}
		}
		return st
	}
	assert.Equal(t, "vllm", c.Engine)
	assert.Zero(t, c.FailedScrapes)
	assert.Equal(t, stat(func(v served) float64 { return v.running }, 1), *c.Running)
	assert.Equal(t, stat(func(v served) float64 { return v.waiting }, 1), *c.Waiting)
	kv := stat(func(v served) float64 { return v.kv }, 100)
	assert.InDelta(t, kv.Mean, c.KVUsagePct.Mean, 1e-9)
	assert.InDelta(t, kv.Max, c.KVUsagePct.Max, 1e-9)
	assert.Equal(t, last.preempt-first.preempt, *c.Preemptions)
	assert.InDelta(t, 100*(last.hits-first.hits)/(last.queries-first.queries), *c.PrefixHitPct, 1e-9)
	assert.Equal(t, "vllm:num_requests_running", c.Names[servermetrics.Running])
	assert.Equal(t, "vllm:prefix_cache_hits_total", c.Names[servermetrics.PrefixHits])
	assert.Nil(t, c.MaxBatch)

	m := c.Metrics()
	units := make([]string, len(m))
	for i := range m {
		units[i] = m[i].Unit
	}
	assert.Equal(t, []string{"server-running-max", "server-waiting-max", "kv-usage-peak-%", "preemptions", "prefix-hit-%"}, units)
}

// A server that does not answer within the scrape timeout fails Start
// with the deadline; one that answers 404 fails it with the status and
// what to enable; a scrape failing mid-cell is counted, not fatal.
func TestSamplerFailures(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	_, err := servermetrics.Start(t.Context(), hang.URL+"/metrics", servermetrics.WithTimeout(20*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), hang.URL+"/metrics")

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	_, err = servermetrics.Start(t.Context(), notFound.URL+"/metrics")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 404")
	assert.Contains(t, err.Error(), "--enable-metrics")

	// Scrapes 2 and 3 fail; once scrape 5 is served, the sampler (one
	// scrape at a time) has recorded both.
	var mu sync.Mutex
	n := 0
	fifth := make(chan struct{})
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		if i == 5 {
			close(fifth)
		}
		if i == 2 || i == 3 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "sim:num_requests_running %d\nsim:num_requests_waiting 0\n", i)
	}))
	defer flaky.Close()
	s, err := servermetrics.Start(t.Context(), flaky.URL+"/metrics", servermetrics.WithInterval(time.Millisecond))
	require.NoError(t, err)
	<-fifth
	c := s.Stop(t.Context())
	assert.Equal(t, 2, c.FailedScrapes)
	assert.Contains(t, c.LastError, "HTTP 500")
	require.NotNil(t, c.Running)
	assert.Equal(t, "sim", c.Engine)
}

// A cell shorter than the interval has no sample while it ran: its
// gauges are left out (the idle scrapes before and after would say
// nothing ran) and a note says why; its counters still count.
func TestSamplerCellShorterThanInterval(t *testing.T) {
	srv := newChangingServer(t)
	s, err := servermetrics.Start(t.Context(), srv.URL+"/metrics", servermetrics.WithInterval(time.Hour))
	require.NoError(t, err)
	c := s.Stop(t.Context())
	assert.Zero(t, c.Scrapes)
	assert.Nil(t, c.Running)
	assert.Nil(t, c.Waiting)
	assert.Nil(t, c.KVUsagePct)
	assert.NotContains(t, c.Names, servermetrics.Running)
	assert.Contains(t, c.Notes, "running: no sample while the cell ran (it was shorter than the sampling interval): left out")
	require.NotNil(t, c.Preemptions)
	assert.Equal(t, 2.0, *c.Preemptions, "one scrape apart: 2 × (1 − 0)")
	assert.False(t, c.FlagBatchLimit(100))
}
