package infbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/infbench/infbench/gpumem"
	"github.com/infbench/infbench/loadgen"
)

// OpenTelemetry opens the GPU the container engines run on, or returns nil
// and a one-line reason why GPU metrics are left out: the engines of a
// build without -tags=gpu (the simulator, an external server) do not use
// this machine's GPU, and without a driver NVML is absent.
func OpenTelemetry(gpuBuild bool, lib nvml.Interface, opts ...gpumem.Option) (*gpumem.GPU, string) {
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

// engineTelemetry takes the baseline before an engine starts and samples
// the GPU until stop is called (after the engine has stopped), writing
// every sample to gpu-<engine>.jsonl in dir as it is taken. Without a GPU
// it does nothing.
func engineTelemetry(ctx context.Context, g *gpumem.GPU, dir, engine string, log io.Writer) (stop func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	if _, err := g.Baseline(ctx); err != nil {
		fmt.Fprintf(log, "[infbench] engine %s: no GPU memory baseline, gpu-mem-engine-B left out: %v\n", engine, err)
	}
	f, err := os.Create(filepath.Join(dir, "gpu-"+engine+".jsonl"))
	if err != nil {
		return nil, fmt.Errorf("GPU samples file: %w", err)
	}
	s := g.Start(context.WithoutCancel(ctx), f)
	return func() {
		sum := s.Stop()
		_ = f.Close()
		if sum.Errors > 0 {
			fmt.Fprintf(log, "[infbench] engine %s: %d GPU sampling errors, first: %s\n", engine, sum.Errors, sum.FirstError)
		}
	}, nil
}

// cellTelemetry samples the GPU while one cell runs; stop returns its
// metrics for the cell's output tokens (none without a GPU), converted to
// the benchmark metrics' type: the one place GPU metrics become them.
func cellTelemetry(ctx context.Context, g *gpumem.GPU) (stop func(outputTokens int) []loadgen.Metric) {
	if g == nil {
		return func(int) []loadgen.Metric { return nil }
	}
	s := g.Start(ctx, io.Discard)
	return func(outputTokens int) []loadgen.Metric {
		gm := s.Stop().Metrics(float64(outputTokens))
		m := make([]loadgen.Metric, len(gm))
		for i, x := range gm {
			m[i] = loadgen.Metric{Value: x.Value, Unit: x.Unit}
		}
		return m
	}
}
