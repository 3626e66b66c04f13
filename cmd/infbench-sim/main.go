// Command infbench-sim serves the simulated engine (package engines/sim)
// over HTTP: the OpenAI-compatible streaming API, /health, /metrics,
// /tokenize and /version. It is what the container path runs in tests without a GPU,
// built static (CGO_ENABLED=0) into a FROM scratch image.
//
//	infbench-sim -addr :8000 -model sim-llama-4-scout -ready-after 5s
//
// -ready-after makes it behave like a real engine loading its weights: the
// port is open at once but /health and generation answer 503 until then.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/infbench/infbench/engines/sim"
)

// version is reported by GET /version.
const version = "infbench-sim 1"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "infbench-sim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("infbench-sim", flag.ContinueOnError)
	addr := fs.String("addr", ":8000", "listen address")
	model := fs.String("model", "sim", "served model name")
	maxBatch := fs.Int("max-batch", 256, "sequences in the running batch")
	maxPrefill := fs.Int("max-prefill", 8192, "prompt tokens prefilled per step")
	prefixCache := fs.Int("prefix-cache-tokens", 0, "prefix cache capacity in tokens (0: 1<<20; negative: off)")
	readyAfter := fs.Duration("ready-after", 0, "answer 503 to /health and generation until this long after start")
	def := sim.DefaultTiming()
	stepBase := fs.Duration("step-base", def.Base, "fixed cost of a step")
	perSeq := fs.Duration("per-sequence", def.PerSeq, "cost per decoding sequence in a step")
	perPrefill := fs.Duration("per-prefill-token", def.PerPrefill, "cost per prompt token prefilled")
	perContext := fs.Duration("per-context-token", def.PerContext, "cost per context token attended to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	timing := sim.Linear{Base: *stepBase, PerSeq: *perSeq, PerPrefill: *perPrefill, PerContext: *perContext}
	if err := timing.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := sim.New(sim.Config{Model: *model, MaxBatch: *maxBatch, MaxPrefill: *maxPrefill, Timing: timing, PrefixCacheTokens: *prefixCache})
	go srv.Run(ctx)
	ready := time.Now().Add(*readyAfter)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Printf("infbench-sim: serving model %q on %s (ready after %v)\n", *model, ln.Addr(), *readyAfter)
	return sim.Serve(ctx, ln, handler(srv, ready), func() { fmt.Println("infbench-sim: shutting down") })
}

// handler adds /version and the loading phase in front of the simulator.
func handler(srv http.Handler, ready time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"version": version})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		loading := r.URL.Path == "/health" || r.URL.Path == "/tokenize" || strings.HasPrefix(r.URL.Path, "/v1/")
		if loading && time.Now().Before(ready) {
			http.Error(w, `{"error": {"message": "model is loading"}}`, http.StatusServiceUnavailable)
			return
		}
		srv.ServeHTTP(w, r)
	})
	return mux
}
