package gpumem

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	gib      = uint64(1) << 30
	interval = 5 * time.Millisecond
	// patience bounds waits for the sampler to reach a call count; it is a
	// deadline against hangs, not a timing assertion.
	patience = 10 * time.Second
)

// fakeGPU is a dgxh100 mock whose device 0 reads from atomics the test
// controls, and counts the calls.
type fakeGPU struct {
	srv *server.Server
	dev *server.Device

	used    atomic.Uint64 // bytes
	powerMW atomic.Uint32
	energy  atomic.Uint64 // mJ
	smUtil  atomic.Uint32
	memUtil atomic.Uint32
	smClock atomic.Uint32

	memRet    atomic.Int64 // nvml.Return for GetMemoryInfo_v2
	energyRet atomic.Int64 // nvml.Return for GetTotalEnergyConsumption
	powerRet  atomic.Int64 // nvml.Return for GetPowerUsage

	memCalls   atomic.Int64
	powerCalls atomic.Int64
	// powerFail, when set, decides from the 1-based call number whether
	// GetPowerUsage fails with ERROR_UNKNOWN.
	powerFail func(call int64) bool
}

func newFakeGPU(t *testing.T) *fakeGPU {
	t.Helper()
	f := &fakeGPU{srv: dgxh100.New()}
	f.dev = f.srv.Devices[0].(*server.Device)
	f.used.Store(1 * gib)
	f.powerMW.Store(300_000)
	f.energy.Store(1_000_000)
	f.smUtil.Store(80)
	f.memUtil.Store(40)
	f.smClock.Store(1980)

	d := f.dev
	d.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		f.memCalls.Add(1)
		if r := nvml.Return(f.memRet.Load()); r != nvml.SUCCESS {
			return nvml.Memory_v2{}, r
		}
		total := 80 * gib
		u := f.used.Load()
		return nvml.Memory_v2{Version: 2, Total: total, Reserved: 512 << 20, Used: u, Free: total - u}, nvml.SUCCESS
	}
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) {
		n := f.powerCalls.Add(1)
		if f.powerFail != nil && f.powerFail(n) {
			return 0, nvml.ERROR_UNKNOWN
		}
		if r := nvml.Return(f.powerRet.Load()); r != nvml.SUCCESS {
			return 0, r
		}
		return f.powerMW.Load(), nvml.SUCCESS
	}
	d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) {
		if r := nvml.Return(f.energyRet.Load()); r != nvml.SUCCESS {
			return 0, r
		}
		return f.energy.Load(), nvml.SUCCESS
	}
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{Gpu: f.smUtil.Load(), Memory: f.memUtil.Load()}, nvml.SUCCESS
	}
	d.GetClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
		if c != nvml.CLOCK_SM {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return f.smClock.Load(), nvml.SUCCESS
	}
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{
			{Pid: 4242, UsedGpuMemory: f.used.Load() - 1*gib},
			{Pid: 7, UsedGpuMemory: 0xFFFFFFFFFFFFFFFF}, // NVML_VALUE_NOT_AVAILABLE: dropped
		}, nvml.SUCCESS
	}
	d.GetMemoryBusWidthFunc = func() (uint32, nvml.Return) { return 5120, nvml.SUCCESS }
	d.GetMaxClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
		if c != nvml.CLOCK_MEM {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return 2619, nvml.SUCCESS
	}
	return f
}

func (f *fakeGPU) open(t *testing.T) *GPU {
	t.Helper()
	g, err := Open(f.srv, 0, WithInterval(interval))
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// waitCalls blocks until memory has been read at least n times in all
// (Open's probe of GetMemoryInfo_v2 counts as one).
func (f *fakeGPU) waitCalls(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return f.memCalls.Load() >= n }, patience, time.Millisecond,
		"sampler did not take %d samples", n)
}

