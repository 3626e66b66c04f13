package engines

import (
	"context"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/infbench/infbench/gpumem"
)

// nvmlGPU reads GPU 0's description (total memory, name, driver version)
// through NVML. Where NVML is absent it fails wrapping
// gpumem.ErrUnavailable.
func nvmlGPU(ctx context.Context) (gpumem.Info, error) { return gpuInfo(ctx, nil) }

// gpuInfo reads GPU 0 of lib (nil: the system's NVML; tests pass a mock).
func gpuInfo(ctx context.Context, lib nvml.Interface) (gpumem.Info, error) {
	if err := ctx.Err(); err != nil {
		return gpumem.Info{}, err
	}
	g, err := gpumem.Open(lib, 0)
	if err != nil {
		return gpumem.Info{}, fmt.Errorf("reading the GPU through NVML: %w", err)
	}
	defer g.Close()
	return g.Info(), nil
}

// memoryOnly adapts a function that reports only the GPU's memory and
// name (WithGPUMemory) to the preflight's GPU description.
func memoryOnly(f func(context.Context) (uint64, string, error)) func(context.Context) (gpumem.Info, error) {
	return func(ctx context.Context) (gpumem.Info, error) {
		b, name, err := f(ctx)
		return gpumem.Info{MemoryTotalBytes: b, Name: name}, err
	}
}
