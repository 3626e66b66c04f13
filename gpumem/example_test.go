package gpumem_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/infbench/infbench/gpumem"
)

// The sampler on the go-nvml DGX H100 mock: a baseline before the engine
// starts, a Sampler while it runs, and the Summary's metrics. The mock's
// GPU 0 reports the memory in its MemoryInfo field; power, utilisation
// and SM clock are set to constants, and its energy counter is
// unsupported, so energy comes from the power samples.
//
// The interval is an hour so that the Sampler takes exactly two samples:
// one at Start and one at Stop. A benchmark keeps the default (100 ms).
func ExampleGPU_Start() {
	lib := dgxh100.New() // eight simulated H100s; nvml.New() on a real machine
	dev := lib.Devices[0].(*server.Device)
	dev.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 400_000, nvml.SUCCESS } // mW
	dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{Gpu: 90, Memory: 60}, nvml.SUCCESS
	}
	dev.GetClockInfoFunc = func(nvml.ClockType) (uint32, nvml.Return) { return 1980, nvml.SUCCESS }
	dev.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.ERROR_NOT_SUPPORTED }
	dev.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }

	g, err := gpumem.Open(lib, 0, gpumem.WithInterval(time.Hour))
	if err != nil {
		log.Fatal(err) // errors.Is(err, gpumem.ErrUnavailable) without a GPU
	}
	defer g.Close()
	for _, l := range g.ConfigLines() {
		fmt.Println(l)
	}

	ctx := context.Background()
	dev.MemoryInfo.Used = 2 << 30 // before the engine starts
	if _, err := g.Baseline(ctx); err != nil {
		log.Fatal(err)
	}
	dev.MemoryInfo.Used = 72 << 30 // the engine has taken 70 GiB

	s := g.Start(ctx, nil) // a file to keep every sample as a JSON line
	// ... the benchmark runs its load here ...
	sum := s.Stop()

	fmt.Printf("samples %d, memory %d, power %d; energy from %s\n",
		sum.Samples, sum.MemorySamples, sum.PowerSamples, sum.EnergySource)
	fmt.Printf("engine took %d GiB; errors %d\n", sum.EngineBytes>>30, sum.Errors)
	for _, m := range sum.Metrics(0) { // 0 output tokens: no J/tok
		fmt.Printf("%g %s\n", m.Value, m.Unit)
	}
	// Output:
	// gpu: NVIDIA H100 80GB HBM3
	// gpu-memory: 85899345920 B
	// gpu-driver: 550.54.15
	// gpu-cuda-driver: 12.4
	// samples 2, memory 2, power 2; energy from power-integral
	// engine took 70 GiB; errors 0
	// 7.7309411328e+10 gpu-mem-peak-B
	// 7.516192768e+10 gpu-mem-engine-B
	// 400 W
	// 90 gpu-util-%
	// 60 gpu-mem-util-%
	// 1980 sm-clock-MHz
}
