package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/infbench/infbench/engines/sim"
)

// TensorRT-LLM 1.2.1 (nvcr.io/nvidia/tensorrt-llm/release:1.2.1): the spec
// runs `trtllm-serve <model> <args>`. tensorrt_llm/commands/serve.py's
// main is a click DefaultGroup: a first argument that is not a subcommand
// is handed to `serve`, so the usage names "trtllm-serve serve". Options
// are spelled with underscores only (click accepts only the declared
// spellings). An unknown option is click's NoSuchOption, a UsageError
// (exit 2) printed on stderr as
//
//	Usage: trtllm-serve serve [OPTIONS] MODEL
//	Try 'trtllm-serve serve --help' for help.
//
//	Error: No such option: --foo
//
// with " Did you mean --bar?" (or "(Possible options: ...)") when
// difflib.get_close_matches finds a near name (click/parser.py,
// click/exceptions.py). docs/engine-facts.md, TensorRT-LLM, "Command line".

const trtllmVersion = "1.2.1"

// clickOpt is one click option: its spellings, whether it is a flag, and
// its type.
type clickOpt struct {
	names []string
	flag  bool
	typ   string // "", "int", "float"
}

// trtllmFlags is `trtllm-serve serve`'s options, read from
// tensorrt_llm/commands/serve.py at a late-1.2 / early-1.3.0rc commit
// (00209af1, docs/engine-facts.md), not at the v1.2.1 tag: the list may
// differ slightly from 1.2.1's (--config as a spelling of
// --extra_llm_api_options may be newer). Every flag testdata/engines.yaml
// passes is in it.
var trtllmFlags = []*clickOpt{
	{names: []string{"--tokenizer"}},
	{names: []string{"--custom_tokenizer"}},
	{names: []string{"--host"}},
	{names: []string{"--port"}, typ: "int"},
	{names: []string{"--backend"}},
	{names: []string{"--custom_module_dirs"}},
	{names: []string{"--log_level"}},
	{names: []string{"--max_beam_width"}, typ: "int"},
	{names: []string{"--max_batch_size"}, typ: "int"},
	{names: []string{"--max_num_tokens"}, typ: "int"},
	{names: []string{"--max_seq_len"}, typ: "int"},
	{names: []string{"--tensor_parallel_size", "--tp_size"}, typ: "int"},
	{names: []string{"--pipeline_parallel_size", "--pp_size"}, typ: "int"},
	{names: []string{"--context_parallel_size", "--cp_size"}, typ: "int"},
	{names: []string{"--moe_expert_parallel_size", "--ep_size"}, typ: "int"},
	{names: []string{"--moe_cluster_parallel_size", "--cluster_size"}, typ: "int"},
	{names: []string{"--gpus_per_node"}, typ: "int"},
	{names: []string{"--free_gpu_memory_fraction", "--kv_cache_free_gpu_memory_fraction"}, typ: "float"},
	{names: []string{"--num_postprocess_workers"}, typ: "int"},
	{names: []string{"--trust_remote_code"}, flag: true},
	{names: []string{"--revision"}},
	{names: []string{"--config", "--extra_llm_api_options"}},
	{names: []string{"--reasoning_parser"}},
	{names: []string{"--tool_parser"}},
	{names: []string{"--metadata_server_config_file"}},
	{names: []string{"--server_role"}},
	{names: []string{"--fail_fast_on_attention_window_too_large"}, flag: true},
	{names: []string{"--otlp_traces_endpoint"}},
	{names: []string{"--disagg_cluster_uri"}},
	{names: []string{"--enable_chunked_prefill"}, flag: true},
	{names: []string{"--media_io_kwargs"}},
	{names: []string{"--chat_template"}},
	{names: []string{"--help"}, flag: true},
}

// trtllmSubcommands are the DefaultGroup's commands; the twin runs serve.
var trtllmSubcommands = []string{"serve", "grpc", "disaggregated", "disaggregated_mpi_worker", "mm_embedding_serve"}

const (
	trtllmUsage = "Usage: trtllm-serve serve [OPTIONS] MODEL\nTry 'trtllm-serve serve --help' for help.\n"
)

