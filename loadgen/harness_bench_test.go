package loadgen

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vllmEvent is one content chunk as vLLM frames it.
const vllmEvent = `data: {"id":"chatcmpl-0e4b7c9d2a1f43e8","object":"chat.completion.chunk","created":1764590400,"model":"meta-llama/Llama-4-Scout-17B-16E-Instruct","choices":[{"index":0,"delta":{"content":" sky"},"logprobs":null,"finish_reason":null,"token_ids":null}]}` + "\n\n"

// BenchmarkSSEEvent measures the client's own work per streamed event,
// without the socket: SSE framing, stamping (one clock read per read
// call), and ParseChunk. One op is one event.
func BenchmarkSSEEvent(b *testing.B) {
	stream := []byte(strings.Repeat(vllmEvent, 256))
	r := bytes.NewReader(stream)
	sr := NewSSEReader(r, nil)
	var c Chunk
	b.ReportAllocs()
	b.SetBytes(int64(len(vllmEvent)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := sr.Next()
		if err == io.EOF {
			r.Reset(stream)
			sr.Reset(r)
			ev, err = sr.Next()
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := ParseChunk(ev.Data, &c); err != nil || c.ContentBytes != 4 {
			b.Fatal(err, c)
		}
	}
}

// The per-event path must not allocate: at 50,000 events/s garbage would
// cost collection cycles on the CPUs the server shares.
func TestSSEEventPathDoesNotAllocate(t *testing.T) {
	stream := []byte(strings.Repeat(vllmEvent, 64))
	r := bytes.NewReader(stream)
	sr := NewSSEReader(r, nil)
	var c Chunk
	allocs := testing.AllocsPerRun(1000, func() {
		ev, err := sr.Next()
		if err == io.EOF {
			r.Reset(stream)
			sr.Reset(r)
			ev, err = sr.Next()
		}
		require.NoError(t, err)
		require.NoError(t, ParseChunk(ev.Data, &c))
	})
	assert.Zero(t, allocs)
}

// BenchmarkIngestConc1000 measures how many tokens per second the client
// ingests over loopback at concurrency 1000 from a server that streams as
// fast as it can (no delays), running in a child process so that the CPU
// reported is the client's alone. One op is one closed-loop run of 2000
// requests of 200 tokens.
func BenchmarkIngestConc1000(b *testing.B) {
	const conc, tokens = 1000, 200
	url := startServerProcess(b, 0, 0, tokens)
	c, err := NewClient(Target{BaseURL: url, Model: "m", IncludeUsage: true}, conc)
	require.NoError(b, err)
	defer c.Close()
	req := func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: tokens} }
	// Open the connections first: the figure is for steady streaming.
	if _, err := (ClosedLoop{Concurrency: conc, Requests: conc}).Run(context.Background(), c, req, nil); err != nil {
		b.Fatal(err)
	}
	var events, toks int
	var wall, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u0, s0 := cpuTimes()
		t0 := time.Now()
		recs, err := ClosedLoop{Concurrency: conc, Requests: 2 * conc}.Run(context.Background(), c, req, nil)
		wall += time.Since(t0)
		u1, s1 := cpuTimes()
		cpu += u1 - u0 + s1 - s0
		if err != nil {
			b.Fatal(err)
		}
		s := Summarize(recs, SLO{})
		if s.Failed > 0 {
			b.Fatalf("%d failed: %v", s.Failed, s.FirstErrors)
		}
		toks += s.OutputTokens
		events += len(recs) * (tokens + 3)
	}
	b.ReportMetric(float64(toks)/wall.Seconds(), "tok/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
}

// BenchmarkPacedStreams measures the client's CPU per streamed event at
// concurrency 1000 against a server in a child process that paces like an
// engine (first token after 200 ms, then one every 20 ms): each event
// arrives alone and costs a wake-up. It reports the whole client's
// cpu-ns/event, the floor that merely reading the same paced messages
// over bare TCP costs on this machine (floor-ns/event: no HTTP, SSE or
// parsing), the harness's own cost above that floor (harness-ns/event),
// and the client's lag (client-lag-p99-ns). One op is one closed-loop run
// of 1000 requests of 50 tokens. These are costs of this machine, not
// pass/fail criteria: README gives the figures with the machine they ran on.
func BenchmarkPacedStreams(b *testing.B) {
	const (
		conc   = 1000
		ttft   = 200 * time.Millisecond
		gap    = 20 * time.Millisecond
		tokens = 50
	)
	url := startServerProcess(b, ttft, gap, tokens)
	c, err := NewClient(Target{BaseURL: url, Model: "m", IncludeUsage: true}, conc)
	require.NoError(b, err)
	defer c.Close()
	req := func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: tokens} }
	// Open the connections first, spread over one request's duration.
	if _, err := (ClosedLoop{Concurrency: conc, Requests: conc, Ramp: ttft + tokens*gap}).Run(context.Background(), c, req, nil); err != nil {
		b.Fatal(err)
	}
	var (
		cpu    time.Duration
		events int
		lag99  float64
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u0, s0 := cpuTimes()
		recs, err := ClosedLoop{Concurrency: conc, Requests: conc}.Run(context.Background(), c, req, nil)
		u1, s1 := cpuTimes()
		if err != nil {
			b.Fatal(err)
		}
		s := Summarize(recs, SLO{})
		if s.Failed > 0 {
			b.Fatalf("%d failed: %v", s.Failed, s.FirstErrors)
		}
		cpu += u1 - u0 + s1 - s0
		events += len(recs) * (tokens + 3) // role, tokens, usage, [DONE]
		lag99 = max(lag99, s.ClientLag.P99)
	}
	b.StopTimer()
	perEvent := float64(cpu.Nanoseconds()) / float64(events)
	floor := float64(readFloor(b, conc, gap, tokens).Nanoseconds())
	b.ReportMetric(perEvent, "cpu-ns/event")
	b.ReportMetric(floor, "floor-ns/event")
	b.ReportMetric(perEvent-floor, "harness-ns/event")
	b.ReportMetric(lag99, "client-lag-p99-ns")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkStreamMemory measures the client's memory per open stream: 1000
// requests held open by a server in a child process (the first token after
// 3 s), sampled 2 s after they were sent — heap and goroutine stacks in
// use, over the same figures before the streams opened. One op is one run.
func BenchmarkStreamMemory(b *testing.B) {
	const conc = 1000
	url := startServerProcess(b, 3*time.Second, time.Millisecond, 4)
	c, err := NewClient(Target{BaseURL: url, Model: "m", IncludeUsage: true}, conc)
	require.NoError(b, err)
	defer c.Close()
	req := func(context.Context, int) Request { return Request{Prompt: "p", MaxTokens: 4} }
	inUse := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	var perStream float64
	for i := 0; i < b.N; i++ {
		before := inUse()
		done := make(chan error, 1)
		go func() {
			_, err := ClosedLoop{Concurrency: conc, Requests: conc}.Run(context.Background(), c, req, nil)
			done <- err
		}()
		time.Sleep(2 * time.Second)
		perStream = max(perStream, float64(int64(inUse())-int64(before))/conc)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perStream, "B/stream")
	b.ReportMetric(0, "ns/op")
}
