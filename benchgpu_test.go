package infbench_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/infbench/infbench/gpumem"
	"github.com/infbench/infbench/resultsdir"
)

// openTelemetry opens the GPU the container engines run on, or returns nil
// and a one-line reason why GPU metrics are left out: the engines of a
// build without -tags=gpu (the simulator, an external server) do not use
// this machine's GPU, and without a driver NVML is absent.
func openTelemetry(gpuBuild bool, lib nvml.Interface, opts ...gpumem.Option) (*gpumem.GPU, string) {
	if !gpuBuild {
		return nil, "GPU metrics off: the engines of this run do not run on this machine's GPU (container engines need -tags=gpu)"
	}
	g, err := gpumem.Open(lib, 0, opts...)
	if err != nil {
		if errors.Is(err, gpumem.ErrUnavailable) {
			return nil, "GPU metrics off: " + err.Error()
		}
		return nil, fmt.Sprintf("GPU metrics off: opening GPU 0: %v", err)
	}
	return g, ""
}

// benchTelemetry opens the GPU for BenchmarkServe: it prints the GPU's
// configuration lines, records its name in run.json, and closes it when
// the matrix ends. Nil where there is no GPU to measure.
func benchTelemetry(b *testing.B, gpuBuild bool, rw *resultsdir.Writer, log io.Writer) *gpumem.GPU {
	g, why := openTelemetry(gpuBuild, nvml.New())
	if g == nil {
		fmt.Fprintln(log, "[infbench]", why)
		return nil
	}
	b.Cleanup(func() { _ = g.Close() })
	for _, l := range g.ConfigLines() {
		fmt.Println(l)
	}
	if err := rw.UpdateRun(func(r *resultsdir.Run) { r.GPU = g.Info().Name }); err != nil {
		b.Fatal(err)
	}
	return g
}

// engineTelemetry takes the baseline before an engine starts and samples
// the GPU until the engine has stopped (cleanups run last-in first-out, and
// this one is registered before the engine's), writing every sample to
// gpu-<engine>.jsonl in the results folder as it is taken.
func engineTelemetry(b *testing.B, g *gpumem.GPU, dir, engine string) {
	if g == nil {
		return
	}
	if _, err := g.Baseline(b.Context()); err != nil {
		fmt.Fprintf(os.Stderr, "[infbench] engine %s: no GPU memory baseline, gpu-mem-engine-B left out: %v\n", engine, err)
	}
	f, err := os.Create(filepath.Join(dir, "gpu-"+engine+".jsonl"))
	if err != nil {
		b.Fatalf("GPU samples file: %v", err)
	}
	s := g.Start(context.WithoutCancel(b.Context()), f)
	b.Cleanup(func() {
		sum := s.Stop()
		_ = f.Close()
		if sum.Errors > 0 {
			fmt.Fprintf(os.Stderr, "[infbench] engine %s: %d GPU sampling errors, first: %s\n", engine, sum.Errors, sum.FirstError)
		}
	})
}

// cellTelemetry samples the GPU while one cell runs; stop returns its
// metrics for the cell's output tokens (none without a GPU).
func cellTelemetry(ctx context.Context, g *gpumem.GPU) (stop func(outputTokens int) []gpumem.Metric) {
	if g == nil {
		return func(int) []gpumem.Metric { return nil }
	}
	s := g.Start(ctx, io.Discard)
	return func(outputTokens int) []gpumem.Metric { return s.Stop().Metrics(float64(outputTokens)) }
}
