package engines

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/gpumem"
)

const secret = "hf_TOKENVALUE_never_printed"

func vllmSpec(t *testing.T) Spec {
	run := loadRun(t, "h100")
	e, _ := run.Engine("vllm")
	s, err := ResolveSpec(e, run)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Without Docker, the NVIDIA runtime, a GPU or the model, Start fails in
// its preflight, before any container or log file exists, naming each
// missing thing and how to get it, and wrapping each cause.
func TestMissingEverythingFailsAtOnce(t *testing.T) {
	run := loadRun(t, "h100")
	e, _ := run.Engine("vllm")
	home, logDir := t.TempDir(), t.TempDir()
	noDocker := errors.New("dial unix /var/run/docker.sock: no such file")
	noNVML := errors.New("NVML: library not found")
	var notices strings.Builder
	eng, err := New(e, run, WithLogDir(logDir), WithNotices(&notices), func(o *options) {
		o.gpuBuild = true
		o.getenv = fakeEnv(map[string]string{"HOME": home})
		o.docker = func(context.Context) (DockerInfo, error) { return DockerInfo{}, noDocker }
		o.gpu = memoryOnly(func(context.Context) (uint64, string, error) { return 0, "", noNVML })
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = eng.Start(t.Context())
	if err == nil {
		t.Fatal("Start succeeded")
	}
	for _, s := range []string{"a Docker engine", "DOCKER_HOST", "a GPU", "NVIDIA driver", "RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16",
		"HF_TOKEN is not set", "`hf download RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16`",
		"before 0.34: `huggingface-cli download RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16`"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	if !errors.Is(err, noDocker) || !errors.Is(err, noNVML) {
		t.Errorf("error does not wrap the Docker and NVML errors: %v", err)
	}
	// Failing at once: nothing of the launch happened.
	if files, _ := os.ReadDir(logDir); len(files) > 0 {
		t.Errorf("log directory has %v: Start got past the preflight", files)
	}
	if strings.Contains(notices.String(), "starting") {
		t.Errorf("notices %q: Start got past the preflight", notices.String())
	}
	if err := eng.Stop(t.Context()); err != nil {
		t.Errorf("Stop after a failed preflight: %v", err)
	}
}

func TestMissingNVIDIARuntime(t *testing.T) {
	s := vllmSpec(t)
	cache := t.TempDir()
	snap := filepath.Join(cache, "hub", "models--RedHatAI--Llama-4-Scout-17B-16E-Instruct-quantized.w4a16", "snapshots", "abc")
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snap, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options{getenv: fakeEnv(map[string]string{"HF_HOME": cache}),
		docker: func(context.Context) (DockerInfo, error) {
			return DockerInfo{Runtimes: []string{"io.containerd.runc.v2", "runc"}}, nil
		},
		gpu: func(context.Context) (gpumem.Info, error) {
			return gpumem.Info{MemoryTotalBytes: 85e9, Name: "NVIDIA H100 80GB HBM3", DriverVersion: "575.57.08"}, nil
		}}
	_, _, err := requirements(t.Context(), s, o)
	if err == nil || !strings.Contains(err.Error(), "NVIDIA Container Toolkit") || strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("err = %v, want only the NVIDIA runtime missing (the model is cached)", err)
	}
	o.docker = func(context.Context) (DockerInfo, error) {
		return DockerInfo{Runtimes: []string{"nvidia", "runc"}}, nil
	}
	b, name, err := requirements(t.Context(), s, o)
	if err != nil || b != 85e9 || name != "NVIDIA H100 80GB HBM3" {
		t.Fatalf("requirements = %d, %q, %v", b, name, err)
	}
}

// HF_TOKEN reaches the container's environment and nothing else: not the
// spec, errors, nor the log.
func TestTokenNeverPrinted(t *testing.T) {
	run := loadRun(t, "h100")
	e, _ := run.Engine("vllm")
	env := fakeEnv(map[string]string{"HF_TOKEN": secret, "HOME": t.TempDir()})
	badToken := errors.New("docker: bad token " + secret)
	eng, err := New(e, run, func(o *options) {
		o.gpuBuild = true
		o.getenv = env
		o.docker = func(context.Context) (DockerInfo, error) { return DockerInfo{}, badToken }
		o.gpu = memoryOnly(func(context.Context) (uint64, string, error) { return 0, "", errors.New("no GPU") })
	})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.(*Container)
	for _, v := range []any{c.Spec(), *c.Spec().Fit} {
		for _, format := range []string{"%v", "%+v", "%#v"} {
			if s := sprintf(format, v); strings.Contains(s, secret) {
				t.Errorf("%s of the spec shows the token", format)
			}
		}
	}
	_, err = eng.Start(t.Context())
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("Start error shows the token or was not redacted: %v", err)
	}
	if !errors.Is(err, badToken) {
		t.Errorf("the redacted Start error does not wrap its cause: %v", err)
	}
	req, _ := BuildRequest(c.Spec(), env)
	if req.Env["HF_TOKEN"] != secret {
		t.Errorf("the token does not reach the container")
	}
	for _, l := range c.Spec().Cmd {
		if strings.Contains(l, secret) {
			t.Errorf("command line shows the token")
		}
	}

	path := filepath.Join(t.TempDir(), "engine.log")
	logs, err := newLogSink(path, []string{secret})
	if err != nil {
		t.Fatal(err)
	}
	half := len(secret) / 2
	_, _ = logs.Write([]byte("INFO token=" + secret[:half]))
	_, _ = logs.Write([]byte(secret[half:] + " loaded\nlast line without newline " + secret))
	_ = logs.Close()
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), secret) || strings.Count(string(data), "[redacted]") != 2 {
		t.Errorf("log file not redacted:\n%s", data)
	}
	if tail := strings.Join(logs.Tail(), "\n"); strings.Contains(tail, secret) || !strings.HasSuffix(tail, "newline [redacted]") {
		t.Errorf("tail %q", tail)
	}
}