// clickError prints a UsageError as click's UsageError.show does and
// returns its exit status, 2.
func clickError(w io.Writer, msg string) int {
	fmt.Fprintf(w, "%s\nError: %s\n", trtllmUsage, msg)
	return 2
}

// parseTRTLLM parses `trtllm-serve <args>` as click does: options first
// matched exactly (no prefixes, no other spelling), then the arguments'
// count, then each value's type in declaration order.
func parseTRTLLM(args []string, stderr io.Writer) (twinConfig, int) {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	} else if len(args) > 0 && slices.Contains(trtllmSubcommands, args[0]) {
		fmt.Fprintf(stderr, "infbench-twin: trtllm-serve %s is not simulated: the twin runs trtllm-serve serve\n", args[0])
		return twinConfig{}, 2
	}
	long := map[string]*clickOpt{}
	var all []string
	for _, o := range trtllmFlags {
		for _, n := range o.names {
			long[n] = o
			all = append(all, n)
		}
	}
	values := map[*clickOpt]string{}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		name, explicit, hasExplicit := strings.Cut(a, "=")
		o, ok := long[name]
		if !ok {
			msg := "No such option: " + name
			if close := closeMatches(name, all, 3, 0.6); len(close) == 1 {
				msg += " Did you mean " + close[0] + "?"
			} else if len(close) > 1 {
				sort.Strings(close)
				msg += " (Possible options: " + strings.Join(close, ", ") + ")"
			}
			return twinConfig{}, clickError(stderr, msg)
		}
		if o.names[0] == "--help" {
			fmt.Fprint(os.Stdout, "Usage: trtllm-serve serve [OPTIONS] MODEL\n\n  Running an OpenAI API compatible server (infbench twin).\n")
			return twinConfig{}, 0
		}
		switch {
		case o.flag && hasExplicit:
			return twinConfig{}, clickError(stderr, fmt.Sprintf("Option '%s' does not take a value.", name))
		case o.flag:
			values[o] = "true"
		case hasExplicit:
			values[o] = explicit
		case i+1 < len(args):
			i++
			values[o] = args[i]
		default:
			return twinConfig{}, clickError(stderr, fmt.Sprintf("Option '%s' requires an argument.", name))
		}
	}
	if len(positional) == 0 {
		return twinConfig{}, clickError(stderr, "Missing argument 'MODEL'.")
	}
	if len(positional) > 1 {
		extra := positional[1:]
		word := "argument"
		if len(extra) > 1 {
			word = "arguments"
		}
		return twinConfig{}, clickError(stderr, fmt.Sprintf("Got unexpected extra %s (%s)", word, strings.Join(extra, " ")))
	}
	for _, o := range trtllmFlags {
		v, ok := values[o]
		if !ok {
			continue
		}
		var bad string
		switch o.typ {
		case "int":
			if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
				bad = "is not a valid integer."
			}
		case "float":
			if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				bad = "is not a valid float."
			}
		}
		if bad != "" {
			return twinConfig{}, clickError(stderr, fmt.Sprintf("Invalid value for '%s': %s %s", strings.Join(o.names, "' / '"), pyRepr(v), bad))
		}
	}
	get := func(name string) (string, bool) { v, ok := values[long[name]]; return v, ok }
	// serve.py defaults: host localhost, port 8000, max_batch_size
	// BuildConfig's 2048, max_num_tokens 8192.
	cfg := twinConfig{Personality: sim.TRTLLM, Engine: "trtllm", Version: trtllmVersion, Host: "localhost", Port: 8000,
		MaxBatch: 2048, MaxPrefill: 8192}
	cfg.Model = positional[0]
	// openai_server.py: the served id is the MODEL argument, or the
	// basename of a local directory.
	cfg.Served = cfg.Model
	if st, err := os.Stat(cfg.Model); err == nil && st.IsDir() {
		cfg.Served = filepath.Base(filepath.Clean(cfg.Model))
	}
	if v, ok := get("--host"); ok {
		cfg.Host = v
	}
	if v, ok := get("--port"); ok {
		cfg.Port, _ = strconv.Atoi(v)
	}
	if v, ok := get("--max_batch_size"); ok {
		cfg.MaxBatch, _ = strconv.Atoi(v)
	}
	if v, ok := get("--max_num_tokens"); ok {
		cfg.MaxPrefill, _ = strconv.Atoi(v)
	}
	if v, ok := get("--extra_llm_api_options"); ok {
		dtype, code := readLLMAPIOptions(v, stderr)
		if code >= 0 {
			return twinConfig{}, code
		}
		cfg.KVDtype = dtype
	}
	return cfg, -1
}

