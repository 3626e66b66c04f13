package engines

import (
	"context"
	"fmt"

	"github.com/infbench/infbench/gpumem"
)

// nvmlMemory reads GPU 0's total memory and name through NVML. Where NVML
// is absent it fails wrapping gpumem.ErrUnavailable.
func nvmlMemory(ctx context.Context) (uint64, string, error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	g, err := gpumem.Open(nil, 0)
	if err != nil {
		return 0, "", fmt.Errorf("reading GPU memory through NVML: %w", err)
	}
	defer g.Close()
	info := g.Info()
	return info.MemoryTotalBytes, info.Name, nil
}
