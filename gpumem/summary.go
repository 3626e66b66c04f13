package gpumem

import "time"

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

// accumulator turns samples into a Summary. It keeps running aggregates,
// so a long run does not keep every sample.
type accumulator struct {
	samples  int
	memory   peakMean
	power    powerIntegral
	smUtil   mean // added together with memUtil: same count
	memUtil  mean
	smClock  mean
	procPeak map[uint32]uint64
	errors   int
	firstErr string
}

// add folds one sample in.
func (a *accumulator) add(s Sample) {
	a.samples++
	if s.UsedBytes != nil {
		a.memory.add(*s.UsedBytes)
	}
	if s.PowerW != nil {
		a.power.add(s.Offset, *s.PowerW)
	}
	if s.SMUtilPct != nil && s.MemUtilPct != nil {
		a.smUtil.add(*s.SMUtilPct)
		a.memUtil.add(*s.MemUtilPct)
	}
	if s.SMClockMHz != nil {
		a.smClock.add(*s.SMClockMHz)
	}
	a.addProcesses(s.Processes)
}

func (a *accumulator) addProcesses(ps []Process) {
	for _, p := range ps {
		if a.procPeak == nil {
			a.procPeak = make(map[uint32]uint64)
		}
		a.procPeak[p.PID] = max(a.procPeak[p.PID], p.UsedBytes)
	}
}

// addError counts one failure, keeping the first message.
func (a *accumulator) addError(err error) {
	if a.errors == 0 {
		a.firstErr = err.Error()
	}
	a.errors++
}

// summary is the Summary of a run that lasted d, with the memory baseline
// taken before it (nil: none), the energy counter read at its ends and
// the metrics the device does not support.
func (a *accumulator) summary(d time.Duration, baseline *uint64, c energyCounter, unsupported []string) Summary {
	sum := Summary{
		Samples:     a.samples,
		Duration:    d,
		Errors:      a.errors,
		FirstError:  a.firstErr,
		Unsupported: append([]string(nil), unsupported...),
	}
	a.summariseMemory(&sum, baseline)
	a.summariseEnergy(&sum, c, d)
	a.summariseActivity(&sum)
	return sum
}

// summariseMemory sets the memory fields: peak, mean, per-process peaks,
// and peak − baseline.
func (a *accumulator) summariseMemory(sum *Summary, baseline *uint64) {
	sum.MemorySamples = a.memory.n
	sum.PeakUsedBytes = a.memory.peak
	sum.MeanUsedBytes = a.memory.value()
	sum.ProcessPeakBytes = a.procPeak
	if baseline == nil {
		return
	}
	sum.HasBaseline = true
	sum.BaselineBytes = *baseline
	if a.memory.n > 0 {
		sum.EngineBytes = int64(a.memory.peak) - int64(*baseline)
	}
}

// summariseEnergy sets the power and energy fields: energy from the
// counter where it moved forward between Start and Stop, from the power
// integral otherwise (a missing counter, one too short a run did not move
// or a device does not update, or one that went back on a reset).
func (a *accumulator) summariseEnergy(sum *Summary, c energyCounter, d time.Duration) {
	sum.PowerSamples = a.power.n
	sum.MeanPowerW = a.power.value()
	sum.EnergySource = EnergyNone
	if a.power.n >= 2 {
		sum.PowerIntegralJoules = a.power.joules
	}
	if j, ok := c.joules(); ok {
		sum.Joules, sum.EnergySource = j, EnergyCounter
		if d > 0 {
			sum.MeanPowerW = j / d.Seconds()
		}
	} else if a.power.n >= 2 {
		sum.Joules, sum.EnergySource = a.power.joules, EnergyPowerIntegral
	}
}

// summariseActivity sets the utilisation and clock means.
func (a *accumulator) summariseActivity(sum *Summary) {
	sum.UtilSamples = a.smUtil.n
	sum.MeanSMUtilPct = a.smUtil.value()
	sum.MeanMemUtilPct = a.memUtil.value()
	sum.ClockSamples = a.smClock.n
	sum.MeanSMClockMHz = a.smClock.value()
}

// energyCounter is nvmlDeviceGetTotalEnergyConsumption (mJ) as read at
// Start and at Stop.
type energyCounter struct {
	start, end     uint64
	startOK, endOK bool
}

// joules is the energy between the two reads; ok only when both reads
// succeeded and the counter moved forward.
func (c energyCounter) joules() (j float64, ok bool) {
	if !c.startOK || !c.endOK || c.end <= c.start {
		return 0, false
	}
	return float64(c.end-c.start) / 1000, true
}

// mean is a running mean.
type mean struct {
	n   int
	sum float64
}

func (m *mean) add(v float64) {
	m.n++
	m.sum += v
}

// value is the mean, 0 without values.
func (m mean) value() float64 {
	if m.n == 0 {
		return 0
	}
	return m.sum / float64(m.n)
}

// peakMean is a running mean and maximum of byte counts.
type peakMean struct {
	mean
	peak uint64
}

func (p *peakMean) add(b uint64) {
	p.mean.add(float64(b))
	p.peak = max(p.peak, b)
}

// powerIntegral is a running mean of power samples and their trapezoid
// integral over time.
type powerIntegral struct {
	mean
	joules float64
	lastT  time.Duration
	lastW  float64
}

// add takes the power w at offset t. The trapezoid runs from the previous
// power sample, bridging samples whose power reading failed.
func (p *powerIntegral) add(t time.Duration, w float64) {
	if p.n > 0 {
		p.joules += (p.lastW + w) / 2 * (t - p.lastT).Seconds()
	}
	p.mean.add(w)
	p.lastT, p.lastW = t, w
}