// lockedBuffer lets the test read what the sampler goroutine writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func parseSamples(t *testing.T, data []byte) []Sample {
	t.Helper()
	var out []Sample
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var s Sample
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s), "line %q", sc.Text())
		out = append(out, s)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestOpenMockInfo(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	info := g.Info()
	assert.Equal(t, 0, info.Index)
	assert.Equal(t, "NVIDIA H100 80GB HBM3", info.Name)
	assert.Regexp(t, `^GPU-`, info.UUID)
	assert.Equal(t, 80*gib, info.MemoryTotalBytes)
	assert.Equal(t, "v2", info.MemoryAPI)
	assert.Equal(t, "550.54.15", info.DriverVersion)
	assert.Equal(t, "12.4", info.CUDADriverVersion)
	assert.Equal(t, uint32(5120), info.MemoryBusWidthBits)
	assert.Equal(t, uint32(2619), info.MaxMemoryClockMHz)
	// 5120 bits / 8 × 2619 MHz × 2 (DDR) = 3.35232e12 B/s
	assert.InDelta(t, 3.35232e12, info.PeakMemBandwidth, 1)

	lines := g.ConfigLines()
	assert.Equal(t, []string{
		"gpu: NVIDIA H100 80GB HBM3",
		"gpu-memory: 85899345920 B",
		"gpu-driver: 550.54.15",
		"gpu-cuda-driver: 12.4",
		"gpu-mem-bandwidth: 3352 GB/s",
	}, lines)
	key := regexp.MustCompile(`^[a-z][a-z0-9-]*: \S.*$`)
	for _, l := range lines {
		assert.Regexp(t, key, l, "benchfmt config line")
	}
}

func TestOpenPlainDGXH100FallsBackToV1(t *testing.T) {
	// The stock mock has no GetMemoryInfo_v2, bus width, clocks or power:
	// Open must not panic, must use v1 and leave the unknowns out.
	srv := dgxh100.New()
	g, err := Open(srv, 3)
	require.NoError(t, err)
	defer g.Close()
	info := g.Info()
	assert.Equal(t, 3, info.Index)
	assert.Equal(t, "v1", info.MemoryAPI)
	assert.Equal(t, 80*gib, info.MemoryTotalBytes)
	assert.Zero(t, info.PeakMemBandwidth)
	for _, l := range g.ConfigLines() {
		assert.NotContains(t, l, "bandwidth")
	}

	// Sampling a device whose mock lacks most functions: the panics
	// become counted errors; memory is still read.
	s := g.Start(context.Background(), nil)
	sum := s.Stop()
	assert.GreaterOrEqual(t, sum.Samples, 1)
	assert.Equal(t, sum.Samples, sum.MemorySamples)
	assert.Positive(t, sum.Errors)
	assert.Contains(t, sum.FirstError, "panicked")
	assert.Zero(t, sum.PowerSamples)
	assert.Equal(t, EnergyNone, sum.EnergySource)
}

func TestOpenV2NotSupportedUsesV1(t *testing.T) {
	f := newFakeGPU(t)
	f.memRet.Store(int64(nvml.ERROR_NOT_SUPPORTED))
	f.dev.MemoryInfo = nvml.Memory{Total: 80 * gib, Used: 7 * gib, Free: 73 * gib}
	g := f.open(t)
	assert.Equal(t, "v1", g.Info().MemoryAPI)
	b, err := g.Baseline(context.Background())
	require.NoError(t, err)
	require.NotNil(t, b.UsedBytes)
	assert.Equal(t, 7*gib, *b.UsedBytes)
}

