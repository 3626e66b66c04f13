package gpumem

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Sample is one reading of the device. A metric NVML could not report in
// this reading (unsupported, or an error listed in Errors) is nil. Written
// by a Sampler as one JSON line, e.g.
//
//	{"offset_ns":100234567,"time":"2025-01-02T03:04:05.1Z","used_B":70514917376,"power_W":412.5,"sm_util_pct":97,"mem_util_pct":61,"sm_clock_MHz":1980,"procs":[{"pid":4242,"used_B":70464585728}]}
type Sample struct {
	Offset time.Duration `json:"offset_ns"` // since the Sampler started (monotonic clock)
	Time   time.Time     `json:"time"`      // wall clock

	UsedBytes  *uint64  `json:"used_B,omitempty"`       // device memory in use (see Info.MemoryAPI)
	PowerW     *float64 `json:"power_W,omitempty"`      // power draw (NVML reports mW)
	SMUtilPct  *float64 `json:"sm_util_pct,omitempty"`  // % of time a kernel ran (GetUtilizationRates.Gpu)
	MemUtilPct *float64 `json:"mem_util_pct,omitempty"` // % of time device memory was read or written
	SMClockMHz *float64 `json:"sm_clock_MHz,omitempty"` // current SM clock

	// Processes are the compute processes NVML shows on the device with
	// their memory; absent where NVML cannot see them (inside a container
	// with its own PID namespace, typically).
	Processes []Process `json:"procs,omitempty"`
	// Errors lists the NVML calls that failed in this reading.
	Errors []string `json:"errors,omitempty"`
}

// Process is one compute process's device memory.
type Process struct {
	PID       uint32 `json:"pid"`
	UsedBytes uint64 `json:"used_B"`
}

// Energy sources reported in Summary.EnergySource.
const (
	EnergyCounter       = "counter"        // nvmlDeviceGetTotalEnergyConsumption delta, Stop − Start
	EnergyPowerIntegral = "power-integral" // trapezoid rule over the power samples
	EnergyNone          = "none"           // neither available
)

// Summary aggregates what a Sampler saw between Start and Stop. Means are
// over the samples that carried the metric (the *Samples counts).
type Summary struct {
	Samples  int           // readings taken (including the final one at Stop)
	Duration time.Duration // Start → Stop

	MemorySamples int
	PeakUsedBytes uint64
	MeanUsedBytes float64
	// HasBaseline says whether GPU.Baseline ran before Start; only then are
	// BaselineBytes and EngineBytes meaningful.
	HasBaseline   bool
	BaselineBytes uint64
	// EngineBytes is PeakUsedBytes − BaselineBytes: the memory the engine
	// and its work took. Negative if memory was freed after the baseline.
	EngineBytes int64
	// ProcessPeakBytes is each visible compute process's peak memory, by PID.
	ProcessPeakBytes map[uint32]uint64

	// Joules is the energy used between Start and Stop, from EnergySource.
	Joules       float64
	EnergySource string // EnergyCounter, EnergyPowerIntegral or EnergyNone
	// PowerIntegralJoules is the trapezoid integral of the power samples
	// (first to last power sample), computed whenever there are at least
	// two, whatever EnergySource is: a cross-check of the counter.
	PowerIntegralJoules float64

	PowerSamples int
	// MeanPowerW is Joules / Duration when the energy counter was used,
	// otherwise the mean of the power samples.
	MeanPowerW float64

	UtilSamples    int
	MeanSMUtilPct  float64
	MeanMemUtilPct float64

	ClockSamples   int
	MeanSMClockMHz float64

	// Errors counts failures during the run (NVML calls that failed,
	// writes to the sample writer that failed); FirstError keeps the
	// first message. Sampling goes on after an error.
	Errors     int
	FirstError string
	// Unsupported lists the metrics this device does not report, e.g.
	// "energy counter (GetTotalEnergyConsumption: ERROR_NOT_SUPPORTED)".
	// They are not counted as errors.
	Unsupported []string
}

