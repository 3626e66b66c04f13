package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/infbench/infbench/engines/sim"
)

// SGLang v0.5.6.post2 (lmsysorg/sglang:v0.5.6.post2-cu129-amd64-runtime):
// the spec runs `python3 -m sglang.launch_server <args>`. launch_server.py
// calls ServerArgs.add_cli_args on a plain argparse.ArgumentParser, so the
// prog is the module's file name, launch_server.py, an unknown flag is
// "launch_server.py: error: unrecognized arguments: ..." after the
// generated usage, exit 2, and only the dash spellings SGLang registers
// are accepted (no underscore rewriting: --model_path is unknown).
// docs/engine-facts.md, SGLang, "Command line".

const sglangVersion = "0.5.6.post2"

// sglangFlags is launch_server's flag list. THE LIST IS PARTIAL: the full
// v0.5.6.post2 python/sglang/srt/server_args.py could not be read (the
// stored copy is a 2026 rewrite); these are every flag
// testdata/engines.yaml passes and their long-standing neighbours in
// ServerArgs.add_cli_args (model and tokenizer, HTTP server, memory and
// scheduling, parallelism, logging, kernel backends). A real flag missing
// here fails the twin and not SGLang. --kv-cache-dtype's and
// --attention-backend's choices are the sets docs/engine-facts.md says
// are present at the pin (the latter with those it says are probable).
var sglangFlags = []*opt{
	// Model and tokenizer
	{names: []string{"--model-path", "--model"}, required: true},
	{names: []string{"--tokenizer-path"}},
	{names: []string{"--tokenizer-mode"}, choices: []string{"auto", "slow"}},
	{names: []string{"--skip-tokenizer-init"}, kind: kTrue},
	{names: []string{"--load-format"}},
	{names: []string{"--trust-remote-code"}, kind: kTrue},
	{names: []string{"--context-length"}, typ: "int"},
	{names: []string{"--is-embedding"}, kind: kTrue},
	{names: []string{"--revision"}},
	{names: []string{"--served-model-name"}},
	{names: []string{"--chat-template"}},
	{names: []string{"--dtype"}},
	{names: []string{"--quantization"}},
	{names: []string{"--kv-cache-dtype"}, choices: []string{"auto", "fp8_e5m2", "fp8_e4m3"}},
	{names: []string{"--download-dir"}},
	// HTTP server
	{names: []string{"--host"}},
	{names: []string{"--port"}, typ: "int"},
	{names: []string{"--skip-server-warmup"}, kind: kTrue},
	{names: []string{"--warmups"}},
	{names: []string{"--nccl-port"}, typ: "int"},
	{names: []string{"--api-key"}},
	// Memory and scheduling
	{names: []string{"--mem-fraction-static"}, typ: "float"},
	{names: []string{"--max-running-requests"}, typ: "int"},
	{names: []string{"--max-queued-requests"}, typ: "int"},
	{names: []string{"--max-total-tokens"}, typ: "int"},
	{names: []string{"--chunked-prefill-size"}, typ: "int"},
	{names: []string{"--max-prefill-tokens"}, typ: "int"},
	{names: []string{"--schedule-policy"}},
	{names: []string{"--schedule-conservativeness"}, typ: "float"},
	{names: []string{"--page-size"}, typ: "int"},
	{names: []string{"--disable-radix-cache"}, kind: kTrue},
	{names: []string{"--enable-mixed-chunk"}, kind: kTrue},
	// Parallelism
	{names: []string{"--tensor-parallel-size", "--tp-size"}, typ: "int"},
	{names: []string{"--pipeline-parallel-size", "--pp-size"}, typ: "int"},
	{names: []string{"--data-parallel-size", "--dp-size"}, typ: "int"},
	{names: []string{"--expert-parallel-size", "--ep-size"}, typ: "int"},
	{names: []string{"--enable-dp-attention"}, kind: kTrue},
	{names: []string{"--base-gpu-id"}, typ: "int"},
	{names: []string{"--device"}},
	{names: []string{"--random-seed"}, typ: "int"},
	{names: []string{"--stream-interval"}, typ: "int"},
	{names: []string{"--stream-output"}, kind: kTrue},
	{names: []string{"--watchdog-timeout"}, typ: "float"},
	// Logging and metrics
	{names: []string{"--log-level"}},
	{names: []string{"--log-level-http"}},
	{names: []string{"--log-requests"}, kind: kTrue},
	{names: []string{"--log-requests-level"}, typ: "int"},
	{names: []string{"--show-time-cost"}, kind: kTrue},
	{names: []string{"--enable-metrics"}, kind: kTrue},
	{names: []string{"--enable-metrics-for-all-schedulers"}, kind: kTrue},
	{names: []string{"--decode-log-interval"}, typ: "int"},
	{names: []string{"--enable-cache-report"}, kind: kTrue},
	// Parsers and kernel backends
	{names: []string{"--reasoning-parser"}},
	{names: []string{"--tool-call-parser"}},
	{names: []string{"--attention-backend"}, choices: []string{"triton", "torch_native", "flex_attention", "nsa", "cutlass_mla",
		"fa3", "fa4", "flashinfer", "flashmla", "trtllm_mla", "trtllm_mha", "dual_chunk_flash_attn", "aiter", "wave",
		"intel_amx", "ascend", "intel_xpu"}},
	{names: []string{"--sampling-backend"}},
	{names: []string{"--grammar-backend"}},
	{names: []string{"--disable-cuda-graph"}, kind: kTrue},
	{names: []string{"--cuda-graph-max-bs"}, typ: "int"},
	{names: []string{"--enable-torch-compile"}, kind: kTrue},
	{names: []string{"--speculative-algorithm"}},
}

// parseSGLang parses `python3 -m sglang.launch_server <args>` (args
// without the interpreter's "-m sglang.launch_server").
func parseSGLang(args []string, stderr io.Writer) (twinConfig, int) {
	p := &argParser{prog: "launch_server.py", opts: sglangFlags}
	for _, a := range args {
		if a == "-h" || a == "--help" {
			fmt.Fprint(os.Stdout, p.formatUsage())
			return twinConfig{}, 0
		}
	}
	res, err := p.parse(args)
	if err == nil && len(res.extras) > 0 {
		err = &argError{"unrecognized arguments: " + joinArgs(res.extras)}
	}
	if err != nil {
		return twinConfig{}, fail(stderr, p.formatUsage(), p.prog, err)
	}
	// ServerArgs defaults: host 127.0.0.1, port 30000; served_model_name
	// defaults to model_path; max_running_requests is sized from memory
	// when unset (256 here).
	cfg := twinConfig{Personality: sim.SGLang, Engine: "sglang", Version: sglangVersion, Host: "127.0.0.1", Port: 30000,
		MaxBatch: 256, MaxPrefill: 8192}
	cfg.Model, _ = res.get("model_path")
	cfg.Served = cfg.Model
	if v, ok := res.get("served_model_name"); ok {
		cfg.Served = v
	}
	if v, ok := res.get("host"); ok {
		cfg.Host = v
	}
	if v, ok := res.get("port"); ok {
		cfg.Port, _ = strconv.Atoi(v)
	}
	if v, ok := res.get("max_running_requests"); ok {
		cfg.MaxBatch, _ = strconv.Atoi(v)
	}
	if v, ok := res.get("chunked_prefill_size"); ok {
		if n, _ := strconv.Atoi(v); n > 0 {
			cfg.MaxPrefill = n
		}
	}
	_, cfg.Metrics = res.get("enable_metrics")
	_, cfg.NoCache = res.get("disable_radix_cache") // RadixAttention off
	return cfg, -1
}