func TestOpenErrors(t *testing.T) {
	t.Run("init fails", func(t *testing.T) {
		for _, ret := range []nvml.Return{nvml.ERROR_LIBRARY_NOT_FOUND, nvml.ERROR_DRIVER_NOT_LOADED, nvml.ERROR_NO_PERMISSION} {
			srv := dgxh100.New()
			srv.InitFunc = func() nvml.Return { return ret }
			g, err := Open(srv, 0)
			require.Error(t, err)
			assert.Nil(t, g)
			assert.ErrorIs(t, err, ErrUnavailable)
			assert.ErrorIs(t, err, ret)
			assert.NotContains(t, err.Error(), "\n", "one-line reason")
			assert.Empty(t, srv.ShutdownCalls(), "no Shutdown after a failed Init")
		}
	})
	t.Run("no device", func(t *testing.T) {
		srv := dgxh100.NewWithGPUs()
		_, err := Open(srv, 0)
		assert.ErrorIs(t, err, ErrUnavailable)
		assert.Contains(t, err.Error(), "no GPU")
		assert.Len(t, srv.ShutdownCalls(), 1, "NVML shut down after a failed Open")
	})
	t.Run("index out of range", func(t *testing.T) {
		srv := dgxh100.New()
		_, err := Open(srv, 8)
		assert.ErrorIs(t, err, ErrUnavailable)
		assert.Contains(t, err.Error(), "device index 8 out of range: NVML sees 8 GPU(s)")
		assert.Len(t, srv.ShutdownCalls(), 1)
	})
	t.Run("memory unreadable", func(t *testing.T) {
		srv := dgxh100.New()
		srv.Devices[0].(*server.Device).GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{}, nvml.ERROR_GPU_IS_LOST
		}
		_, err := Open(srv, 0)
		assert.ErrorIs(t, err, ErrUnavailable)
		assert.ErrorIs(t, err, nvml.ERROR_GPU_IS_LOST)
	})
	t.Run("negative index is not ErrUnavailable", func(t *testing.T) {
		_, err := Open(dgxh100.New(), -1)
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrUnavailable)
	})
	t.Run("bad interval", func(t *testing.T) {
		_, err := Open(dgxh100.New(), 0, WithInterval(0))
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrUnavailable)
		assert.Contains(t, err.Error(), "WithInterval")
	})
}

// TestOpenRealNVMLWithoutDriver runs the production path on this machine:
// without libnvidia-ml, Open must report ErrUnavailable, not crash.
func TestOpenRealNVMLWithoutDriver(t *testing.T) {
	var (
		g   *GPU
		err error
	)
	require.NotPanics(t, func() { g, err = Open(nvml.New(), 0) })
	if err == nil {
		_ = g.Close()
		t.Skipf("an NVIDIA GPU is present (%s); nothing to check here", g.Info().Name)
	}
	t.Logf("Open(nvml.New(), 0): %v", err)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.NotContains(t, err.Error(), "\n")
	// nil means nvml.New() too.
	require.NotPanics(t, func() { _, err = Open(nil, 0) })
	assert.ErrorIs(t, err, ErrUnavailable)
}

func TestClose(t *testing.T) {
	f := newFakeGPU(t)
	g, err := Open(f.srv, 0)
	require.NoError(t, err)
	require.NoError(t, g.Close())
	require.NoError(t, g.Close())
	assert.Len(t, f.srv.ShutdownCalls(), 1, "Close is idempotent")
	_, err = g.Baseline(context.Background())
	assert.ErrorContains(t, err, "closed")

	f.srv.ShutdownFunc = func() nvml.Return { return nvml.ERROR_UNKNOWN }
	g, err = Open(f.srv, 0)
	require.NoError(t, err)
	assert.ErrorIs(t, g.Close(), nvml.ERROR_UNKNOWN)
}

func TestBaselineSubtraction(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)

	f.used.Store(2 * gib) // before the engine
	b, err := g.Baseline(context.Background())
	require.NoError(t, err)
	require.NotNil(t, b.UsedBytes)
	assert.Equal(t, 2*gib, *b.UsedBytes)

	f.used.Store(2*gib + 70*gib) // the engine preallocated 70 GiB
	s := g.Start(context.Background(), nil)
	f.waitCalls(t, 2+3) // Open's probe and Baseline read once each
	sum := s.Stop()

	assert.True(t, sum.HasBaseline)
	assert.Equal(t, 2*gib, sum.BaselineBytes)
	assert.Equal(t, 72*gib, sum.PeakUsedBytes)
	assert.Equal(t, int64(70*gib), sum.EngineBytes)
	assert.Equal(t, float64(72*gib), sum.MeanUsedBytes)
	assert.Equal(t, map[uint32]uint64{4242: 71 * gib}, sum.ProcessPeakBytes)

	m := metricMap(sum.Metrics(1000))
	assert.Equal(t, float64(72*gib), m["gpu-mem-peak-B"])
	assert.Equal(t, float64(70*gib), m["gpu-mem-engine-B"])
}