// Sampler reads a GPU every interval in its own goroutine until Stop is
// called or the context given to Start is done.
type Sampler struct {
	g        *GPU
	r        *reader
	w        io.Writer
	start    time.Time
	baseline *uint64

	energyStart uint64
	energyOK    bool

	acc      accumulator
	stopping chan struct{}
	done     chan struct{}

	once sync.Once
	sum  Summary
}

// Start takes a first sample at once, then one every interval, until Stop
// or until ctx is done. Each sample is written to w (nil: not written) as
// one JSON line as soon as it is taken, so a run that is killed keeps what
// it had. w is written from the Sampler's goroutine only; a write error is
// counted in Summary.Errors and stops further writes. The energy counter is
// read here and in Stop. Stop must be called to get the Summary.
func (g *GPU) Start(ctx context.Context, w io.Writer) *Sampler {
	s := &Sampler{
		g:        g,
		r:        g.newReader(),
		w:        w,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	g.mu.Lock()
	if g.baseline != nil {
		b := *g.baseline
		s.baseline = &b
	}
	closed := g.closed
	g.mu.Unlock()
	if closed {
		s.acc.addError(fmt.Errorf("gpumem: Start on a closed GPU: call Open again"))
		close(s.done)
		s.start = time.Now()
		return s
	}

	s.energyStart, s.energyOK = s.readEnergy()
	s.start = time.Now()
	go s.loop(ctx)
	return s
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.g.interval)
	defer t.Stop()
	for {
		s.take()
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		case <-t.C:
		}
	}
}

// take reads one sample, writes it and adds it to the summary. Only one
// goroutine runs take at a time: the loop, then Stop after the loop ended.
func (s *Sampler) take() {
	sample, errs := s.r.read(s.start, time.Now())
	s.acc.add(sample)
	for _, err := range errs {
		s.acc.addError(err)
	}
	if s.w != nil {
		b, err := json.Marshal(sample)
		if err == nil {
			_, err = s.w.Write(append(b, '\n'))
		}
		if err != nil {
			s.acc.addError(fmt.Errorf("writing GPU sample: %w (further samples are not written)", err))
			s.w = nil
		}
	}
}

// Stop ends sampling, takes a final sample, reads the energy counter and
// returns the Summary. It is idempotent: later calls return the same
// Summary. It waits at most for one NVML reading in progress.
func (s *Sampler) Stop() Summary {
	s.once.Do(func() {
		close(s.stopping)
		<-s.done
		if s.g.checkOpen() != nil {
			s.acc.addError(fmt.Errorf("gpumem: GPU closed before Sampler.Stop: stop samplers before GPU.Close"))
		} else {
			s.take()
		}
		end := time.Now()
		var (
			energyEnd uint64
			endOK     bool
		)
		if s.energyOK && s.g.checkOpen() == nil {
			energyEnd, endOK = s.readEnergy()
		}
		s.sum = s.summarise(end.Sub(s.start), energyEnd, s.energyOK && endOK)
	})
	return s.sum
}

// readEnergy reads the cumulative energy counter (mJ).
func (s *Sampler) readEnergy() (uint64, bool) {
	var mj uint64
	ok, err := s.r.call(metricEnergy, "GetTotalEnergyConsumption", func() (ret nvml.Return) {
		mj, ret = s.r.dev.GetTotalEnergyConsumption()
		return ret
	})
	if err != nil {
		s.acc.addError(err)
	}
	return mj, ok
}

