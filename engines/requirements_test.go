package engines

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		o.gpuMemory = func(context.Context) (uint64, string, error) { return 0, "", noNVML }
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
		gpuMemory: func(context.Context) (uint64, string, error) { return 85e9, "NVIDIA H100 80GB HBM3", nil }}
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
		o.gpuMemory = func(context.Context) (uint64, string, error) { return 0, "", errors.New("no GPU") }
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