func TestNoBaselineNoEngineMetric(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	sum := g.Start(context.Background(), nil).Stop()
	assert.False(t, sum.HasBaseline)
	assert.Zero(t, sum.EngineBytes)
	m := metricMap(sum.Metrics(1000))
	assert.Contains(t, m, "gpu-mem-peak-B")
	assert.NotContains(t, m, "gpu-mem-engine-B")
}

func TestBaselineErrors(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := g.Baseline(ctx)
	assert.ErrorIs(t, err, context.Canceled)

	f.memRet.Store(int64(nvml.ERROR_GPU_IS_LOST))
	_, err = g.Baseline(context.Background())
	assert.ErrorIs(t, err, nvml.ERROR_GPU_IS_LOST)
	assert.ErrorContains(t, err, "baseline")
}

// TestPeakAndMean feeds a known memory sequence and checks the summary
// against it and against the samples written.
func TestPeakAndMean(t *testing.T) {
	f := newFakeGPU(t)
	seq := []uint64{10 * gib, 30 * gib, 20 * gib}
	var n atomic.Int64
	f.dev.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		i := n.Add(1) - 1
		f.memCalls.Add(1)
		u := seq[int(i)%len(seq)]
		return nvml.Memory_v2{Total: 80 * gib, Used: u}, nvml.SUCCESS
	}
	g := f.open(t) // Open probes once: call 0 (10 GiB)
	var out lockedBuffer
	s := g.Start(context.Background(), &out)
	f.waitCalls(t, 7)
	sum := s.Stop()

	samples := parseSamples(t, out.Bytes())
	require.Len(t, samples, sum.Samples)
	require.GreaterOrEqual(t, sum.Samples, 6)
	var total float64
	for i, smp := range samples {
		require.NotNil(t, smp.UsedBytes)
		assert.Equal(t, seq[(i+1)%len(seq)], *smp.UsedBytes, "sample %d", i)
		total += float64(*smp.UsedBytes)
	}
	assert.Equal(t, 30*gib, sum.PeakUsedBytes)
	assert.InDelta(t, total/float64(len(samples)), sum.MeanUsedBytes, 1)
	assert.Equal(t, sum.Samples, sum.MemorySamples)
}

func TestEnergyCounterDelta(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	f.energy.Store(5_000_000)
	s := g.Start(context.Background(), nil) // reads 5,000,000 mJ
	f.energy.Store(5_250_000)               // +250 J
	f.waitCalls(t, 2)
	sum := s.Stop() // reads 5,250,000 mJ

	assert.Equal(t, EnergyCounter, sum.EnergySource)
	assert.InDelta(t, 250.0, sum.Joules, 1e-9)
	require.Positive(t, sum.Duration)
	assert.InDelta(t, 250.0/sum.Duration.Seconds(), sum.MeanPowerW, 1e-6, "mean power from the counter")
	m := metricMap(sum.Metrics(1000))
	assert.InDelta(t, 0.25, m["J/tok"], 1e-12)
	assert.Contains(t, m, "W")
	assert.Zero(t, sum.Errors, sum.FirstError)
}

func TestEnergyCounterStuckFallsBackToPower(t *testing.T) {
	f := newFakeGPU(t)
	f.powerMW.Store(350_000) // 350 W, constant
	g := f.open(t)
	var out lockedBuffer
	s := g.Start(context.Background(), &out) // counter stays at 1,000,000 mJ
	f.waitCalls(t, 4)
	sum := s.Stop()

	assert.Equal(t, EnergyPowerIntegral, sum.EnergySource)
	samples := parseSamples(t, out.Bytes())
	require.GreaterOrEqual(t, len(samples), 2)
	span := (samples[len(samples)-1].Offset - samples[0].Offset).Seconds()
	assert.InDelta(t, 350*span, sum.Joules, 1e-9, "trapezoid of a constant power")
	assert.Equal(t, sum.Joules, sum.PowerIntegralJoules)
	assert.InDelta(t, 350.0, sum.MeanPowerW, 1e-9)
	assert.Equal(t, len(samples), sum.PowerSamples)
}