func (s *Sampler) summarise(d time.Duration, energyEnd uint64, counterOK bool) Summary {
	a := &s.acc
	sum := Summary{
		Samples:          a.samples,
		Duration:         d,
		MemorySamples:    a.memN,
		PeakUsedBytes:    a.memPeak,
		ProcessPeakBytes: a.procPeak,
		EnergySource:     EnergyNone,
		PowerSamples:     a.powN,
		UtilSamples:      a.utilN,
		ClockSamples:     a.clkN,
		Errors:           a.errors,
		FirstError:       a.firstErr,
		Unsupported:      append([]string(nil), s.r.unsupported...),
	}
	if a.memN > 0 {
		sum.MeanUsedBytes = a.memSum / float64(a.memN)
	}
	if s.baseline != nil {
		sum.HasBaseline = true
		sum.BaselineBytes = *s.baseline
		if a.memN > 0 {
			sum.EngineBytes = int64(a.memPeak) - int64(*s.baseline)
		}
	}
	if a.powN >= 2 {
		sum.PowerIntegralJoules = a.powIntegral
	}
	if a.powN > 0 {
		sum.MeanPowerW = a.powSum / float64(a.powN)
	}
	switch {
	case counterOK && energyEnd > s.energyStart:
		sum.Joules = float64(energyEnd-s.energyStart) / 1000
		sum.EnergySource = EnergyCounter
		if d > 0 {
			sum.MeanPowerW = sum.Joules / d.Seconds()
		}
	case a.powN >= 2:
		// The counter is missing, did not move (too short a run, or a
		// device that does not update it) or went backwards (reset).
		sum.Joules = a.powIntegral
		sum.EnergySource = EnergyPowerIntegral
	}
	if a.utilN > 0 {
		sum.MeanSMUtilPct = a.smSum / float64(a.utilN)
		sum.MeanMemUtilPct = a.memUtilSum / float64(a.utilN)
	}
	if a.clkN > 0 {
		sum.MeanSMClockMHz = a.clkSum / float64(a.clkN)
	}
	return sum
}

// accumulator keeps running aggregates, so a long run does not keep every sample.
type accumulator struct {
	samples int

	memN    int
	memSum  float64
	memPeak uint64

	powN        int
	powSum      float64
	powIntegral float64 // J
	lastPowT    time.Duration
	lastPowW    float64

	utilN      int
	smSum      float64
	memUtilSum float64

	clkN   int
	clkSum float64

	procPeak map[uint32]uint64

	errors   int
	firstErr string
}

func (a *accumulator) add(s Sample) {
	a.samples++
	if s.UsedBytes != nil {
		a.memN++
		a.memSum += float64(*s.UsedBytes)
		a.memPeak = max(a.memPeak, *s.UsedBytes)
	}
	if s.PowerW != nil {
		p := *s.PowerW
		if a.powN > 0 {
			// Trapezoid from the previous power sample, bridging any
			// samples whose power reading failed.
			a.powIntegral += (a.lastPowW + p) / 2 * (s.Offset - a.lastPowT).Seconds()
		}
		a.powN++
		a.powSum += p
		a.lastPowT, a.lastPowW = s.Offset, p
	}
	if s.SMUtilPct != nil && s.MemUtilPct != nil {
		a.utilN++
		a.smSum += *s.SMUtilPct
		a.memUtilSum += *s.MemUtilPct
	}
	if s.SMClockMHz != nil {
		a.clkN++
		a.clkSum += *s.SMClockMHz
	}
	for _, p := range s.Processes {
		if a.procPeak == nil {
			a.procPeak = make(map[uint32]uint64)
		}
		a.procPeak[p.PID] = max(a.procPeak[p.PID], p.UsedBytes)
	}
}

func (a *accumulator) addError(err error) {
	if a.errors == 0 {
		a.firstErr = err.Error()
	}
	a.errors++
}

type metric int

const (
	metricMemory metric = iota
	metricPower
	metricUtil
	metricClock
	metricProcs
	metricEnergy
	numMetrics
)

func (m metric) String() string {
	switch m {
	case metricMemory:
		return "used memory"
	case metricPower:
		return "power"
	case metricUtil:
		return "utilisation"
	case metricClock:
		return "SM clock"
	case metricProcs:
		return "processes"
	case metricEnergy:
		return "energy counter"
	}
	return fmt.Sprintf("metric(%d)", int(m))
}

