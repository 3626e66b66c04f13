package engines_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/internal/benchtest"
)

const fakeToken = "hf_e2e_secret_value"

// dockerClient returns a client for the local Docker engine, or skips.
func dockerClient(t *testing.T) *testcontainers.DockerClient {
	t.Helper()
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true") // the Ryuk image cannot be pulled; we clean up ourselves
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	raw, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	var info client.SystemInfoResult
	if err == nil {
		info, err = raw.Info(ctx, client.InfoOptions{})
		raw.Close()
	}
	if err != nil {
		t.Skipf("no Docker engine answers (%v): the container path's end-to-end test needs one", err)
	}
	// Inside a container, testcontainers reaches published ports through
	// the default gateway; when the Docker engine runs in this same
	// machine (its name is our hostname) they are on localhost. This must
	// be set before testcontainers reads its configuration (once).
	if host, _ := os.Hostname(); os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" && info.Info.Name == host {
		t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Skipf("testcontainers cannot use the Docker engine: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// buildSimImage builds cmd/infbench-sim static into a FROM scratch image
// (testdata/Dockerfile.sim) and returns its tag; nothing is pulled.
func buildSimImage(t *testing.T, cli *testcontainers.DockerClient) string {
	t.Helper()
	bin := buildStatic(t, "../cmd/infbench-sim", "infbench-sim")
	return buildImage(t, cli, "testdata/Dockerfile.sim", "infbench-sim", bin, "infbench-sim:e2e-"+randHex(4))
}

// buildStatic builds a command with CGO_ENABLED=0 and returns the binary.
func buildStatic(t *testing.T, pkg, name string) []byte {
	t.Helper()
	dir := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(dir, name), pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildImage builds dockerfile with the binary bin next to it (as name)
// into an image tagged tag, removed when the test ends; nothing is pulled.
func buildImage(t *testing.T, cli *testcontainers.DockerClient, dockerfile, name string, bin []byte, tag string) string {
	t.Helper()
	df, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for _, f := range []struct {
		name string
		data []byte
		mode int64
	}{{"Dockerfile", df, 0o644}, {name, bin, 0o755}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	res, err := cli.ImageBuild(ctx, &ctxTar, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true})
	if err != nil {
		t.Fatalf("docker build %s: %v", dockerfile, err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("docker build %s: %s", dockerfile, out)
	}
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	return tag
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// simEngine is the simulator image as a container engine entry: the same
// path as vLLM's (1-token POST readiness, /version, labels, log file,
// passed-through HF_TOKEN), minus the GPU request.
func simEngine(name, image string, args ...string) config.Engine {
	return config.Engine{Name: name, Kind: config.KindContainer, Model: "sim-e2e",
		Request: config.RequestFields{IgnoreEOS: true, IncludeUsage: true},
		Container: &config.ContainerSpec{Image: image, Args: append([]string{"-model", "{model}"}, args...), Port: 8000,
			Ready:   config.Probe{Method: "POST", Path: "/v1/completions", Body: `{"model": "{model}", "prompt": "hi", "max_tokens": 1}`},
			Version: []string{"/version"}, Metrics: "/metrics", Startup: 60 * time.Second, IPC: "", ShmGB: 0.1,
			PassEnv: []string{"HF_TOKEN"}}}
}

// leftovers lists containers carrying the engine's label, running or not.
func leftovers(t *testing.T, cli *testcontainers.DockerClient, name string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := client.Filters{}.Add("label", engines.LabelManaged+"=true", engines.LabelEngine+"="+name)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list.Items {
		ids = append(ids, c.ID[:12]+" "+string(c.State))
	}
	return ids
}

func waitRunning(t *testing.T, cli *testcontainers.DockerClient, name string) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, c := range leftovers(t, cli, name) {
			if strings.HasSuffix(c, "running") {
				return
			}
		}
	}
	t.Fatal("the container never ran")
}

func getenv(k string) string {
	if k == "HF_TOKEN" {
		return fakeToken
	}
	return os.Getenv(k)
}

// TestDockerEndToEnd starts the simulator image through the container
// path, runs one benchmark cell on it, stops it, and checks that no
// container is left; then interrupts starts by context and by SIGINT, and
// makes one fail, checking the log tail and the clean-up each time; then
// runs vLLM, SGLang and TensorRT-LLM from their real specs on their twin
// images (testTwins, twin_docker_test.go).
func TestDockerEndToEnd(t *testing.T) {
	cli := dockerClient(t)
	image := buildSimImage(t, cli)
	run := &config.Run{Timeouts: config.Timeouts{Startup: time.Minute}}
	id := randHex(3)

	t.Run("cell", func(t *testing.T) {
		name := "e2e-" + id
		logDir := t.TempDir()
		eng, err := engines.New(simEngine(name, image, "-ready-after", "1s"), run, engines.WithLogDir(logDir), engines.WithGetenv(getenv))
		if err != nil {
			t.Fatal(err)
		}
		ep, info := startChecked(t, cli, eng, name)
		if info["engine-"+name+"-version"] != "infbench-sim 1" || !strings.HasPrefix(info["engine-"+name+"-image-digest"], "sha256:") ||
			info["engine-"+name+"-image"] != image || info["engine-"+name+"-model"] != "sim-e2e" {
			t.Errorf("info lines %v", info)
		}
		if ep.Model != "sim-e2e" || !strings.HasSuffix(ep.MetricsURL, "/metrics") {
			t.Errorf("endpoint %+v", ep)
		}
		smallCell(t, ep)
		// Stop honours its context: an ended one stops nothing, and a
		// later Stop finishes the job.
		ended, cancel := context.WithCancel(t.Context())
		cancel()
		if err := eng.Stop(ended); !errors.Is(err, context.Canceled) {
			t.Errorf("Stop(cancelled context) = %v, want an error wrapping context.Canceled", err)
		}
		if left := leftovers(t, cli, name); len(left) != 1 {
			t.Errorf("after Stop(cancelled context): containers %v, want the one still running", left)
		}
		if err := eng.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		log, _ := os.ReadFile(filepath.Join(logDir, "engine-"+name+".log"))
		if !strings.Contains(string(log), `serving model "sim-e2e"`) {
			t.Errorf("container log lacks the server's first line:\n%s", log)
		}
	})

	t.Run("cancel mid-wait", func(t *testing.T) {
		name := "e2e-cancel-" + id
		eng, err := engines.New(simEngine(name, image, "-ready-after", "1h"), run, engines.WithLogDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { _, err := eng.Start(ctx); errc <- err }()
		waitRunning(t, cli, name)
		cancel()
		select {
		case err = <-errc:
		case <-time.After(30 * time.Second):
			t.Fatal("Start did not return after cancel")
		}
		if err == nil || !strings.Contains(err.Error(), "interrupted") || !errors.Is(err, context.Canceled) {
			t.Errorf("Start after cancel = %v, want interrupted, wrapping context.Canceled", err)
		}
		if left := leftovers(t, cli, name); len(left) > 0 {
			t.Errorf("containers left behind: %v", left)
		}
		_ = eng.Stop(context.Background())
	})

	t.Run("SIGINT mid-wait", func(t *testing.T) {
		name := "e2e-sigint-" + id
		sigs := make(chan os.Signal, 1)
		var mu sync.Mutex
		var raised []os.Signal
		eng, err := engines.New(simEngine(name, image, "-ready-after", "1h"), run, engines.WithLogDir(t.TempDir()),
			engines.WithSignals(sigs, func(s os.Signal) { mu.Lock(); raised = append(raised, s); mu.Unlock() }))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { _, err := eng.Start(t.Context()); errc <- err }()
		waitRunning(t, cli, name)
		sigs <- syscall.SIGINT
		select {
		case err = <-errc:
		case <-time.After(30 * time.Second):
			t.Fatal("Start did not return after SIGINT")
		}
		if err == nil || !strings.Contains(err.Error(), "was interrupted") || !strings.Contains(err.Error(), "signal interrupt") ||
			!errors.Is(err, context.Canceled) {
			t.Errorf("Start after SIGINT = %v, want interrupted by signal interrupt, wrapping context.Canceled", err)
		}
		_ = eng.Stop(context.Background()) // waits for the guard to finish
		mu.Lock()
		if len(raised) != 1 || raised[0] != syscall.SIGINT {
			t.Errorf("re-raised %v, want [interrupt]", raised)
		}
		mu.Unlock()
		if left := leftovers(t, cli, name); len(left) > 0 {
			t.Errorf("containers left behind: %v", left)
		}
	})

	t.Run("leftovers of other runs", func(t *testing.T) {
		name := "e2e-left-" + id
		host, _ := os.Hostname()
		dead := exec.Command(os.Args[0], "-test.run=^$")
		if err := dead.Run(); err != nil {
			t.Fatal(err)
		}
		create := func(pid int, run string) string {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Image: image, Config: &container.Config{Labels: map[string]string{
				engines.LabelManaged: "true", engines.LabelEngine: name,
				engines.LabelPID: strconv.Itoa(pid), engines.LabelHost: host, engines.LabelRun: run}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = cli.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
			})
			return res.ID[:12]
		}
		live := create(os.Getppid(), "e2e-live-run") // go test: alive while this test runs
		gone := create(dead.Process.Pid, "e2e-dead-run")
		var stderr benchtest.SyncBuffer
		eng, err := engines.New(simEngine(name, image), run, engines.WithLogDir(t.TempDir()), engines.WithNotices(&stderr))
		if err != nil {
			t.Fatal(err)
		}
		_, err = eng.Start(t.Context())
		if serr := eng.Stop(context.Background()); serr != nil {
			t.Error(serr)
		}
		if err != nil {
			t.Fatal(err)
		}
		left := leftovers(t, cli, name)
		if len(left) != 1 || !strings.HasPrefix(left[0], live+" ") {
			t.Errorf("containers after the run: %v; want only %s (a live process's), not %s (a dead one's)", left, live, gone)
		}
		out := stderr.String()
		for _, s := range []string{"removed 1 container(s) left by an earlier run", "warning: container " + live,
			"still running", "docker rm -f " + live} {
			if !strings.Contains(out, s) {
				t.Errorf("stderr lacks %q:\n%s", s, out)
			}
		}
	})

	t.Run("failure carries the log tail", func(t *testing.T) {
		// The simulator exits at once on a bad flag, while the poller
		// waits: the start fails then, not at the start-up deadline.
		name := "e2e-fail-" + id
		e := simEngine(name, image, "-no-such-flag")
		e.Container.Startup = 10 * time.Minute
		eng, err := engines.New(e, run, engines.WithLogDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		_, err = eng.Start(t.Context())
		took := time.Since(began)
		_ = eng.Stop(context.Background())
		if err == nil {
			t.Fatal("Start succeeded with a bad flag")
		}
		t.Log(err)
		if !strings.Contains(err.Error(), "flag provided but not defined: -no-such-flag") || !strings.Contains(err.Error(), "last ") {
			t.Errorf("error lacks the log tail:\n%v", err)
		}
		// An exited container fails the wait at once, not at its deadline.
		if errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "the container exited with code 1 while waiting for POST /v1/completions") {
			t.Errorf("error says the wait ran out instead of the container exiting:\n%v", err)
		}
		if took > e.Container.Startup/10 {
			t.Errorf("Start failed after %v; want well before the %v deadline", took, e.Container.Startup)
		}
		if left := leftovers(t, cli, name); len(left) > 0 {
			t.Errorf("containers left behind: %v", left)
		}
		if errors.Is(err, engines.ErrSkip) {
			t.Error("a failure is not a skip")
		}
	})

	t.Run("twins", func(t *testing.T) { testTwins(t, cli) })

	t.Run("deadline names the probe", func(t *testing.T) {
		// The engine answers 503 until well after container.startup.
		name := "e2e-late-" + id
		e := simEngine(name, image, "-ready-after", "1h")
		e.Container.Startup = 3 * time.Second
		e.Container.Ready.ProbeTimeout = time.Second
		var notices benchtest.SyncBuffer
		eng, err := engines.New(e, run, engines.WithLogDir(t.TempDir()), engines.WithNotices(&notices))
		if err != nil {
			t.Fatal(err)
		}
		_, err = eng.Start(t.Context())
		_ = eng.Stop(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start = %v, want an error wrapping context.DeadlineExceeded", err)
		}
		t.Log(err)
		for _, want := range []string{`engine "` + name + `" was not ready within container.startup (3s)`,
			"POST /v1/completions never answered 2xx", "last: HTTP 503", "container.ready.probe_timeout, 1s",
			"serving model \"sim-e2e\""} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if left := leftovers(t, cli, name); len(left) > 0 {
			t.Errorf("containers left behind: %v", left)
		}
	})
}