func TestPowerIntegralTrapezoid(t *testing.T) {
	// Pure check of the accumulator with controlled offsets: 100 W at
	// 0 s, 300 W at 1 s, (power missing at 2 s), 300 W at 3 s:
	// (100+300)/2×1 + (300+300)/2×2 = 200 + 600 = 800 J.
	var a accumulator
	w := func(v float64) *float64 { return &v }
	a.add(Sample{Offset: 0, PowerW: w(100)})
	a.add(Sample{Offset: time.Second, PowerW: w(300)})
	a.add(Sample{Offset: 2 * time.Second})
	a.add(Sample{Offset: 3 * time.Second, PowerW: w(300)})
	assert.InDelta(t, 800.0, a.power.joules, 1e-9)
	assert.Equal(t, 3, a.power.n)
	assert.Equal(t, 4, a.samples)
}

// TestSummaryEnergySource checks the accumulator's choice of energy
// source on controlled inputs: the counter where both reads succeeded and
// it moved forward, else the power integral from two power samples, else
// none.
func TestSummaryEnergySource(t *testing.T) {
	w := func(v float64) *float64 { return &v }
	twoPower := []Sample{{Offset: 0, PowerW: w(100)}, {Offset: time.Second, PowerW: w(100)}} // 100 J
	moved := energyCounter{start: 1_000, end: 251_000, startOK: true, endOK: true}           // 250 J
	for _, c := range []struct {
		name      string
		samples   []Sample
		counter   energyCounter
		source    string
		joules    float64
		meanPower float64
	}{
		{"counter moved", twoPower, moved, EnergyCounter, 250, 125}, // 250 J over 2 s
		{"counter stuck", twoPower, energyCounter{start: 5, end: 5, startOK: true, endOK: true}, EnergyPowerIntegral, 100, 100},
		{"counter went back", twoPower, energyCounter{start: 9, end: 5, startOK: true, endOK: true}, EnergyPowerIntegral, 100, 100},
		{"counter unread at Stop", twoPower, energyCounter{start: 1_000, end: 251_000, startOK: true}, EnergyPowerIntegral, 100, 100},
		{"counter moved, no power", nil, moved, EnergyCounter, 250, 125},
		{"one power sample", twoPower[:1], energyCounter{}, EnergyNone, 0, 100},
		{"nothing", nil, energyCounter{}, EnergyNone, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a accumulator
			for _, s := range c.samples {
				a.add(s)
			}
			sum := a.summary(2*time.Second, nil, c.counter, nil)
			assert.Equal(t, c.source, sum.EnergySource)
			assert.InDelta(t, c.joules, sum.Joules, 1e-9)
			assert.InDelta(t, c.meanPower, sum.MeanPowerW, 1e-9)
			assert.Equal(t, len(c.samples), sum.PowerSamples)
			if len(c.samples) >= 2 {
				assert.InDelta(t, 100, sum.PowerIntegralJoules, 1e-9, "the cross-check, whatever the source")
			} else {
				assert.Zero(t, sum.PowerIntegralJoules)
			}
		})
	}
}