// readLLMAPIOptions reads the --extra_llm_api_options file as serve.py
// does before it builds the LLM (yaml.safe_load of the path; a missing
// file or bad YAML ends start-up with a Python traceback, exit 1), and
// returns kv_cache_config.dtype ("auto" when the file does not set it:
// KvCacheConfig's default). A kv_cache_config that is not a mapping, or a
// free_gpu_memory_fraction that is not a number, is refused as pydantic
// would. Source: NVIDIA/TensorRT-LLM, tensorrt_llm/commands/serve.py and
// tensorrt_llm/llmapi/llm_args.py (docs/engine-facts.md; read at a late
// 1.2 commit, not the 1.2.1 tag).
func readLLMAPIOptions(path string, stderr io.Writer) (string, int) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "Traceback (most recent call last):\nFileNotFoundError: [Errno 2] No such file or directory: '%s'\n", path)
		return "", 1
	}
	var opts map[string]any
	if err := yaml.Unmarshal(b, &opts); err != nil {
		fmt.Fprintf(stderr, "Traceback (most recent call last):\nyaml.scanner.ScannerError: %v\n  in \"%s\"\n", err, path)
		return "", 1
	}
	kv, ok := opts["kv_cache_config"]
	if !ok {
		return "auto", -1
	}
	m, ok := kv.(map[string]any)
	if !ok {
		fmt.Fprintf(stderr, "pydantic_core._pydantic_core.ValidationError: 1 validation error for TorchLlmArgs\nkv_cache_config\n  Input should be a valid dictionary [type=model_type, input_value=%v]\n", kv)
		return "", 1
	}
	if f, ok := m["free_gpu_memory_fraction"]; ok {
		switch f.(type) {
		case float64, int:
		default:
			fmt.Fprintf(stderr, "pydantic_core._pydantic_core.ValidationError: 1 validation error for KvCacheConfig\nfree_gpu_memory_fraction\n  Input should be a valid number [type=float_parsing, input_value=%v]\n", f)
			return "", 1
		}
	}
	dtype, _ := m["dtype"].(string)
	if dtype == "" {
		dtype = "auto"
	}
	return dtype, -1
}

// closeMatches is Python's difflib.get_close_matches: the at most n
// candidates whose SequenceMatcher ratio with word is at least cutoff,
// best first (ties: the later candidate first, as heapq.nlargest over
// (score, x) orders them by x descending).
func closeMatches(word string, candidates []string, n int, cutoff float64) []string {
	type scored struct {
		s float64
		x string
	}
	var hits []scored
	for _, c := range candidates {
		if r := ratio(c, word); r >= cutoff {
			hits = append(hits, scored{r, c})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].s != hits[j].s {
			return hits[i].s > hits[j].s
		}
		return hits[i].x > hits[j].x
	})
	var out []string
	for i := 0; i < len(hits) && i < n; i++ {
		out = append(out, hits[i].x)
	}
	return out
}

// ratio is difflib.SequenceMatcher(None, a, b).ratio(): 2·M / (len(a) +
// len(b)), M the characters in the matching blocks found by recursively
// taking the longest common substring (earliest in a, then in b). Option
// names are far shorter than the 200 characters where autojunk applies.
func ratio(a, b string) float64 {
	if len(a)+len(b) == 0 {
		return 1
	}
	return 2 * float64(matching(a, b)) / float64(len(a)+len(b))
}

func matching(a, b string) int {
	if a == "" || b == "" {
		return 0
	}
	bi, bj, k := 0, 0, 0
	for i := range a {
		for j := range b {
			l := 0
			for i+l < len(a) && j+l < len(b) && a[i+l] == b[j+l] {
				l++
			}
			if l > k {
				bi, bj, k = i, j, l
			}
		}
	}
	if k == 0 {
		return 0
	}
	return k + matching(a[:bi], b[:bj]) + matching(a[bi+k:], b[bj+k:])
}
