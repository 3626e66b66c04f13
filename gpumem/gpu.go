package gpumem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// ErrUnavailable is wrapped by every error Open returns when GPU metrics
// cannot be collected on this machine: no NVML library, no driver, no
// device, or a device index that is not there. Callers print the error
// once to stderr and leave GPU metrics out; it is not a benchmark failure.
var ErrUnavailable = errors.New("gpumem: NVIDIA GPU metrics unavailable")

// DefaultInterval is the sampling period used when WithInterval is not given.
const DefaultInterval = 100 * time.Millisecond

// Option configures Open.
type Option func(*options)

type options struct {
	interval time.Duration
}

// WithInterval sets the period between two samples taken by a Sampler
// (default DefaultInterval). It must be positive.
func WithInterval(d time.Duration) Option {
	return func(o *options) { o.interval = d }
}

// Info describes the device, read once by Open. Fields that NVML could not
// report are left at their zero value.
type Info struct {
	Index int    // NVML device index (PCI bus order, not CUDA_VISIBLE_DEVICES order)
	Name  string // e.g. "NVIDIA H100 80GB HBM3"
	UUID  string // e.g. "GPU-…"

	MemoryTotalBytes uint64 // total device memory
	// MemoryAPI is the NVML call used for used memory: "v2"
	// (nvmlDeviceGetMemoryInfo_v2, excludes memory reserved by the driver)
	// or "v1" (nvmlDeviceGetMemoryInfo, which on recent drivers counts the
	// reserved memory as used).
	MemoryAPI string

	DriverVersion     string // e.g. "550.54.15"
	CUDADriverVersion string // highest CUDA version the driver supports, e.g. "12.4"

	MemoryBusWidthBits uint32 // e.g. 5120 on H100 SXM
	MaxMemoryClockMHz  uint32 // e.g. 2619 on H100 SXM
	// PeakMemBandwidth is the theoretical peak memory bandwidth in bytes/s:
	// MemoryBusWidthBits / 8 × MaxMemoryClockMHz × 1e6 × 2 (double data
	// rate). H100 SXM: 5120/8 × 2619e6 × 2 ≈ 3.35e12. Zero when either input
	// is unknown.
	PeakMemBandwidth float64
}

// GPU is one NVML device opened for sampling. Its methods are safe for
// concurrent use. Close it when done (after stopping its Samplers).
type GPU struct {
	lib      nvml.Interface
	dev      nvml.Device
	info     Info
	memV2    bool
	interval time.Duration

	mu        sync.Mutex
	baseline  *uint64 // used bytes recorded by the latest Baseline call
	closed    bool
	closeErr  error
	closeOnce sync.Once
}

// Open initialises NVML through lib (nvml.New() in production; a mock such
// as dgxh100.New() in tests; nil means nvml.New()) and opens device idx.
//
// Where NVML is absent or unusable it returns an error wrapping
// ErrUnavailable (and the nvml.Return, for errors.Is) with a one-line
// reason. A negative idx or an invalid option is a programming error and
// does not wrap ErrUnavailable.
func Open(lib nvml.Interface, idx int, opts ...Option) (*GPU, error) {
	o := options{interval: DefaultInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if o.interval <= 0 {
		return nil, fmt.Errorf("gpumem: WithInterval(%v): the sampling interval must be positive", o.interval)
	}
	if idx < 0 {
		return nil, fmt.Errorf("gpumem: device index %d: must be >= 0", idx)
	}
	if lib == nil {
		lib = nvml.New()
	}

	var ret nvml.Return
	if err := safe("Init", func() { ret = lib.Init() }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: NVML Init: %w (%s)", ErrUnavailable, ret, initHint(ret))
	}

	g, err := openDevice(lib, idx, o)
	if err != nil {
		_ = safe("Shutdown", func() { lib.Shutdown() })
		return nil, err
	}
	return g, nil
}

func initHint(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "libnvidia-ml.so.1 not found: no NVIDIA driver on this machine, or the driver libraries are not mounted into this container"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "the NVIDIA kernel driver is not loaded: check nvidia-smi"
	case nvml.ERROR_NO_PERMISSION:
		return "no permission to open /dev/nvidia*: run as a user with access to the GPU"
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		return "the NVML library and the kernel driver differ in version: reload the nvidia module or reboot"
	default:
		return "check nvidia-smi"
	}
}

