package servermetrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Defaults of a Sampler.
const (
	DefaultInterval = 250 * time.Millisecond // between scrapes during a cell
	DefaultTimeout  = 5 * time.Second        // one scrape, connect to last byte
	maxBody         = 16 << 20               // a /metrics page larger than this is cut and fails to parse
)

// Option configures a Sampler.
type Option func(*options)

type options struct {
	interval time.Duration
	timeout  time.Duration
	client   *http.Client
}

// WithInterval sets the time between scrapes during the cell.
func WithInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithTimeout bounds each scrape.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithClient scrapes with c (its Timeout, if any, applies as well).
func WithClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// Scrape fetches url and parses it. The request is bounded by ctx only:
// give it a deadline.
func Scrape(ctx context.Context, c *http.Client, url string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	// The text format: prometheus_client answers OpenMetrics only when
	// asked for it.
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("scraping %s: HTTP %d %q (SGLang serves /metrics only with --enable-metrics, TensorRT-LLM /prometheus/metrics only with return_perf_metrics)",
			url, resp.StatusCode, body)
	}
	snap, err := Parse(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	return snap, nil
}

// Sampler scrapes one engine's metrics over one cell: once when started,
// every interval while the cell runs, and once when stopped.
type Sampler struct {
	url    string
	o      options
	before Snapshot
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	during  []Snapshot
	failed  int
	lastErr error
}

// Start takes the first scrape and starts sampling until Stop or ctx is
// done. If the first scrape fails, Start returns its error and nothing
// runs: the cell goes on without server metrics.
func Start(ctx context.Context, url string, opts ...Option) (*Sampler, error) {
	o := options{interval: DefaultInterval, timeout: DefaultTimeout, client: http.DefaultClient}
	for _, f := range opts {
		f(&o)
	}
	s := &Sampler{url: url, o: o, done: make(chan struct{})}
	before, err := s.scrape(ctx)
	if err != nil {
		return nil, err
	}
	s.before = before
	ctx, s.cancel = context.WithCancel(ctx)
	go s.loop(ctx)
	return s, nil
}

func (s *Sampler) scrape(ctx context.Context) (Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.timeout)
	defer cancel()
	return Scrape(ctx, s.o.client, s.url)
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.o.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		snap, err := s.scrape(ctx)
		if ctx.Err() != nil {
			return // stopped during the scrape: not a failure
		}
		s.mu.Lock()
		if err != nil {
			s.failed++
			s.lastErr = err
		} else {
			s.during = append(s.during, snap)
		}
		s.mu.Unlock()
	}
}

// Stop ends the sampling, takes the last scrape (bounded by ctx and the
// scrape timeout) and summarises the cell. A failed last scrape leaves
// the counters to the last sample taken during the cell.
func (s *Sampler) Stop(ctx context.Context) Cell {
	s.cancel()
	<-s.done
	after, err := s.scrape(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		s.lastErr = err
		after = nil
	}
	c := summarise(s.before, s.during, after)
	c.URL = s.url
	c.IntervalMS = s.o.interval.Milliseconds()
	c.FailedScrapes = s.failed
	if s.lastErr != nil {
		c.LastError = s.lastErr.Error()
	}
	return c
}
