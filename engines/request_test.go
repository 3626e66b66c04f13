package engines

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"gopkg.in/yaml.v3"

	"github.com/infbench/infbench/config"
)

const enginesFile = "../testdata/engines.yaml"

func loadRun(t *testing.T, profile string) *config.Run {
	t.Helper()
	run, err := config.LoadRun(enginesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.ApplyProfile(func(k string) string {
		if k == config.EnvProfile {
			return profile
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	return run
}

func fakeEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// want is what each engine's documentation requires of its container.
type want struct {
	image      string
	entrypoint []string
	cmdHas     [][]string // consecutive argument groups
	port       string
	readyPath  string
	readyPost  bool
}

func TestContainerRequests(t *testing.T) {
	const scoutINT4 = "RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16"
	const scoutFP8 = "nvidia/Llama-4-Scout-17B-16E-Instruct-FP8"
	const served = "meta-llama/Llama-4-Scout-17B-16E-Instruct"
	cases := []struct {
		profile, engine string
		want            want
	}{
		{"h100", "vllm", want{image: "vllm/vllm-openai:v0.12.0", entrypoint: nil,
			cmdHas: [][]string{{scoutINT4, "--served-model-name", served}, {"--max-model-len", "16384"}, {"--max-num-seqs", "128"},
				{"--gpu-memory-utilization", "0.92"}, {"--kv-cache-dtype", "fp8"}, {"--host", "0.0.0.0", "--port", "8000"}},
			port: "8000/tcp", readyPath: "/v1/completions", readyPost: true}},
		{"h200", "vllm", want{image: "vllm/vllm-openai:v0.12.0",
			cmdHas: [][]string{{scoutFP8, "--served-model-name", served}, {"--max-num-seqs", "256"}},
			port:   "8000/tcp", readyPath: "/v1/completions", readyPost: true}},
		{"h100", "sglang", want{image: "lmsysorg/sglang:v0.5.6.post2-cu129-amd64-runtime",
			entrypoint: []string{"python3", "-m", "sglang.launch_server"},
			cmdHas: [][]string{{"--model-path", scoutINT4}, {"--host", "0.0.0.0", "--port", "30000"}, {"--context-length", "16384"},
				{"--mem-fraction-static", "0.85"}, {"--kv-cache-dtype", "fp8_e4m3"}, {"--enable-metrics"}, {"--attention-backend", "fa3"}},
			port: "30000/tcp", readyPath: "/health_generate"}},
		{"h200", "trtllm", want{image: "nvcr.io/nvidia/tensorrt-llm/release:1.2.1", entrypoint: []string{"trtllm-serve"},
			cmdHas: [][]string{{scoutFP8, "--host", "0.0.0.0", "--port", "8000"}, {"--max_batch_size", "256"},
				{"--max_seq_len", "16384"}, {"--kv_cache_free_gpu_memory_fraction", "0.9"},
				{"--extra_llm_api_options", "/etc/infbench/trtllm-llm-api.yaml"}},
			port: "8000/tcp", readyPath: "/health_generate"}},
	}
	env := fakeEnv(map[string]string{"HF_TOKEN": "hf_test_secret", "HOME": "/home/u"})
	for _, tc := range cases {
		t.Run(tc.profile+"/"+tc.engine, func(t *testing.T) {
			run := loadRun(t, tc.profile)
			e, _ := run.Engine(tc.engine)
			s, err := ResolveSpec(e, run)
			if err != nil {
				t.Fatal(err)
			}
			req, err := BuildRequest(s, env)
			if err != nil {
				t.Fatal(err)
			}
			if req.Image != tc.want.image {
				t.Errorf("image %q, want %q", req.Image, tc.want.image)
			}
			if !slices.Equal(req.Entrypoint, tc.want.entrypoint) {
				t.Errorf("entrypoint %q, want %q", req.Entrypoint, tc.want.entrypoint)
			}
			for _, g := range tc.want.cmdHas {
				if !hasRun(req.Cmd, g) {
					t.Errorf("cmd %q lacks %q", req.Cmd, g)
				}
			}
			if !slices.Equal(req.ExposedPorts, []string{tc.want.port}) {
				t.Errorf("exposed ports %q, want %q", req.ExposedPorts, tc.want.port)
			}
			if req.Env["HF_HOME"] != ContainerHFCache || req.Env["HF_HUB_OFFLINE"] != "" {
				t.Errorf("HF_HOME %q, HF_HUB_OFFLINE %q; want the mounted cache %s, and online", req.Env["HF_HOME"], req.Env["HF_HUB_OFFLINE"], ContainerHFCache)
			}
			if req.Env["HF_TOKEN"] != "hf_test_secret" {
				t.Errorf("HF_TOKEN not passed to the container: env keys %v", keys(req.Env))
			}
			if req.Labels[LabelManaged] != "true" || req.Labels[LabelEngine] != tc.engine {
				t.Errorf("labels %v", req.Labels)
			}
			// No testcontainers wait (its HTTP client gives up after 1 s):
			// the poller probes with a real generation, each probe within
			// 60 s, under the 40-minute deadline.
			if req.WaitingFor != nil {
				t.Errorf("wait strategy %T %+v, want none: the poller waits for readiness", req.WaitingFor, req.WaitingFor)
			}
			if s.Startup != 40*time.Minute || s.Ready.ProbeTimeout != config.DefaultProbeTimeout || s.Ready.Interval != config.DefaultProbeInterval {
				t.Errorf("start-up %v, probe timeout %v, interval %v; want 40m, 60s, 1s", s.Startup, s.Ready.ProbeTimeout, s.Ready.Interval)
			}
			if s.Ready.Path != tc.want.readyPath || s.portString() != tc.want.port {
				t.Errorf("ready probe %s on %s, want %s on %s", s.Ready.Path, s.portString(), tc.want.readyPath, tc.want.port)
			}
			if tc.want.readyPost {
				if s.Ready.Method != "POST" || !strings.Contains(s.Ready.Body, `"model": "`+served+`"`) || !strings.Contains(s.Ready.Body, `"max_tokens": 1`) {
					t.Errorf("ready probe %s %q, want a 1-token POST for %s", s.Ready.Method, s.Ready.Body, served)
				}
			} else if s.Ready.Method != "GET" {
				t.Errorf("ready probe method %s, want GET", s.Ready.Method)
			}
			// Host configuration: every GPU, IPC host, ulimits, HF cache.
			var hc container.HostConfig
			req.HostConfigModifier(&hc)
			if len(hc.DeviceRequests) != 1 || hc.DeviceRequests[0].Count != -1 || !reflect.DeepEqual(hc.DeviceRequests[0].Capabilities, [][]string{{"gpu"}}) {
				t.Errorf("device requests %+v, want Count -1 with capability gpu", hc.DeviceRequests)
			}
			if hc.IpcMode != container.IPCModeHost {
				t.Errorf("ipc mode %q, want host", hc.IpcMode)
			}
			lim := map[string]int64{}
			for _, u := range hc.Ulimits {
				if u.Soft != u.Hard {
					t.Errorf("ulimit %s soft %d != hard %d", u.Name, u.Soft, u.Hard)
				}
				lim[u.Name] = u.Hard
			}
			if lim["memlock"] != -1 || lim["stack"] != 67108864 {
				t.Errorf("ulimits %v, want memlock -1, stack 67108864", lim)
			}
			if !slices.Equal(hc.Binds, []string{"/home/u/.cache/huggingface:/root/.cache/huggingface"}) {
				t.Errorf("binds %q", hc.Binds)
			}
		})
	}
}

func TestHFHomeIsMounted(t *testing.T) {
	run := loadRun(t, "h100")
	e, _ := run.Engine("vllm")
	s, _ := ResolveSpec(e, run)
	req, err := BuildRequest(s, fakeEnv(map[string]string{"HF_HOME": "/data/hf", "HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	var hc container.HostConfig
	req.HostConfigModifier(&hc)
	if !slices.Equal(hc.Binds, []string{"/data/hf:/root/.cache/huggingface"}) {
		t.Errorf("binds %q, want HF_HOME mounted", hc.Binds)
	}
	if _, ok := req.Env["HF_TOKEN"]; ok {
		t.Errorf("HF_TOKEN set in the container although the host has none")
	}
}

func TestTRTLLMSkippedOnH100(t *testing.T) {
	run := loadRun(t, "h100")
	e, _ := run.Engine("trtllm")
	var stderr strings.Builder
	_, err := New(e, run, func(o *options) { o.notices = &stderr })
	if !errors.Is(err, ErrSkip) || !strings.Contains(err.Error(), "does not fit one H100") {
		t.Fatalf("New(trtllm, h100) = %v, want ErrSkip with the reason", err)
	}
	if want := "engine trtllm skipped: profile h100: TensorRT-LLM has no 4-bit"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
	var skip *SkipError
	if !errors.As(err, &skip) || skip.Engine != "trtllm" || skip.Profile != "h100" {
		t.Errorf("error %#v, want a *SkipError for trtllm on h100", err)
	}
	if want := "[infbench] " + err.Error() + "\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	// A wrapped skip is still a skip.
	if !errors.Is(fmt.Errorf("x: %w", err), ErrSkip) {
		t.Error("wrapped SkipError is not ErrSkip")
	}
	// An engine that is not skipped prints nothing.
	stderr.Reset()
	run = loadRun(t, "h200")
	e, _ = run.Engine("trtllm")
	if _, err := New(e, run, func(o *options) { o.notices = &stderr; o.gpuBuild = true }); err != nil || stderr.Len() > 0 {
		t.Errorf("New(trtllm, h200) = %v, stderr %q", err, stderr.String())
	}
}

func TestGPUEngineNeedsGPUBuild(t *testing.T) {
	run := loadRun(t, "h100")
	e, _ := run.Engine("vllm")
	_, err := New(e, run, func(o *options) { o.gpuBuild = false })
	if err == nil || !strings.Contains(err.Error(), "-tags=gpu") {
		t.Fatalf("New(vllm) without the gpu build = %v, want an error naming -tags=gpu", err)
	}
	if _, err := New(e, run, func(o *options) { o.gpuBuild = true }); err != nil {
		t.Fatalf("New(vllm) with the gpu build: %v", err)
	}
}

func hasRun(xs, run []string) bool {
	for i := 0; i+len(run) <= len(xs); i++ {
		if slices.Equal(xs[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TensorRT-LLM's FP8 KV cache: the YAML named by --extra_llm_api_options
// is copied into the container, and its kv_cache_config (which replaces
// the one built from the command line) carries both the FP8 dtype and the
// profile's memory fraction, the same as the command line's.
func TestTRTLLMExtraOptionsFile(t *testing.T) {
	run := loadRun(t, "h200")
	e, _ := run.Engine("trtllm")
	s, err := ResolveSpec(e, run)
	if err != nil {
		t.Fatal(err)
	}
	req, err := BuildRequest(s, fakeEnv(map[string]string{"HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(req.Cmd, "--extra_llm_api_options")
	if i < 0 || i+1 >= len(req.Cmd) {
		t.Fatalf("cmd %q has no --extra_llm_api_options", req.Cmd)
	}
	path := req.Cmd[i+1]
	var content string
	for _, f := range req.Files {
		if f.ContainerFilePath == path {
			b, err := io.ReadAll(f.Reader)
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
			if f.FileMode&0o444 != 0o444 {
				t.Errorf("file mode %o: the engine cannot read it", f.FileMode)
			}
		}
	}
	if content == "" {
		t.Fatalf("no file copied to %s (files %+v)", path, req.Files)
	}
	var llmArgs struct {
		KV struct {
			Dtype    string  `yaml:"dtype"`
			Fraction float64 `yaml:"free_gpu_memory_fraction"`
		} `yaml:"kv_cache_config"`
	}
	if err := yaml.Unmarshal([]byte(content), &llmArgs); err != nil {
		t.Fatalf("%s is not YAML: %v\n%s", path, err, content)
	}
	cli := req.Cmd[slices.Index(req.Cmd, "--kv_cache_free_gpu_memory_fraction")+1]
	if llmArgs.KV.Dtype != "fp8" || strconv.FormatFloat(llmArgs.KV.Fraction, 'f', -1, 64) != cli || cli != "0.9" {
		t.Errorf("kv_cache_config %+v, command-line fraction %s: want dtype fp8 and fraction 0.9 in both", llmArgs.KV, cli)
	}
	if s.Fit.KVBytesPerToken != 2*48*8*128*1 {
		t.Errorf("fit check KV %d B/token, want FP8's 98304", s.Fit.KVBytesPerToken)
	}
	if s.Fit.MemFractionOf != FractionOfFree {
		t.Errorf("fit check reads the fraction as %q, want %q (the CLI flag must stay)", s.Fit.MemFractionOf, FractionOfFree)
	}
}

// A file's unfilled placeholder is an error naming it.
func TestFilePlaceholderUnfilled(t *testing.T) {
	run := loadRun(t, "h200")
	e, _ := run.Engine("trtllm")
	c := *e.Container
	c.Files = []config.File{{Path: "/etc/x.yaml", Content: "a: {max_seqs}\nb: {checkpoint}"}}
	e.Container = &c
	s, err := ResolveSpec(e, run)
	if err != nil || s.Files[0].Content != "a: 256\nb: nvidia/Llama-4-Scout-17B-16E-Instruct-FP8" {
		t.Fatalf("ResolveSpec = %q, %v", s.Files, err)
	}
	e.Model = "served"
	c2 := *e.Container
	c2.Profiles, c2.Args = nil, []string{"served"}
	c2.Files = []config.File{{Path: "/etc/x.yaml", Content: "f: {mem_fraction}"}}
	e.Container = &c2
	if _, err := ResolveSpec(e, run); err == nil || !strings.Contains(err.Error(), "container.files /etc/x.yaml") || !strings.Contains(err.Error(), "{mem_fraction}") {
		t.Errorf("ResolveSpec = %v, want the file and the placeholder named", err)
	}
}

func TestHFOfflineEnv(t *testing.T) {
	run := loadRun(t, "h100")
	e, _ := run.Engine("vllm")
	s, _ := ResolveSpec(e, run)
	for _, tc := range []struct {
		env, want string
		spec      bool
	}{{"1", "1", false}, {"true", "1", false}, {"", "", false}, {"", "1", true}, {"0", "", true}} {
		s.HFOffline = tc.spec
		req, err := BuildRequest(s, fakeEnv(map[string]string{"HOME": "/home/u", config.EnvHFOffline: tc.env}))
		if err != nil {
			t.Fatal(err)
		}
		if req.Env["HF_HUB_OFFLINE"] != tc.want || req.Env["HF_HOME"] != ContainerHFCache {
			t.Errorf("INFBENCH_HF_OFFLINE=%q, hf_offline %v: HF_HUB_OFFLINE %q, HF_HOME %q; want %q, %s",
				tc.env, tc.spec, req.Env["HF_HUB_OFFLINE"], req.Env["HF_HOME"], tc.want, ContainerHFCache)
		}
	}
	if _, err := BuildRequest(s, fakeEnv(map[string]string{"HOME": "/home/u", config.EnvHFOffline: "maybe"})); err == nil ||
		!strings.Contains(err.Error(), `INFBENCH_HF_OFFLINE="maybe"`) {
		t.Errorf("BuildRequest = %v, want the bad value named", err)
	}
}

// accepted_fields are per API: TensorRT-LLM's chat model has no prompt,
// its completions model no messages or max_completion_tokens.
func TestTRTLLMAcceptedPerAPI(t *testing.T) {
	for _, tc := range []struct {
		api, has string
		lacks    []string
	}{
		{"chat", "messages", []string{"prompt", "max_completion_tokens"}},
		{"completions", "prompt", []string{"messages", "max_completion_tokens"}},
	} {
		run := loadRun(t, "h200")
		run.API = tc.api
		e, _ := run.Engine("trtllm")
		s, err := ResolveSpec(e, run)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.Accepted, tc.has) || !slices.Contains(s.Accepted, "max_tokens") || !slices.Contains(s.Accepted, "stream_options") {
			t.Errorf("%s: accepted %q lacks %s, max_tokens or stream_options", tc.api, s.Accepted, tc.has)
		}
		for _, f := range tc.lacks {
			if slices.Contains(s.Accepted, f) {
				t.Errorf("%s: accepted %q has %s, which TensorRT-LLM rejects there", tc.api, s.Accepted, f)
			}
		}
		ep := requestEndpoint(e, s, "http://x")
		if !ep.ContinuousUsage || !ep.IncludeUsage || !ep.IgnoreEOS {
			t.Errorf("%s: endpoint %+v, want per-chunk usage, usage and ignore_eos sent", tc.api, ep)
		}
	}
	run := loadRun(t, "h100")
	e, _ := run.Engine("sglang")
	s, _ := ResolveSpec(e, run)
	if ep := requestEndpoint(e, s, "http://x"); !ep.ContinuousUsage {
		t.Errorf("sglang endpoint %+v, want continuous_usage_stats sent", ep)
	}
}