func openDevice(lib nvml.Interface, idx int, o options) (*GPU, error) {
	dev, err := deviceHandle(lib, idx)
	if err != nil {
		return nil, err
	}
	g := &GPU{lib: lib, dev: dev, interval: o.interval}
	g.info.Index = idx
	if err := g.probeMemory(); err != nil {
		return nil, err
	}
	g.describe()
	return g, nil
}

// deviceHandle returns device idx, after checking NVML sees it.
func deviceHandle(lib nvml.Interface, idx int) (nvml.Device, error) {
	var (
		count int
		ret   nvml.Return
	)
	if err := safe("DeviceGetCount", func() { count, ret = lib.DeviceGetCount() }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: NVML DeviceGetCount: %w (check nvidia-smi)", ErrUnavailable, ret)
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: NVML sees no GPU on this machine", ErrUnavailable)
	}
	if idx >= count {
		return nil, fmt.Errorf("%w: device index %d out of range: NVML sees %d GPU(s), valid indices 0..%d", ErrUnavailable, idx, count, count-1)
	}
	var dev nvml.Device
	if err := safe("DeviceGetHandleByIndex", func() { dev, ret = lib.DeviceGetHandleByIndex(idx) }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: NVML DeviceGetHandleByIndex(%d): %w (check nvidia-smi)", ErrUnavailable, idx, ret)
	}
	return dev, nil
}

// probeMemory chooses the used-memory API and reads the total memory:
// the v2 API, which leaves out the memory the driver reserves, where it
// works; v1 where the library lacks the symbol or the device does not
// support v2. A device whose memory v1 cannot read either is unavailable.
func (g *GPU) probeMemory() error {
	if total, ok := g.memoryV2Total(); ok {
		g.memV2, g.info.MemoryAPI, g.info.MemoryTotalBytes = true, "v2", total
		return nil
	}
	var (
		m   nvml.Memory
		ret nvml.Return
	)
	if err := safe("GetMemoryInfo", func() { m, ret = g.dev.GetMemoryInfo() }); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if ret != nvml.SUCCESS {
		return fmt.Errorf("%w: NVML GetMemoryInfo on device %d: %w (check nvidia-smi)", ErrUnavailable, g.info.Index, ret)
	}
	g.info.MemoryAPI, g.info.MemoryTotalBytes = "v1", m.Total
	return nil
}

// memoryV2Total reads the total memory through the v2 API; ok says it
// worked. Checking the symbol first matters: the library is loaded lazily
// and calling an absent symbol kills the process.
func (g *GPU) memoryV2Total() (total uint64, ok bool) {
	err := safe("LookupSymbol", func() {
		if g.lib.Extensions().LookupSymbol("nvmlDeviceGetMemoryInfo_v2") != nil {
			return
		}
		m, ret := g.dev.GetMemoryInfo_v2()
		total, ok = m.Total, ret == nvml.SUCCESS
	})
	return total, err == nil && ok
}

// describe reads the descriptive fields of Info, best effort: each is
// left at its zero value where NVML cannot report it.
func (g *GPU) describe() {
	g.info.Name, _ = bestEffort(g.dev, "GetName", nvml.Device.GetName)
	g.info.UUID, _ = bestEffort(g.dev, "GetUUID", nvml.Device.GetUUID)
	g.info.DriverVersion, _ = bestEffort(g.lib, "SystemGetDriverVersion", nvml.Interface.SystemGetDriverVersion)
	if v, ok := bestEffort(g.lib, "SystemGetCudaDriverVersion", nvml.Interface.SystemGetCudaDriverVersion); ok && v > 0 {
		g.info.CUDADriverVersion = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	g.info.MemoryBusWidthBits, _ = bestEffort(g.dev, "GetMemoryBusWidth", nvml.Device.GetMemoryBusWidth)
	g.info.MaxMemoryClockMHz, _ = bestEffort(g.dev, "GetMaxClockInfo", func(d nvml.Device) (uint32, nvml.Return) {
		return d.GetMaxClockInfo(nvml.CLOCK_MEM)
	})
	g.info.PeakMemBandwidth = peakBandwidth(g.info.MemoryBusWidthBits, g.info.MaxMemoryClockMHz)
}

// bestEffort calls f on recv inside safe and returns its value, or the
// zero value and false where it failed or panicked.
func bestEffort[R, T any](recv R, api string, f func(R) (T, nvml.Return)) (T, bool) {
	var (
		v   T
		ret nvml.Return
	)
	if err := safe(api, func() { v, ret = f(recv) }); err != nil || ret != nvml.SUCCESS {
		var zero T
		return zero, false
	}
	return v, true
}

// peakBandwidth is busBits/8 bytes per transfer × clock (MHz→Hz) × 2
// transfers per clock (double data rate), in bytes/s.
func peakBandwidth(busBits, memClockMHz uint32) float64 {
	return float64(busBits) / 8 * float64(memClockMHz) * 1e6 * 2
}

// Close shuts NVML down. Stop every Sampler started on g first. Close is
// idempotent; later calls return the first call's result.
func (g *GPU) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		var ret nvml.Return
		if err := safe("Shutdown", func() { ret = g.lib.Shutdown() }); err != nil {
			g.closeErr = fmt.Errorf("gpumem: closing NVML: %w", err)
			return
		}
		if ret != nvml.SUCCESS {
			g.closeErr = fmt.Errorf("gpumem: closing NVML (Shutdown): %w", ret)
		}
	})
	return g.closeErr
}

