// Command infbench-twin is a twin of vLLM, SGLang or TensorRT-LLM for the
// container path's tests without a GPU: installed at the real image's
// entrypoint path (vllm, python3, trtllm-serve), it parses the command
// line as that engine's entrypoint does at the version
// testdata/engines.yaml pins, rejecting an unknown or misspelled flag
// with the engine's own usage and error message and exit status 2, and
// then serves the simulator (engines/sim) with that engine's personality,
// model name, address and batch size.
//
// It dispatches on the name it is run as (argv[0]):
//
//	vllm serve <model> [options]                 vLLM's image entrypoint
//	python3 -m sglang.launch_server [options]    SGLang's
//	trtllm-serve <model> [options]               TensorRT-LLM's
//
// or, run as infbench-twin, on its first argument (infbench-twin vllm
// serve …).
//
// It is a binary of its own, not a mode of cmd/infbench-sim: infbench-sim
// has a Go flag command line that its tests and images rely on
// (-no-such-flag fails with Go's message), while a twin must accept
// exactly the engine's command line and nothing else, as the engine
// would; one binary serving both would have to guess which grammar an
// argument list is in.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/infbench/infbench/engines/sim"
)

// twinConfig is what a twin's command line asks for.
type twinConfig struct {
	Personality sim.Personality
	Engine      string // vllm, sglang, trtllm
	Version     string // the pinned version the twin reproduces
	Model       string // the model argument (checkpoint or path)
	Served      string // the name requests must give and responses carry
	Host        string // "" is every interface
	Port        int
	MaxBatch    int
	MaxPrefill  int
	Metrics     bool   // SGLang: --enable-metrics
	KVDtype     string // TensorRT-LLM: kv_cache_config.dtype from --extra_llm_api_options
	NoCache     bool   // prefix caching off: vLLM --no-enable-prefix-caching, SGLang --disable-radix-cache
}

func main() {
	cfg, code := parseCommand(os.Args[0], os.Args[1:], os.Stderr)
	if code >= 0 {
		os.Exit(code)
	}
	if err := serve(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "infbench-twin (%s): %v\n", cfg.Engine, err)
		os.Exit(1)
	}
}

// parseCommand parses a command line; a code ≥ 0 means exit with it
// (after a usage error or --help), -1 means serve cfg.
func parseCommand(argv0 string, args []string, stderr io.Writer) (twinConfig, int) {
	name := filepath.Base(argv0)
	if name == "infbench-twin" {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "usage: infbench-twin {vllm|python3|trtllm-serve} <the engine's arguments>")
			return twinConfig{}, 2
		}
		name, args = args[0], args[1:]
	}
	switch {
	case name == "vllm":
		return parseVLLM(args, stderr)
	case name == "trtllm-serve":
		return parseTRTLLM(args, stderr)
	case strings.HasPrefix(name, "python"):
		// python3 -m sglang.launch_server …; -m's argument may be attached.
		var module string
		switch {
		case len(args) >= 2 && args[0] == "-m":
			module, args = args[1], args[2:]
		case len(args) >= 1 && strings.HasPrefix(args[0], "-m") && len(args[0]) > 2:
			module, args = args[0][2:], args[1:]
		default:
			fmt.Fprintf(stderr, "infbench-twin: %s %s: the twin runs only python3 -m sglang.launch_server\n", name, strings.Join(args, " "))
			return twinConfig{}, 2
		}
		if module != "sglang.launch_server" {
			// What CPython says for a module it cannot find.
			fmt.Fprintf(stderr, "/usr/bin/%s: No module named %s\n", name, module)
			return twinConfig{}, 1
		}
		return parseSGLang(args, stderr)
	}
	fmt.Fprintf(stderr, "infbench-twin: run as %q: install it as vllm, python3 or trtllm-serve\n", name)
	return twinConfig{}, 2
}

// serve runs the simulator with the twin's personality until SIGINT or
// SIGTERM.
func serve(cfg twinConfig) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := sim.New(simConfig(cfg))
	go srv.Run(ctx)
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	fmt.Printf("infbench-twin: %s %s twin serving model %q (from %q) on %s, max batch %d\n",
		cfg.Engine, cfg.Version, cfg.Served, cfg.Model, ln.Addr(), cfg.MaxBatch)
	if cfg.KVDtype != "" {
		fmt.Printf("infbench-twin: kv_cache_config.dtype %s (from --extra_llm_api_options)\n", cfg.KVDtype)
	}
	return sim.Serve(ctx, ln, srv, func() { fmt.Println("infbench-twin: shutting down") })
}

// simConfig is the simulator the command line asks for: the engine's
// personality (engines/sim serves its routes, validation, stream shape
// and metric names), the served model, the batch limits, whether prefix
// caching is off, and whether the engine would serve Prometheus metrics
// (SGLang only with --enable-metrics: http_server.py's
// add_prometheus_middleware).
func simConfig(cfg twinConfig) sim.Config {
	c := sim.Config{Model: cfg.Served, MaxBatch: cfg.MaxBatch, MaxPrefill: cfg.MaxPrefill,
		Personality: cfg.Personality, EnableMetrics: cfg.Metrics}
	if cfg.NoCache {
		c.PrefixCacheTokens = -1
	}
	return c
}
