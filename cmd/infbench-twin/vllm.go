package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/infbench/infbench/engines/sim"
)

// vLLM v0.12.0 (vllm/vllm-openai:v0.12.0): the image's entrypoint is
// `vllm serve`, so the container runs `vllm serve <args>`.
// vllm/entrypoints/cli/main.py builds a FlexibleArgumentParser "vllm"
// with subcommands; serve's usage is "vllm serve [model_tag] [options]"
// (vllm/entrypoints/cli/serve.py). FlexibleArgumentParser.parse_args
// rewrites "--foo_bar" to "--foo-bar" (the part before any "=" or ".") and
// moves "--model X" to the positional model_tag
// (vllm/utils/argparse_utils.py). An unknown flag is collected by the serve
// subparser and rejected by the top-level parser: its usage, then
// "vllm: error: unrecognized arguments: ...", exit 2. A bad value is
// rejected by the serve subparser ("usage: vllm serve [model_tag]
// [options]", "vllm serve: error: argument ...").
// docs/engine-facts.md, vLLM, "Command line".

const (
	vllmVersion = "0.12.0"
	// The top-level usage: argparse's, with the subcommand list of the
	// Red Hat AI Inference Server 3.x docs (vLLM 0.10/0.11), not read
	// from the v0.12.0 source (docs/engine-facts.md).
	vllmTopUsage = "vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ..."
)