// Info returns what Open read about the device.
func (g *GPU) Info() Info { return g.info }

// ConfigLines returns benchfmt configuration lines ("key: value", lower-case
// keys) describing the device, for TestMain to print before m.Run():
//
//	gpu: NVIDIA H100 80GB HBM3
//	gpu-memory: 85899345920 B
//	gpu-driver: 550.54.15
//	gpu-cuda-driver: 12.4
//	gpu-mem-bandwidth: 3352 GB/s
//
// Unknown values are left out. The UUID is left out on purpose: benchstat
// groups results by configuration, and a per-board UUID would keep two runs
// on identical GPUs apart.
func (g *GPU) ConfigLines() []string {
	var lines []string
	add := func(key, value string) {
		value = strings.Join(strings.Fields(value), " ")
		if value != "" {
			lines = append(lines, key+": "+value)
		}
	}
	add("gpu", g.info.Name)
	if g.info.MemoryTotalBytes > 0 {
		add("gpu-memory", fmt.Sprintf("%d B", g.info.MemoryTotalBytes))
	}
	add("gpu-driver", g.info.DriverVersion)
	add("gpu-cuda-driver", g.info.CUDADriverVersion)
	if g.info.PeakMemBandwidth > 0 {
		add("gpu-mem-bandwidth", fmt.Sprintf("%.0f GB/s", g.info.PeakMemBandwidth/1e9))
	}
	return lines
}

// Baseline reads the device once, before the engine starts, and records
// its used memory; every Sampler started afterwards reports
// Summary.EngineBytes = peak used − this baseline. Call it again before
// starting the next engine. The returned Sample's UsedBytes is set whenever
// err is nil.
func (g *GPU) Baseline(ctx context.Context) (Sample, error) {
	if err := ctx.Err(); err != nil {
		return Sample{}, fmt.Errorf("gpumem: baseline: %w", err)
	}
	if err := g.checkOpen(); err != nil {
		return Sample{}, err
	}
	s, err := g.readUsed()
	if err != nil {
		return s, err
	}
	used := *s.UsedBytes
	g.mu.Lock()
	g.baseline = &used
	g.mu.Unlock()
	return s, nil
}

// readUsed takes one sample with a fresh reader; err unless it carries
// the used memory.
func (g *GPU) readUsed() (Sample, error) {
	now := time.Now()
	s, errs := g.newReader().read(now, now)
	if s.UsedBytes != nil {
		return s, nil
	}
	err := errors.New("no reading")
	if len(errs) > 0 {
		err = errors.Join(errs...)
	}
	return s, fmt.Errorf("gpumem: baseline: reading used memory of GPU %d: %w (is the device healthy? check nvidia-smi)", g.info.Index, err)
}

// state returns a copy of the latest baseline (nil: none) and whether g
// is still open, read together.
func (g *GPU) state() (baseline *uint64, open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.baseline != nil {
		b := *g.baseline
		baseline = &b
	}
	return baseline, !g.closed
}

func (g *GPU) checkOpen() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("gpumem: GPU already closed: call Open again")
	}
	return nil
}

// safe runs f, turning a panic (a mock without the function, for one) into
// an error, so that a telemetry failure never takes the benchmark process
// (and the containers it must clean up) down with it.
func safe(api string, f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("NVML %s panicked: %v", api, p)
		}
	}()
	f()
	return nil
}