// TestSummaryMemoryAndActivity checks the accumulator's memory and
// activity fields on a known sequence, with and without a baseline.
func TestSummaryMemoryAndActivity(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	f := func(v float64) *float64 { return &v }
	var a accumulator
	a.add(Sample{UsedBytes: u(10 * gib), SMUtilPct: f(50), MemUtilPct: f(20), SMClockMHz: f(1000),
		Processes: []Process{{PID: 1, UsedBytes: 4 * gib}}})
	a.add(Sample{UsedBytes: u(30 * gib), SMUtilPct: f(100), Processes: []Process{{PID: 1, UsedBytes: 9 * gib}, {PID: 2, UsedBytes: gib}}})
	a.add(Sample{UsedBytes: u(20 * gib), SMUtilPct: f(90), MemUtilPct: f(40), SMClockMHz: f(2000)})
	a.addError(errors.New("first"))
	a.addError(errors.New("second"))

	sum := a.summary(time.Second, u(12*gib), energyCounter{}, []string{"power (GetPowerUsage: ERROR_NOT_SUPPORTED)"})
	assert.Equal(t, 3, sum.Samples)
	assert.Equal(t, 3, sum.MemorySamples)
	assert.Equal(t, 30*gib, sum.PeakUsedBytes)
	assert.Equal(t, float64(20*gib), sum.MeanUsedBytes)
	assert.True(t, sum.HasBaseline)
	assert.Equal(t, 12*gib, sum.BaselineBytes)
	assert.Equal(t, int64(18*gib), sum.EngineBytes)
	assert.Equal(t, map[uint32]uint64{1: 9 * gib, 2: gib}, sum.ProcessPeakBytes)
	assert.Equal(t, 2, sum.UtilSamples, "a sample without memory utilisation is left out of both means")
	assert.Equal(t, 70.0, sum.MeanSMUtilPct)
	assert.Equal(t, 30.0, sum.MeanMemUtilPct)
	assert.Equal(t, 2, sum.ClockSamples)
	assert.Equal(t, 1500.0, sum.MeanSMClockMHz)
	assert.Equal(t, 2, sum.Errors)
	assert.Equal(t, "first", sum.FirstError)
	assert.Equal(t, []string{"power (GetPowerUsage: ERROR_NOT_SUPPORTED)"}, sum.Unsupported)

	noBase := a.summary(time.Second, nil, energyCounter{}, nil)
	assert.False(t, noBase.HasBaseline)
	assert.Zero(t, noBase.EngineBytes)
	assert.Nil(t, noBase.Unsupported)
}

func TestEnergyNotSupported(t *testing.T) {
	t.Run("counter unsupported, power works", func(t *testing.T) {
		f := newFakeGPU(t)
		f.energyRet.Store(int64(nvml.ERROR_NOT_SUPPORTED))
		g := f.open(t)
		s := g.Start(context.Background(), nil)
		f.waitCalls(t, 3)
		sum := s.Stop()
		assert.Equal(t, EnergyPowerIntegral, sum.EnergySource)
		assert.Zero(t, sum.Errors, "unsupported is not an error: %s", sum.FirstError)
		assert.Contains(t, sum.Unsupported, "energy counter (GetTotalEnergyConsumption: ERROR_NOT_SUPPORTED)")
	})
	t.Run("counter and power unsupported", func(t *testing.T) {
		f := newFakeGPU(t)
		f.energyRet.Store(int64(nvml.ERROR_NOT_SUPPORTED))
		f.powerRet.Store(int64(nvml.ERROR_NOT_SUPPORTED))
		g := f.open(t)
		s := g.Start(context.Background(), nil)
		f.waitCalls(t, 3)
		sum := s.Stop()
		assert.Equal(t, EnergyNone, sum.EnergySource)
		assert.Zero(t, sum.Joules)
		assert.Zero(t, sum.PowerSamples)
		assert.Zero(t, sum.Errors, sum.FirstError)
		assert.Equal(t, int64(1), f.powerCalls.Load(), "an unsupported metric is asked for once")
		m := metricMap(sum.Metrics(1000))
		assert.NotContains(t, m, "J/tok")
		assert.NotContains(t, m, "W")
		assert.Contains(t, m, "gpu-util-%")
	})
	t.Run("counter fails", func(t *testing.T) {
		f := newFakeGPU(t)
		f.energyRet.Store(int64(nvml.ERROR_UNKNOWN))
		g := f.open(t)
		s := g.Start(context.Background(), nil)
		f.waitCalls(t, 3)
		sum := s.Stop()
		assert.Equal(t, EnergyPowerIntegral, sum.EnergySource)
		assert.Equal(t, 1, sum.Errors, "the failed counter read at Start is counted")
		assert.Contains(t, sum.FirstError, "GetTotalEnergyConsumption")
	})
}

