package engines_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
)

// TensorRT-LLM's --extra_llm_api_options file reaches the container: the
// request BuildRequest makes from engines.yaml's trtllm entry is created
// (not started: the image is an empty FROM scratch one, as nothing can be
// pulled) and the file is read back from the container.
func TestFilesReachTheContainer(t *testing.T) {
	cli := dockerClient(t)
	// Any image will do: the container is only created. The simulator's
	// Dockerfile with a stand-in binary builds one without compiling.
	tag := buildImage(t, cli, "testdata/Dockerfile.sim", "infbench-sim", []byte("never run"), "infbench-files:test-"+randHex(4))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	run, err := config.LoadRun("../testdata/engines.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run.Profile = "h200"
	e, _ := run.Engine("trtllm")
	s, err := engines.ResolveSpec(e, run)
	if err != nil {
		t.Fatal(err)
	}
	req, err := engines.BuildRequest(s, func(k string) string { return map[string]string{"HOME": t.TempDir()}[k] })
	if err != nil {
		t.Fatal(err)
	}
	// Created only, without the GPU and the cache mount this host lacks.
	req.Image, req.Started, req.HostConfigModifier = tag, false, nil
	req.Labels = map[string]string{"io.infbench.test": "files"}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	if ctr != nil {
		defer func() { _ = ctr.Terminate(context.Background()) }()
	}
	if err != nil {
		t.Fatalf("creating the container: %v", err)
	}
	const path = "/etc/infbench/trtllm-llm-api.yaml"
	rc, err := ctr.CopyFileFromContainer(ctx, path)
	if err != nil {
		t.Fatalf("reading %s back from the container: %v", path, err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if want := "kv_cache_config:\n  dtype: fp8\n  free_gpu_memory_fraction: 0.9\n"; string(got) != want {
		t.Errorf("%s in the container is %q, want %q", path, got, want)
	}
}