// vllmFlags is `vllm serve`'s flag list. THE LIST IS PARTIAL: the serve
// group and FrontendArgs are as docs.vllm.ai/en/v0.12.0/cli/serve/ and the
// v0.12-era vllm/entrypoints/openai/cli_args.py list them
// (docs/engine-facts.md); the engine flags, generated from about fifteen
// config dataclasses by EngineArgs.add_cli_args, were not enumerated at
// the pin: these are every flag testdata/engines.yaml passes and their
// documented neighbours (ModelConfig, CacheConfig, SchedulerConfig,
// ParallelConfig, LoadConfig). A real flag missing here fails the twin
// and not vLLM; an abbreviation unique here may be ambiguous in vLLM.
// vLLM's boolean dataclass fields are BooleanOptionalAction (--x and
// --no-x).
var vllmFlags = []*opt{
	// serve subcommand (vllm/entrypoints/cli/serve.py)
	{names: []string{"--headless"}, kind: kBoolOpt},
	{names: []string{"--api-server-count", "-asc"}, typ: "int"},
	{names: []string{"--config"}},
	{names: []string{"--disable-log-stats"}, kind: kTrue},
	{names: []string{"--aggregate-engine-logging"}, kind: kTrue},
	{names: []string{"--enable-log-requests"}, kind: kBoolOpt},
	{names: []string{"--disable-log-requests"}, kind: kBoolOpt},
	// FrontendArgs (vllm/entrypoints/openai/cli_args.py)
	{names: []string{"--host"}},
	{names: []string{"--port"}, typ: "int"},
	{names: []string{"--uds"}},
	{names: []string{"--uvicorn-log-level"}, choices: []string{"critical", "debug", "error", "info", "trace", "warning"}},
	{names: []string{"--disable-uvicorn-access-log"}, kind: kBoolOpt},
	{names: []string{"--allow-credentials"}, kind: kBoolOpt},
	{names: []string{"--allowed-origins"}},
	{names: []string{"--allowed-methods"}},
	{names: []string{"--allowed-headers"}},
	{names: []string{"--api-key"}, kind: kValues},
	{names: []string{"--lora-modules"}, kind: kValues},
	{names: []string{"--chat-template"}},
	{names: []string{"--chat-template-content-format"}, choices: []string{"auto", "string", "openai"}},
	{names: []string{"--trust-request-chat-template"}, kind: kBoolOpt},
	{names: []string{"--response-role"}},
	{names: []string{"--ssl-keyfile"}},
	{names: []string{"--ssl-certfile"}},
	{names: []string{"--ssl-ca-certs"}},
	{names: []string{"--enable-ssl-refresh"}, kind: kBoolOpt},
	{names: []string{"--ssl-cert-reqs"}, typ: "int"},
	{names: []string{"--root-path"}},
	{names: []string{"--middleware"}, kind: kValues},
	{names: []string{"--return-tokens-as-token-ids"}, kind: kBoolOpt},
	{names: []string{"--disable-frontend-multiprocessing"}, kind: kBoolOpt},
	{names: []string{"--enable-request-id-headers"}, kind: kBoolOpt},
	{names: []string{"--enable-auto-tool-choice"}, kind: kBoolOpt},
	{names: []string{"--exclude-tools-when-tool-choice-none"}, kind: kBoolOpt},
	{names: []string{"--tool-call-parser"}},
	{names: []string{"--tool-parser-plugin"}},
	{names: []string{"--tool-server"}},
	{names: []string{"--log-config-file"}},
	{names: []string{"--max-log-len"}, typ: "int"},
	{names: []string{"--disable-fastapi-docs"}, kind: kBoolOpt},
	{names: []string{"--enable-prompt-tokens-details"}, kind: kBoolOpt},
	{names: []string{"--enable-server-load-tracking"}, kind: kBoolOpt},
	{names: []string{"--enable-force-include-usage"}, kind: kBoolOpt},
	{names: []string{"--enable-tokenizer-info-endpoint"}, kind: kBoolOpt},
	{names: []string{"--enable-log-outputs"}, kind: kBoolOpt},
	{names: []string{"--h11-max-incomplete-event-size"}, typ: "int"},
	{names: []string{"--h11-max-header-count"}, typ: "int"},
	{names: []string{"--log-error-stack"}, kind: kBoolOpt},
	{names: []string{"--tokens-only"}, kind: kBoolOpt},
	// ModelConfig
	{names: []string{"--runner"}},
	{names: []string{"--convert"}},
	{names: []string{"--tokenizer"}},
	{names: []string{"--tokenizer-mode"}},
	{names: []string{"--trust-remote-code"}, kind: kBoolOpt},
	{names: []string{"--dtype"}},
	{names: []string{"--seed"}, typ: "int"},
	{names: []string{"--hf-config-path"}},
	{names: []string{"--revision"}},
	{names: []string{"--code-revision"}},
	{names: []string{"--tokenizer-revision"}},
	{names: []string{"--max-model-len"}},
	{names: []string{"--quantization", "-q"}},
	{names: []string{"--enforce-eager"}, kind: kBoolOpt},
	{names: []string{"--max-logprobs"}, typ: "int"},
	{names: []string{"--disable-sliding-window"}, kind: kBoolOpt},
	{names: []string{"--disable-cascade-attn"}, kind: kBoolOpt},
	{names: []string{"--skip-tokenizer-init"}, kind: kBoolOpt},
	{names: []string{"--served-model-name"}, kind: kValues},
	{names: []string{"--hf-token"}},
	{names: []string{"--hf-overrides"}},
	{names: []string{"--generation-config"}},
	{names: []string{"--override-generation-config"}},
	{names: []string{"--enable-sleep-mode"}, kind: kBoolOpt},
	{names: []string{"--model-impl"}},
	// LoadConfig
	{names: []string{"--load-format"}},
	{names: []string{"--download-dir"}},
	{names: []string{"--ignore-patterns"}, kind: kValues},
	// ParallelConfig
	{names: []string{"--distributed-executor-backend"}},
	{names: []string{"--pipeline-parallel-size", "-pp"}, typ: "int"},
	{names: []string{"--tensor-parallel-size", "-tp"}, typ: "int"},
	{names: []string{"--data-parallel-size", "-dp"}, typ: "int"},
	{names: []string{"--enable-expert-parallel"}, kind: kBoolOpt},
	{names: []string{"--max-parallel-loading-workers"}, typ: "int"},
	{names: []string{"--disable-custom-all-reduce"}, kind: kBoolOpt},
	// CacheConfig; --kv-cache-dtype's choices are CacheDType at about
	// v0.11-v0.12 (vllm/config/cache.py), not re-read at the pin.
	{names: []string{"--block-size"}, typ: "int"},
	{names: []string{"--gpu-memory-utilization"}, typ: "float"},
	{names: []string{"--kv-cache-memory-bytes"}},
	{names: []string{"--swap-space"}, typ: "float"},
	{names: []string{"--kv-cache-dtype"}, choices: []string{"auto", "bfloat16", "fp8", "fp8_ds_mla", "fp8_e4m3", "fp8_e5m2", "fp8_inc"}},
	{names: []string{"--num-gpu-blocks-override"}, typ: "int"},
	{names: []string{"--enable-prefix-caching"}, kind: kBoolOpt},
	{names: []string{"--prefix-caching-hash-algo"}},
	{names: []string{"--cpu-offload-gb"}, typ: "float"},
	{names: []string{"--calculate-kv-scales"}, kind: kBoolOpt},
	// MultiModalConfig, LoRAConfig, ObservabilityConfig
	{names: []string{"--limit-mm-per-prompt"}},
	{names: []string{"--enable-lora"}, kind: kBoolOpt},
	{names: []string{"--max-loras"}, typ: "int"},
	{names: []string{"--max-lora-rank"}, typ: "int"},
	{names: []string{"--show-hidden-metrics-for-version"}},
	{names: []string{"--otlp-traces-endpoint"}},
	// SchedulerConfig
	{names: []string{"--max-num-batched-tokens"}},
	{names: []string{"--max-num-seqs"}, typ: "int"},
	{names: []string{"--max-num-partial-prefills"}, typ: "int"},
	{names: []string{"--max-long-partial-prefills"}, typ: "int"},
	{names: []string{"--long-prefill-token-threshold"}, typ: "int"},
	{names: []string{"--scheduling-policy"}, choices: []string{"fcfs", "priority"}},
	{names: []string{"--enable-chunked-prefill"}, kind: kBoolOpt},
	{names: []string{"--async-scheduling"}, kind: kBoolOpt},
	// VllmConfig's JSON-valued configs
	{names: []string{"--compilation-config", "-O"}},
	{names: []string{"--speculative-config"}},
	{names: []string{"--kv-transfer-config"}},
	{names: []string{"--structured-outputs-config"}},
	{names: []string{"--additional-config"}},
}

