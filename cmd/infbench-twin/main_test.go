package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/engines/sim"
)

// TestSpecsParse: every real engine's command in testdata/engines.yaml,
// for every profile that runs it, is accepted by its twin and maps to
// the spec's model, port and batch size.
func TestSpecsParse(t *testing.T) {
	run, err := config.LoadRun("../../testdata/engines.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, profile := range run.ProfileNames() {
		run.Profile = profile
		for _, name := range []string{"vllm", "sglang", "trtllm"} {
			e, ok := run.Engine(name)
			if !ok {
				t.Fatalf("no engine %q", name)
			}
			s, err := engines.ResolveSpec(e, run)
			if err != nil {
				continue // a profile that skips the engine
			}
			argv := append(append([]string{}, s.Entrypoint...), s.Cmd...)
			if len(s.Entrypoint) == 0 {
				argv = append([]string{"vllm", "serve"}, s.Cmd...) // the image's entrypoint
			}
			// The spec's files reach the container at their paths; here
			// they go to a temporary folder, and the arguments follow.
			for _, f := range s.Files {
				local := filepath.Join(t.TempDir(), filepath.Base(f.Path))
				if err := os.WriteFile(local, []byte(f.Content), 0o644); err != nil {
					t.Fatal(err)
				}
				for i := range argv {
					if argv[i] == f.Path {
						argv[i] = local
					}
				}
			}
			var stderr bytes.Buffer
			cfg, code := parseCommand(argv[0], argv[1:], &stderr)
			if code != -1 {
				t.Errorf("%s/%s: %q exits %d:\n%s", profile, name, argv, code, stderr.String())
				continue
			}
			if name == "trtllm" && cfg.KVDtype != "fp8" {
				t.Errorf("%s/trtllm: kv_cache_config.dtype %q from --extra_llm_api_options, want fp8", profile, cfg.KVDtype)
			}
			if cfg.Engine != name || cfg.Served != s.Model || cfg.Port != s.Port || cfg.Host != "0.0.0.0" ||
				cfg.MaxBatch != run.Profiles[profile].MaxSeqs {
				t.Errorf("%s/%s: %+v; want served %q, port %d, max batch %d", profile, name, cfg, s.Model, s.Port, run.Profiles[profile].MaxSeqs)
			}
		}
	}
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		argv   []string
		code   int
		stderr []string // in this order
		check  func(twinConfig) bool
	}{
		{argv: []string{"vllm", "serve", "m", "--max_num_seqs=4", "--served_model_name", "s", "--port", "9000"}, code: -1,
			check: func(c twinConfig) bool {
				return c.Personality == sim.VLLM && c.Model == "m" && c.Served == "s" && c.MaxBatch == 4 && c.Port == 9000 && c.Host == ""
			}},
		{argv: []string{"vllm", "serve", "--model", "m", "--max-num-seq", "4"}, code: -1,
			check: func(c twinConfig) bool { return c.Model == "m" && c.Served == "m" && c.MaxBatch == 4 }},
		{argv: []string{"/usr/local/bin/vllm", "serve", "m", "--max-num-seqz", "4"}, code: 2,
			stderr: []string{"usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...\n",
				"vllm: error: unrecognized arguments: --max-num-seqz 4\n"}},
		{argv: []string{"vllm", "serve", "m", "--kv-cache-dtype", "fp9"}, code: 2,
			stderr: []string{"usage: vllm serve [model_tag] [options]\n", "vllm serve: error: argument --kv-cache-dtype: invalid choice: 'fp9'"}},
		{argv: []string{"vllm", "serve", "m"}, code: -1, check: func(c twinConfig) bool { return !c.NoCache && simConfig(c).PrefixCacheTokens == 0 }},
		{argv: []string{"vllm", "serve", "m", "--enable-prefix-caching"}, code: -1, check: func(c twinConfig) bool { return !c.NoCache }},
		{argv: []string{"vllm", "serve", "m", "--no-enable-prefix-caching"}, code: -1,
			check: func(c twinConfig) bool { return c.NoCache && simConfig(c).PrefixCacheTokens < 0 }},
		{argv: []string{"python3", "-m", "sglang.launch_server", "--model", "m", "--disable-radix-cache"}, code: -1,
			check: func(c twinConfig) bool { return c.NoCache && simConfig(c).PrefixCacheTokens < 0 }},
		{argv: []string{"vllm", "chat"}, code: 2, stderr: []string{"vllm: error: argument subparser: invalid choice: 'chat'"}},
		{argv: []string{"python3", "-m", "sglang.launch_server", "--model", "m", "--max-running-requests", "8", "--enable-metrics"}, code: -1,
			check: func(c twinConfig) bool {
				return c.Personality == sim.SGLang && c.Served == "m" && c.MaxBatch == 8 && c.Host == "127.0.0.1" && c.Port == 30000 && c.Metrics
			}},
		{argv: []string{"python3", "-m", "sglang.launch_server", "--model_path", "m"}, code: 2,
			stderr: []string{"usage: launch_server.py [-h] --model-path MODEL_PATH", "launch_server.py: error: the following arguments are required: --model-path/--model\n"}},
		{argv: []string{"python3", "-m", "sglang.launch_server", "--model-path", "m", "--enable-metric"}, code: 2,
			stderr: []string{"launch_server.py: error: ambiguous option: --enable-metric could match --enable-metrics, --enable-metrics-for-all-schedulers\n"}},
		{argv: []string{"python3", "-m", "sglang.launch_server", "--model-path", "m", "--enable-mixed"}, code: -1,
			check: func(c twinConfig) bool { return !c.Metrics }},
		{argv: []string{"python3", "-m", "sglang.launch_serve"}, code: 1, stderr: []string{"/usr/bin/python3: No module named sglang.launch_serve\n"}},
		{argv: []string{"trtllm-serve", "ckpt/x", "--max_batch_size", "16", "--kv_cache_free_gpu_memory_fraction=0.9", "--trust_remote_code"}, code: -1,
			check: func(c twinConfig) bool {
				return c.Personality == sim.TRTLLM && c.Served == "ckpt/x" && c.MaxBatch == 16 && c.Host == "localhost" && c.Port == 8000
			}},
		{argv: []string{"trtllm-serve", "serve", "ckpt", "--port", "1"}, code: -1, check: func(c twinConfig) bool { return c.Port == 1 }},
		{argv: []string{"trtllm-serve", "ckpt", "--max-batch-size", "16"}, code: 2,
			stderr: []string{"Usage: trtllm-serve serve [OPTIONS] MODEL\nTry 'trtllm-serve serve --help' for help.\n\nError: No such option: --max-batch-size Did you mean --max_batch_size?\n"}},
		{argv: []string{"trtllm-serve", "ckpt", "--prot", "1"}, code: 2,
			stderr: []string{"Error: No such option: --prot (Possible options: --host, --port)\n"}},
		{argv: []string{"trtllm-serve", "ckpt", "--trust_remote_code=1"}, code: 2,
			stderr: []string{"Error: Option '--trust_remote_code' does not take a value.\n"}},
		{argv: []string{"trtllm-serve", "--port", "1"}, code: 2, stderr: []string{"Error: Missing argument 'MODEL'.\n"}},
		{argv: []string{"trtllm-serve", "a", "b"}, code: 2, stderr: []string{"Error: Got unexpected extra argument (b)\n"}},
		{argv: []string{"trtllm-serve", "a", "--port", "x"}, code: 2, stderr: []string{"Error: Invalid value for '--port': 'x' is not a valid integer.\n"}},
		{argv: []string{"infbench-twin", "trtllm-serve", "a"}, code: -1, check: func(c twinConfig) bool { return c.Engine == "trtllm" }},
	}
	for _, tc := range cases {
		var stderr bytes.Buffer
		cfg, code := parseCommand(tc.argv[0], tc.argv[1:], &stderr)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s", tc.argv, code, tc.code, stderr.String())
			continue
		}
		out := stderr.String()
		for _, w := range tc.stderr {
			i := strings.Index(out, w)
			if i < 0 {
				t.Errorf("%q: stderr lacks %q (or not in order):\n%s", tc.argv, w, stderr.String())
				break
			}
			out = out[i+len(w):]
		}
		if tc.check != nil && !tc.check(cfg) {
			t.Errorf("%q: %+v", tc.argv, cfg)
		}
	}
}

// TestCloseMatches: difflib.get_close_matches(word, options, 3, 0.6), as
// Python 3.11 answers.
func TestCloseMatches(t *testing.T) {
	opts := []string{"--max_batch_size", "--max_beam_width", "--max_num_tokens", "--max_seq_len", "--help", "--port", "--host"}
	for word, want := range map[string]string{
		"--max-batch-size": "--max_batch_size",
		"--max_batch_sise": "--max_batch_size",
		"--prot":           "--port --host",
		"--zzz":            "",
	} {
		if got := strings.Join(closeMatches(word, opts, 3, 0.6), " "); got != want {
			t.Errorf("closeMatches(%q) = %q, want %q", word, got, want)
		}
	}
}
