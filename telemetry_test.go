package infbench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/gpumem"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// Where NVML is absent, as on CI, the benchmark path reports nothing
// GPU-related and says why in one line.
func TestTelemetryAbsentWithoutDriver(t *testing.T) {
	g, why := OpenTelemetry(true, nvml.New())
	if g != nil {
		g.Close()
		t.Skip("a GPU is present on this machine")
	}
	assert.Contains(t, why, "GPU metrics off: ")
	assert.NotContains(t, why, "\n")
	assert.Empty(t, cellTelemetry(context.Background(), nil)(1000))

	g, why = OpenTelemetry(false, nil)
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

	g, why := OpenTelemetry(true, lib, gpumem.WithInterval(5*time.Millisecond))
	require.NotNil(t, g, why)
	defer g.Close()
	_, err := g.Baseline(context.Background())
	require.NoError(t, err)
	used.Store(70 << 30) // the engine loads
	// Start and Stop each take a sample (and read the energy counter), so
	// the cell needs no time to pass to be measured.
	stop := cellTelemetry(context.Background(), g)
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

// The samples gpumem writes are what the report's memory and power charts
// read: a results folder with one simulated cell and gpu-sim.jsonl written
// by a sampler over the H100 mock renders both charts.
func TestGPUSamplesReachTheReport(t *testing.T) {
	dir := t.TempDir()
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	w, err := resultsdir.Create(dir, resultsdir.Run{Start: time.Now(), GPU: "NVIDIA H100 80GB HBM3",
		Engines: []resultsdir.Engine{{Name: "sim", Kind: "sim", Model: "m"}}})
	require.NoError(t, err)

	lib := dgxh100.New()
	dev := lib.Devices[0].(*server.Device)
	var used atomic.Uint64
	used.Store(1 << 30)
	dev.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		u := used.Add(1 << 28) // the engine loads while the cell runs
		return nvml.Memory_v2{Version: 2, Total: 80 << 30, Used: u, Free: 80<<30 - u}, nvml.SUCCESS
	}
	dev.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 350_000, nvml.SUCCESS }
	g, why := OpenTelemetry(true, lib, gpumem.WithInterval(2*time.Millisecond))
	require.NotNil(t, g, why)
	defer g.Close()
	f, err := os.Create(filepath.Join(dir, "gpu-sim.jsonl"))
	require.NoError(t, err)
	s := g.Start(t.Context(), f)

	cl := cell.Cell{Engine: "sim", Concurrency: 2, Workload: "short", Prompts: []string{"Hi."}, MaxTokens: 8, Requests: 6, Warmup: 2}
	_, _, err = simtest.Record(t.Context(), t, w, simtest.Client(t, url, "m", 2), cl, cell.NewSalter(1), nil)
	require.NoError(t, err)
	// The charts need a few samples: wait for them rather than trust the
	// cell to last long enough on a busy machine (each sample reads the
	// memory once, and each read adds 256 MiB).
	require.Eventually(t, func() bool { return used.Load() >= 1<<30+4<<28 }, 10*time.Second, time.Millisecond)
	gs := s.Stop()
	require.NoError(t, f.Close())
	require.NoError(t, w.Close())
	require.Greater(t, gs.Samples, 2)

	require.NoError(t, report.Render(t.Context(), dir))
	for _, png := range []string{"gpu-memory.png", "gpu-power.png"} {
		st, err := os.Stat(filepath.Join(dir, png))
		require.NoError(t, err, "%s rendered from gpumem's samples", png)
		assert.Greater(t, st.Size(), int64(1000))
	}
}