// reader takes samples from one device. It is used by one goroutine at a
// time; it remembers which metrics the device does not support so it stops
// asking for them.
type reader struct {
	dev         nvml.Device
	memV2       bool
	skip        [numMetrics]bool
	unsupported []string
}

func (g *GPU) newReader() *reader {
	return &reader{dev: g.dev, memV2: g.memV2}
}

// call runs one NVML call for metric m. It reports whether a value was
// read; err is set for a failure that should be counted (not for a metric
// the device does not support, which is remembered and skipped from then on).
func (r *reader) call(m metric, api string, f func() nvml.Return) (ok bool, err error) {
	if r.skip[m] {
		return false, nil
	}
	var ret nvml.Return
	if err := safe(api, func() { ret = f() }); err != nil {
		return false, err
	}
	switch ret {
	case nvml.SUCCESS:
		return true, nil
	case nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_FUNCTION_NOT_FOUND:
		r.markUnsupported(m, api, ret)
		return false, nil
	case nvml.ERROR_NO_PERMISSION:
		if m == metricProcs {
			r.markUnsupported(m, api, ret)
			return false, nil
		}
	}
	return false, fmt.Errorf("NVML %s: %w", api, ret)
}

func (r *reader) markUnsupported(m metric, api string, ret nvml.Return) {
	r.skip[m] = true
	r.unsupported = append(r.unsupported, fmt.Sprintf("%v (%s: %v)", m, api, ret))
}

// read takes one sample at now, offset from start.
func (r *reader) read(start, now time.Time) (Sample, []error) {
	s := Sample{Offset: now.Sub(start), Time: now.Round(0)}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
			s.Errors = append(s.Errors, err.Error())
		}
	}

	var used uint64
	var ok bool
	var err error
	if r.memV2 {
		ok, err = r.call(metricMemory, "GetMemoryInfo_v2", func() (ret nvml.Return) {
			var m nvml.Memory_v2
			m, ret = r.dev.GetMemoryInfo_v2()
			used = m.Used
			return ret
		})
	} else {
		ok, err = r.call(metricMemory, "GetMemoryInfo", func() (ret nvml.Return) {
			var m nvml.Memory
			m, ret = r.dev.GetMemoryInfo()
			used = m.Used
			return ret
		})
	}
	note(err)
	if ok {
		s.UsedBytes = &used
	}

	var mw uint32
	ok, err = r.call(metricPower, "GetPowerUsage", func() (ret nvml.Return) {
		mw, ret = r.dev.GetPowerUsage()
		return ret
	})
	note(err)
	if ok {
		w := float64(mw) / 1000
		s.PowerW = &w
	}

	var u nvml.Utilization
	ok, err = r.call(metricUtil, "GetUtilizationRates", func() (ret nvml.Return) {
		u, ret = r.dev.GetUtilizationRates()
		return ret
	})
	note(err)
	if ok {
		sm, mem := float64(u.Gpu), float64(u.Memory)
		s.SMUtilPct, s.MemUtilPct = &sm, &mem
	}

	var clk uint32
	ok, err = r.call(metricClock, "GetClockInfo(CLOCK_SM)", func() (ret nvml.Return) {
		clk, ret = r.dev.GetClockInfo(nvml.CLOCK_SM)
		return ret
	})
	note(err)
	if ok {
		c := float64(clk)
		s.SMClockMHz = &c
	}

	var procs []nvml.ProcessInfo
	ok, err = r.call(metricProcs, "GetComputeRunningProcesses", func() (ret nvml.Return) {
		procs, ret = r.dev.GetComputeRunningProcesses()
		return ret
	})
	note(err)
	if ok {
		for _, p := range procs {
			if p.UsedGpuMemory == math.MaxUint64 { // NVML_VALUE_NOT_AVAILABLE
				continue
			}
			s.Processes = append(s.Processes, Process{PID: p.Pid, UsedBytes: p.UsedGpuMemory})
		}
	}
	return s, errs
}
