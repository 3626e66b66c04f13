package infbench_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/gpumem"
)

// Where NVML is absent, as on CI, the benchmark path reports nothing
// GPU-related and says why in one line.
func TestTelemetryAbsentWithoutDriver(t *testing.T) {
	g, why := openTelemetry(true, nvml.New())
	if g != nil {
		g.Close()
		t.Skip("a GPU is present on this machine")
	}
	assert.Contains(t, why, "GPU metrics off: ")
	assert.NotContains(t, why, "\n")
	assert.Empty(t, cellTelemetry(context.Background(), nil)(1000))

	g, why = openTelemetry(false, nil)
	assert.Nil(t, g)
	assert.Contains(t, why, "-tags=gpu")
}

// With a GPU (the go-nvml H100 mock), a cell reports the GPU metrics.
func TestTelemetryWithMockGPU(t *testing.T) {
	lib := dgxh100.New()
	dev := lib.Devices[0].(*server.Device)
	var used, energy atomic.Uint64
	used.Store(40 << 30)
	dev.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		u := used.Load()
		return nvml.Memory_v2{Version: 2, Total: 80 << 30, Used: u, Free: 80<<30 - u}, nvml.SUCCESS
	}
	dev.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 500_000, nvml.SUCCESS }
	dev.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return energy.Add(100_000), nvml.SUCCESS }
	dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{Gpu: 90, Memory: 60}, nvml.SUCCESS }

	g, why := openTelemetry(true, lib, gpumem.WithInterval(5*time.Millisecond))
	require.NotNil(t, g, why)
	defer g.Close()
	_, err := g.Baseline(context.Background())
	require.NoError(t, err)
	used.Store(70 << 30) // the engine loads
	stop := cellTelemetry(context.Background(), g)
	time.Sleep(20 * time.Millisecond)
	units := map[string]float64{}
	for _, m := range stop(1000) {
		units[m.Unit] = m.Value
	}
	assert.Equal(t, float64(70<<30), units["gpu-mem-peak-B"])
	assert.Equal(t, float64(30<<30), units["gpu-mem-engine-B"], "peak − baseline")
	assert.Contains(t, units, "J/tok")
	assert.Equal(t, 90.0, units["gpu-util-%"])
	for u := range units {
		assert.False(t, strings.Contains(u, " "), u)
	}
}