func TestStopEarlyAndTwice(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	s := g.Start(context.Background(), nil)
	first := s.Stop()
	second := s.Stop()
	assert.Equal(t, first, second, "Stop is idempotent")
	assert.GreaterOrEqual(t, first.Samples, 1, "Stop takes a final sample")
	assert.Equal(t, first.Samples, first.MemorySamples)
	assert.Zero(t, first.Errors, first.FirstError)

	// Stop from several goroutines at once.
	s = g.Start(context.Background(), nil)
	var wg sync.WaitGroup
	sums := make([]Summary, 4)
	for i := range sums {
		wg.Go(func() { sums[i] = s.Stop() })
	}
	wg.Wait()
	for _, x := range sums[1:] {
		assert.Equal(t, sums[0], x)
	}
}

func TestContextCancelEndsSampling(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := g.Start(ctx, nil)
	f.waitCalls(t, 3)
	cancel()
	select { // the goroutine ends without Stop
	case <-s.done:
	case <-time.After(patience):
		t.Fatal("the sampler goroutine did not end when its context was cancelled")
	}
	calls := f.memCalls.Load()
	sum := s.Stop()
	assert.Equal(t, calls+1, f.memCalls.Load(), "only Stop's final sample after cancel")
	assert.GreaterOrEqual(t, sum.Samples, 3)
}

func TestErrorsMidRun(t *testing.T) {
	f := newFakeGPU(t)
	f.powerFail = func(call int64) bool { return call%2 == 0 } // every other power read fails
	g := f.open(t)
	var out lockedBuffer
	s := g.Start(context.Background(), &out)
	require.Eventually(t, func() bool { return f.powerCalls.Load() >= 8 }, patience, time.Millisecond)
	sum := s.Stop()

	assert.GreaterOrEqual(t, sum.Samples, 8, "the sampler kept going")
	assert.Equal(t, sum.Samples, sum.MemorySamples, "other metrics unaffected")
	assert.Equal(t, sum.Samples, sum.UtilSamples)
	assert.Equal(t, sum.Samples, sum.PowerSamples+sum.Errors, "each failed power read counted once")
	assert.GreaterOrEqual(t, sum.Errors, 4)
	assert.Equal(t, "NVML GetPowerUsage: ERROR_UNKNOWN", sum.FirstError)

	samples := parseSamples(t, out.Bytes())
	require.Len(t, samples, sum.Samples)
	failed := 0
	for _, smp := range samples {
		if smp.PowerW == nil {
			failed++
			assert.Equal(t, []string{"NVML GetPowerUsage: ERROR_UNKNOWN"}, smp.Errors)
		} else {
			assert.Equal(t, 300.0, *smp.PowerW)
		}
	}
	assert.Equal(t, sum.Errors, failed)
}

func TestMemoryErrorMidRunDoesNotStop(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	f.memRet.Store(int64(nvml.ERROR_GPU_IS_LOST))
	s := g.Start(context.Background(), nil)
	f.waitCalls(t, 4)
	sum := s.Stop()
	assert.Zero(t, sum.MemorySamples)
	assert.Equal(t, sum.Samples, sum.Errors)
	assert.Equal(t, sum.Samples, sum.PowerSamples)
	m := metricMap(sum.Metrics(10))
	assert.NotContains(t, m, "gpu-mem-peak-B")
}

type failingWriter struct{ n atomic.Int64 }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n.Add(1)
	return 0, errors.New("disk full")
}

func TestWriterErrorCountedOnce(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	w := &failingWriter{}
	s := g.Start(context.Background(), w)
	f.waitCalls(t, 4)
	sum := s.Stop()
	assert.Equal(t, int64(1), w.n.Load(), "no writes after the first failure")
	assert.Equal(t, 1, sum.Errors)
	assert.Contains(t, sum.FirstError, "disk full")
	assert.GreaterOrEqual(t, sum.Samples, 3)
}

