package loadgen_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/loadgen"
)

// A closed loop at concurrency 4 against the simulated engine: 4 warmup
// requests, then 12 measured ones, each asking for 16 tokens with
// ignore_eos. Summarize leaves the warmup out.
func ExampleClosedLoop() {
	l, err := sim.Listen(context.Background(), "127.0.0.1:0",
		sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: l.URL, Model: "m", IgnoreEOS: true, IncludeUsage: true}, 4)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	loop := loadgen.ClosedLoop{Concurrency: 4, Warmup: 4, Requests: 12}
	recs, err := loop.Run(context.Background(), c, func(_ context.Context, i int) loadgen.Request {
		return loadgen.Request{Prompt: fmt.Sprintf("request %d: say something", i), MaxTokens: 16}
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	s := loadgen.Summarize(recs, loadgen.SLO{})
	fmt.Println("records:", len(recs), "measured:", s.Requests, "completed:", s.Completed)
	fmt.Println("output tokens:", s.OutputTokens, "from", s.TokenSource, "peak in flight:", s.PeakInFlight)
	fmt.Println("TTFT samples:", s.TTFT.N, "TPOT samples:", s.TPOT.N, "ITL samples:", s.ITL.N)
	// Output:
	// records: 16 measured: 12 completed: 12
	// output tokens: 192 from usage peak in flight: 4
	// TTFT samples: 12 TPOT samples: 12 ITL samples: 180
}

// Summarize applies the definitions of the package documentation to
// plain records: here two requests of 5 tokens, one event per token, sent
// 100 ms apart, and one that failed.
func ExampleSummarize() {
	req := func(sent, ttft, gap time.Duration) loadgen.Record {
		r := loadgen.Record{Sent: sent, MaxTokens: 5, OutputTokens: 5, PromptTokens: 10,
			TokenSource: loadgen.TokensFromUsage, ITLSource: loadgen.ITLOnePerEvent}
		for i := range 5 {
			r.Events = append(r.Events, loadgen.Event{At: ttft + time.Duration(i)*gap, Tokens: 1, Bytes: 4})
		}
		r.TTFT, r.E2E = r.Events[0].At, r.Events[4].At
		r.End = r.E2E + time.Millisecond // [DONE]
		return r
	}
	recs := []loadgen.Record{
		req(0, 100*time.Millisecond, 10*time.Millisecond),
		req(100*time.Millisecond, 200*time.Millisecond, 20*time.Millisecond),
		{Sent: 200 * time.Millisecond, End: time.Second, ErrorKind: loadgen.KindStall, Error: "no event for 1s"},
	}
	s := loadgen.Summarize(recs, loadgen.SLO{TTFT: 150 * time.Millisecond})
	fmt.Printf("TTFT p50 %v, TPOT p50 %v, E2E p50 %v\n", time.Duration(s.TTFT.P50), time.Duration(s.TPOT.P50), time.Duration(s.E2E.P50))
	fmt.Printf("duration %v: %.0f tok/s, %.0f total tok/s, goodput %.2f req/s\n", s.Duration, s.OutputTokPerSec, *s.TotalTokPerSec, s.GoodputReqPerS)
	fmt.Printf("error rate %.3f: %s\n", s.ErrorRate, s.ErrorList())
	// Output:
	// TTFT p50 150ms, TPOT p50 15ms, E2E p50 210ms
	// duration 381ms: 26 tok/s, 79 total tok/s, goodput 2.62 req/s
	// error rate 0.333: stall 1
}