// vllmDefaultModel is ModelConfig.model's default, served when no
// model_tag is given (about v0.10 onwards).
const vllmDefaultModel = "Qwen/Qwen3-0.6B"

// parseVLLM parses `vllm <args>` (args[0] the subcommand).
func parseVLLM(args []string, stderr io.Writer) (twinConfig, int) {
	top := &argParser{prog: "vllm", usage: vllmTopUsage}
	if len(args) == 0 || args[0] != "serve" {
		if len(args) == 0 {
			fmt.Fprint(stderr, top.formatUsage())
			return twinConfig{}, 1 // vllm/entrypoints/cli/main.py: print_help, no subcommand
		}
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(os.Stdout, top.formatUsage())
			return twinConfig{}, 0
		}
		return twinConfig{}, fail(stderr, top.formatUsage(), "vllm", &argError{fmt.Sprintf(
			"argument subparser: invalid choice: %s (choose from 'chat', 'complete', 'serve', 'bench', 'collect-env', 'run-batch'; the twin runs serve only)", pyRepr(args[0]))})
	}
	serve := &argParser{prog: "vllm serve", usage: "vllm serve [model_tag] [options]", opts: vllmFlags, positional: "model_tag"}
	rest := flexible(args[1:], stderr)
	for _, a := range rest {
		if a == "-h" || a == "--help" {
			fmt.Fprint(os.Stdout, serve.formatUsage())
			return twinConfig{}, 0
		}
	}
	p, err := serve.parse(rest)
	if err != nil {
		return twinConfig{}, fail(stderr, serve.formatUsage(), "vllm serve", err)
	}
	if len(p.extras) > 0 {
		return twinConfig{}, fail(stderr, top.formatUsage(), "vllm", &argError{"unrecognized arguments: " + strings.Join(p.extras, " ")})
	}
	cfg := twinConfig{Personality: sim.VLLM, Engine: "vllm", Version: vllmVersion, Port: 8000, MaxBatch: 256, MaxPrefill: 8192}
	cfg.Model = vllmDefaultModel
	if m, ok := p.get("model_tag"); ok {
		cfg.Model = m
	}
	cfg.Served = cfg.Model
	if names := p.values["served_model_name"]; len(names) > 0 {
		cfg.Served = names[0] // the first name is the one in responses
	}
	cfg.Host, _ = p.get("host") // default None: every interface
	if v, ok := p.get("port"); ok {
		cfg.Port, _ = strconv.Atoi(v)
	}
	if v, ok := p.get("max_num_seqs"); ok {
		cfg.MaxBatch, _ = strconv.Atoi(v)
	}
	if v, ok := p.get("max_num_batched_tokens"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			cfg.MaxPrefill = n
		}
	}
	// --enable-prefix-caching is a BooleanOptionalAction; v1 caches by
	// default, so only --no-enable-prefix-caching turns the cache off.
	v, _ := p.get("enable_prefix_caching")
	cfg.NoCache = v == "false"
	return cfg, -1
}

// flexible is FlexibleArgumentParser's rewriting: "--foo_bar[=v]" becomes
// "--foo-bar[=v]" (up to the first "."), and "--model X" / "--model=X"
// becomes the positional model_tag.
func flexible(args []string, stderr io.Writer) []string {
	var out []string
	var model []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "--") {
			key, val, hasVal := strings.Cut(a, "=")
			head, tail, dotted := strings.Cut(key, ".")
			head = "--" + strings.ReplaceAll(head[2:], "_", "-")
			key = head
			if dotted {
				key += "." + tail
			}
			a = key
			if hasVal {
				a += "=" + val
			}
			if key == "--model" {
				if hasVal {
					model = []string{val}
				} else if i+1 < len(args) {
					model = []string{args[i+1]}
					i++
				}
				fmt.Fprintln(stderr, "WARNING: With `vllm serve`, you should provide the model as a positional argument or in a config file instead of via the `--model` option. The `--model` option will be removed in a future version.")
				continue
			}
		}
		out = append(out, a)
	}
	return append(model, out...)
}