func TestJSONLinesParseBack(t *testing.T) {
	f := newFakeGPU(t)
	f.used.Store(9 * gib)
	f.powerMW.Store(412_500)
	g := f.open(t)
	var out lockedBuffer
	s := g.Start(context.Background(), &out)
	f.waitCalls(t, 4)
	// Lines are written as they are taken, before Stop.
	require.NotEmpty(t, out.Bytes())
	sum := s.Stop()

	data := out.Bytes()
	assert.Equal(t, byte('\n'), data[len(data)-1])
	samples := parseSamples(t, data)
	require.Len(t, samples, sum.Samples)
	var prev time.Duration
	for i, smp := range samples {
		assert.GreaterOrEqual(t, smp.Offset, prev, "offsets do not go back")
		prev = smp.Offset
		assert.False(t, smp.Time.IsZero())
		require.NotNil(t, smp.UsedBytes)
		assert.Equal(t, 9*gib, *smp.UsedBytes)
		require.NotNil(t, smp.PowerW)
		assert.Equal(t, 412.5, *smp.PowerW)
		require.NotNil(t, smp.SMUtilPct)
		assert.Equal(t, 80.0, *smp.SMUtilPct)
		require.NotNil(t, smp.MemUtilPct)
		assert.Equal(t, 40.0, *smp.MemUtilPct)
		require.NotNil(t, smp.SMClockMHz)
		assert.Equal(t, 1980.0, *smp.SMClockMHz)
		assert.Equal(t, []Process{{PID: 4242, UsedBytes: 8 * gib}}, smp.Processes, "sample %d", i)
		assert.Empty(t, smp.Errors)
	}
	// Field names are part of the file format.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(bytes.SplitN(data, []byte("\n"), 2)[0], &raw))
	for _, k := range []string{"offset_ns", "time", "used_B", "power_W", "sm_util_pct", "mem_util_pct", "sm_clock_MHz", "procs"} {
		assert.Contains(t, raw, k)
	}

	assert.Equal(t, 80.0, sum.MeanSMUtilPct)
	assert.Equal(t, 40.0, sum.MeanMemUtilPct)
	assert.Equal(t, 1980.0, sum.MeanSMClockMHz)
}

func TestMetrics(t *testing.T) {
	full := Summary{
		Samples: 10, MemorySamples: 10, PeakUsedBytes: 72 * gib,
		HasBaseline: true, BaselineBytes: 2 * gib, EngineBytes: int64(70 * gib),
		Joules: 500, EnergySource: EnergyCounter, MeanPowerW: 400,
		PowerSamples: 10, UtilSamples: 10, MeanSMUtilPct: 90, MeanMemUtilPct: 60,
		ClockSamples: 10, MeanSMClockMHz: 1800,
	}
	assert.Equal(t, []Metric{
		{float64(72 * gib), "gpu-mem-peak-B"},
		{float64(70 * gib), "gpu-mem-engine-B"},
		{0.5, "J/tok"},
		{400, "W"},
		{90, "gpu-util-%"},
		{60, "gpu-mem-util-%"},
		{1800, "sm-clock-MHz"},
	}, full.Metrics(1000))

	m := metricMap(full.Metrics(0))
	assert.NotContains(t, m, "J/tok", "no tokens, no J/tok")

	noEnergy := full
	noEnergy.EnergySource, noEnergy.Joules = EnergyNone, 0
	assert.NotContains(t, metricMap(noEnergy.Metrics(1000)), "J/tok")

	assert.Empty(t, Summary{}.Metrics(1000), "an empty summary reports nothing")

	for _, x := range full.Metrics(1000) {
		assert.Regexp(t, `^\S+$`, x.Unit, "ReportMetric units have no spaces")
	}
}

func TestStartOnClosedGPU(t *testing.T) {
	f := newFakeGPU(t)
	g := f.open(t)
	require.NoError(t, g.Close())
	sum := g.Start(context.Background(), nil).Stop()
	assert.Zero(t, sum.Samples)
	assert.Positive(t, sum.Errors)
	assert.Contains(t, sum.FirstError, "closed")
}

func metricMap(ms []Metric) map[string]float64 {
	out := make(map[string]float64, len(ms))
	for _, m := range ms {
		out[m.Unit] = m.Value
	}
	return out
}