func TestLogTailKeepsLast40(t *testing.T) {
	logs, err := newLogSink(filepath.Join(t.TempDir(), "l.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		_, _ = logs.Write([]byte(sprintf("line %d\n", i)))
	}
	tail := logs.Tail()
	if len(tail) != 40 || tail[0] != "line 60" || tail[39] != "line 99" {
		t.Errorf("tail = %q…%q (%d lines)", tail[0], tail[len(tail)-1], len(tail))
	}
}

// cachedModel puts a snapshot of repo with a config.json in a fresh
// Hugging Face cache and returns the cache.
func cachedModel(t *testing.T, repo string) string {
	t.Helper()
	cache := t.TempDir()
	snap := filepath.Join(cache, "hub", "models--"+strings.ReplaceAll(repo, "/", "--"), "snapshots", "abc")
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snap, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cache
}

// The driver preflight reads the version through NVML (a dgxh100 mock with
// its driver version set) and fails, before any pull, naming the image's
// minimum and the driver found.
func TestDriverPreflight(t *testing.T) {
	cases := []struct {
		profile, engine, driver, env string
		wantErr                      []string // empty: passes
	}{
		{"h100", "vllm", "550.54.15", "", []string{"NVIDIA driver 575 or newer for vllm/vllm-openai:v0.12.0", "NVML reports driver 550.54.15", "R575 or later"}},
		{"h100", "sglang", "570.124.06", "", []string{"NVIDIA driver 575 or newer for lmsysorg/sglang:v0.5.6.post2-cu129-amd64-runtime", "NVML reports driver 570.124.06"}},
		{"h100", "vllm", "575.57.08", "", nil},
		{"h200", "trtllm", "575.57.08", "", []string{"NVIDIA driver 580 or newer for nvcr.io/nvidia/tensorrt-llm/release:1.2.1", "NVML reports driver 575.57.08", "INFBENCH_DRIVER_CHECK=off"}},
		{"h200", "trtllm", "580.65.06", "", nil},
		{"h200", "trtllm", "550.54.15", "off", nil}, // forward compatibility
	}
	for _, tc := range cases {
		t.Run(tc.engine+"/"+tc.driver, func(t *testing.T) {
			run := loadRun(t, tc.profile)
			e, _ := run.Engine(tc.engine)
			s, err := ResolveSpec(e, run)
			if err != nil {
				t.Fatal(err)
			}
			lib := dgxh100.New()
			lib.DriverVersion = tc.driver
			o := options{getenv: fakeEnv(map[string]string{"HF_HOME": cachedModel(t, s.Checkpoint), config.EnvDriverCheck: tc.env}),
				docker: func(context.Context) (DockerInfo, error) {
					return DockerInfo{Runtimes: []string{"nvidia", "runc"}}, nil
				},
				gpu: func(ctx context.Context) (gpumem.Info, error) { return gpuInfo(ctx, lib) }}
			b, name, err := requirements(t.Context(), s, o)
			if len(tc.wantErr) == 0 {
				if err != nil || b == 0 || !strings.Contains(name, "H100") {
					t.Fatalf("requirements = %d, %q, %v; want the mock's H100 and no error", b, name, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("driver %s passed the preflight of %s (min_driver %s)", tc.driver, s.Image, s.MinDriver)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// A GPU engine whose start fails the driver check fails in the preflight:
// no log file, no "starting" notice, so nothing was pulled.
func TestDriverPreflightBeforePull(t *testing.T) {
	run := loadRun(t, "h100")
	e, _ := run.Engine("vllm")
	logDir := t.TempDir()
	var notices strings.Builder
	lib := dgxh100.New()
	lib.DriverVersion = "550.54.15"
	eng, err := New(e, run, WithLogDir(logDir), WithNotices(&notices), func(o *options) {
		o.gpuBuild = true
		o.getenv = fakeEnv(map[string]string{"HF_HOME": cachedModel(t, "RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16")})
		o.docker = func(context.Context) (DockerInfo, error) { return DockerInfo{Runtimes: []string{"nvidia"}}, nil }
		o.gpu = func(ctx context.Context) (gpumem.Info, error) { return gpuInfo(ctx, lib) }
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = eng.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "575 or newer") || !strings.Contains(err.Error(), "550.54.15") {
		t.Fatalf("Start = %v, want the driver minimum and the driver found", err)
	}
	if files, _ := os.ReadDir(logDir); len(files) > 0 || strings.Contains(notices.String(), "starting") {
		t.Errorf("Start got past the preflight: log dir %v, notices %q", files, notices.String())
	}
}

// Offline, the model must be in the cache: HF_TOKEN does not help.
func TestHFOfflineNeedsCachedModel(t *testing.T) {
	s := vllmSpec(t)
	o := options{getenv: fakeEnv(map[string]string{"HF_HOME": t.TempDir(), "HF_TOKEN": "hf_x", config.EnvHFOffline: "1"}),
		docker: func(context.Context) (DockerInfo, error) { return DockerInfo{Runtimes: []string{"nvidia"}}, nil },
		gpu: func(context.Context) (gpumem.Info, error) {
			return gpumem.Info{MemoryTotalBytes: 85e9, Name: "NVIDIA H100 80GB HBM3", DriverVersion: "580.65.06"}, nil
		}}
	_, _, err := requirements(t.Context(), s, o)
	if err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE=1") || !strings.Contains(err.Error(), "hf download "+s.Checkpoint) {
		t.Fatalf("err = %v, want the offline cache miss named", err)
	}
	o.getenv = fakeEnv(map[string]string{"HF_HOME": cachedModel(t, s.Checkpoint), config.EnvHFOffline: "1"})
	if _, _, err := requirements(t.Context(), s, o); err != nil {
		t.Fatalf("offline with the model cached: %v", err)
	}
	o.getenv = fakeEnv(map[string]string{"HF_HOME": cachedModel(t, s.Checkpoint), config.EnvHFOffline: "yes please"})
	if _, _, err := requirements(t.Context(), s, o); err == nil || !strings.Contains(err.Error(), `INFBENCH_HF_OFFLINE="yes please": use 1`) {
		t.Fatalf("err = %v, want the bad INFBENCH_HF_OFFLINE named", err)
	}
}
