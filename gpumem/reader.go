package gpumem

import (
	"fmt"
	"math"
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

// metric is one thing the reader asks NVML for; an unsupported one is
// skipped from then on.
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

// read takes one sample at now, offset from start. The NVML calls that
// failed are returned and listed in the sample's Errors, in call order.
func (r *reader) read(start, now time.Time) (Sample, []error) {
	s := Sample{Offset: now.Sub(start), Time: now.Round(0)}
	var errs []error
	for _, fill := range []func(*Sample) error{r.memory, r.power, r.utilisation, r.smClock, r.processes} {
		if err := fill(&s); err != nil {
			errs = append(errs, err)
			s.Errors = append(s.Errors, err.Error())
		}
	}
	return s, errs
}

// memory sets s.UsedBytes, from GetMemoryInfo_v2 where Open found it
// working, from GetMemoryInfo otherwise.
func (r *reader) memory(s *Sample) error {
	api, f := "GetMemoryInfo", func(d nvml.Device) (uint64, nvml.Return) {
		m, ret := d.GetMemoryInfo()
		return m.Used, ret
	}
	if r.memV2 {
		api, f = "GetMemoryInfo_v2", func(d nvml.Device) (uint64, nvml.Return) {
			m, ret := d.GetMemoryInfo_v2()
			return m.Used, ret
		}
	}
	used, ok, err := get(r, metricMemory, api, f)
	if ok {
		s.UsedBytes = &used
	}
	return err
}

// power sets s.PowerW (NVML reports mW).
func (r *reader) power(s *Sample) error {
	mw, ok, err := get(r, metricPower, "GetPowerUsage", nvml.Device.GetPowerUsage)
	if ok {
		w := float64(mw) / 1000
		s.PowerW = &w
	}
	return err
}

// utilisation sets s.SMUtilPct and s.MemUtilPct, both from one call.
func (r *reader) utilisation(s *Sample) error {
	u, ok, err := get(r, metricUtil, "GetUtilizationRates", nvml.Device.GetUtilizationRates)
	if ok {
		sm, mem := float64(u.Gpu), float64(u.Memory)
		s.SMUtilPct, s.MemUtilPct = &sm, &mem
	}
	return err
}

// smClock sets s.SMClockMHz.
func (r *reader) smClock(s *Sample) error {
	clk, ok, err := get(r, metricClock, "GetClockInfo(CLOCK_SM)", func(d nvml.Device) (uint32, nvml.Return) {
		return d.GetClockInfo(nvml.CLOCK_SM)
	})
	if ok {
		c := float64(clk)
		s.SMClockMHz = &c
	}
	return err
}

// processes sets s.Processes, leaving out the processes whose memory NVML
// does not know (NVML_VALUE_NOT_AVAILABLE).
func (r *reader) processes(s *Sample) error {
	procs, ok, err := get(r, metricProcs, "GetComputeRunningProcesses", nvml.Device.GetComputeRunningProcesses)
	if !ok {
		return err
	}
	for _, p := range procs {
		if p.UsedGpuMemory != math.MaxUint64 {
			s.Processes = append(s.Processes, Process{PID: p.Pid, UsedBytes: p.UsedGpuMemory})
		}
	}
	return err
}

// energy reads the cumulative energy counter (mJ).
func (r *reader) energy() (mj uint64, ok bool, err error) {
	return get(r, metricEnergy, "GetTotalEnergyConsumption", nvml.Device.GetTotalEnergyConsumption)
}

// get runs the NVML getter f on the device for metric m through r.call
// (so that a panic in f is an error) and returns its value; ok says
// whether it was read.
func get[T any](r *reader, m metric, api string, f func(nvml.Device) (T, nvml.Return)) (v T, ok bool, err error) {
	ok, err = r.call(m, api, func() (ret nvml.Return) {
		v, ret = f(r.dev)
		return ret
	})
	return v, ok, err
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
	switch {
	case ret == nvml.SUCCESS:
		return true, nil
	case unsupported(m, ret):
		r.markUnsupported(m, api, ret)
		return false, nil
	}
	return false, fmt.Errorf("NVML %s: %w", api, ret)
}

// unsupported says whether ret means the device will never report m: the
// call is missing or not supported, or (for the process list only) not
// permitted.
func unsupported(m metric, ret nvml.Return) bool {
	switch ret {
	case nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_FUNCTION_NOT_FOUND:
		return true
	case nvml.ERROR_NO_PERMISSION:
		return m == metricProcs
	}
	return false
}

func (r *reader) markUnsupported(m metric, api string, ret nvml.Return) {
	r.skip[m] = true
	r.unsupported = append(r.unsupported, fmt.Sprintf("%v (%s: %v)", m, api, ret))
}
