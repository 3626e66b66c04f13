package engines

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

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
				{"--mem-fraction-static", "0.85"}, {"--kv-cache-dtype", "fp8_e4m3"}, {"--enable-metrics"}},
			port: "30000/tcp", readyPath: "/health_generate"}},
		{"h200", "trtllm", want{image: "nvcr.io/nvidia/tensorrt-llm/release:1.2.1", entrypoint: []string{"trtllm-serve"},
			cmdHas: [][]string{{scoutFP8, "--host", "0.0.0.0", "--port", "8000"}, {"--max_batch_size", "256"},
				{"--max_seq_len", "16384"}, {"--kv_cache_free_gpu_memory_fraction", "0.9"}},
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
