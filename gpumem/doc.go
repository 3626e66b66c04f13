// Package gpumem measures what an LLM serving engine costs on one NVIDIA
// GPU, through NVML (github.com/NVIDIA/go-nvml): the memory the engine
// takes over what was in use before it started, peak and mean memory, power
// and energy, SM and memory utilisation, and SM clock, sampled while a
// benchmark runs. It knows nothing of engines or load generation.
//
// The package depends on nvml.Interface only, so tests inject
// github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100. It needs cgo.
//
// # API
//
//	func Open(lib nvml.Interface, idx int, opts ...Option) (*GPU, error) // lib: nvml.New() (nil means that)
//	func WithInterval(d time.Duration) Option                           // default DefaultInterval (100 ms)
//	func (g *GPU) Close() error
//	func (g *GPU) Info() Info
//	func (g *GPU) ConfigLines() []string                                 // benchfmt "key: value" lines
//	func (g *GPU) Baseline(ctx context.Context) (Sample, error)         // used memory before the engine starts
//	func (g *GPU) Start(ctx context.Context, w io.Writer) *Sampler      // w: JSON lines, may be nil
//	func (s *Sampler) Stop() Summary                                     // idempotent
//	func (s Summary) Metrics(outputTokens float64) []Metric              // for b.ReportMetric
//
// # Use
//
//	g, err := gpumem.Open(nvml.New(), 0)
//	if errors.Is(err, gpumem.ErrUnavailable) {
//		fmt.Fprintln(os.Stderr, "infbench:", err) // once; GPU metrics are left out
//	}
//	defer g.Close()
//	for _, l := range g.ConfigLines() { fmt.Println(l) } // in TestMain, before m.Run
//	g.Baseline(ctx)                                     // before starting the engine
//	// ... start the engine ...
//	s := g.Start(ctx, samplesFile)                      // per benchmark leaf
//	// ... run the load ...
//	sum := s.Stop()
//	for _, m := range sum.Metrics(outputTokens) { b.ReportMetric(m.Value, m.Unit) }
//
// ExampleGPU_Start runs this against the go-nvml DGX H100 mock.
//
// A Sampler is the loop (sampler.go: Start, Stop, the samples file); it
// takes each Sample with a reader (reader.go: one NVML call per metric)
// and folds it into an accumulator (summary.go: peaks, means, the energy
// source), which makes the Summary.
//
// # What is measured
//
// Used memory comes from nvmlDeviceGetMemoryInfo_v2, which leaves out the
// memory the driver reserves; where v2 is missing or unsupported, from v1
// (Info.MemoryAPI says which). A whole-GPU figure is meaningless for an
// engine that preallocates (vLLM takes 90% at start), so the numbers that
// matter are Summary.EngineBytes (peak − baseline: what the engine took,
// weights and KV cache included) and the per-process peaks where NVML can
// see the processes.
//
// Energy is the delta of nvmlDeviceGetTotalEnergyConsumption (mJ) between
// Start and Stop. Where the counter is unsupported, fails, does not move or
// goes backwards, it is the trapezoid integral of the power samples;
// Summary.EnergySource says which ("counter", "power-integral", "none").
//
// Info.PeakMemBandwidth = bus width bits / 8 × max memory clock × 2 (double
// data rate), in bytes/s.
//
// # Errors
//
// Open returns an error wrapping ErrUnavailable where NVML is absent (no
// libnvidia-ml, driver not loaded, no device, index out of range). An NVML
// error on one sample does not stop a Sampler: the metric is left out of
// that sample, counted in Summary.Errors, and the first message is kept in
// Summary.FirstError. A metric the device does not support is asked for
// once and listed in Summary.Unsupported. A panic inside an NVML call (a
// mock lacking a function) is turned into such an error too.
//
// # Samples file
//
// Start writes one JSON object per line (see Sample): offset_ns, time,
// used_B, power_W, sm_util_pct, mem_util_pct, sm_clock_MHz, procs
// [{pid, used_B}], errors; a metric that could not be read is absent.
//
// # Checking on a real GPU
//
// scripts/gpu-check.sh runs TestGPUCheck (skipped unless
// INFBENCH_GPU_CHECK=1) from a test binary built beforehand with
// "go test -c -o bin/gpumem.test ./gpumem/": it measures a known PyTorch
// allocation and a few seconds of matmuls.
//
// The package keeps no package-level mutable state.
package gpumem
