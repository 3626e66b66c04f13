package gpumem

// Metric is one benchmark metric, for b.ReportMetric(m.Value, m.Unit).
type Metric struct {
	Value float64
	Unit  string
}

// Metrics turns a Summary into benchmark metrics (benchstat units: bytes
// end in "-B", so benchstat scales them). Each is left out when the
// Summary lacks what it needs:
//
//	gpu-mem-peak-B    PeakUsedBytes                        (any memory sample)
//	gpu-mem-engine-B  EngineBytes = peak − baseline        (Baseline taken before Start)
//	J/tok             Joules / outputTokens                (outputTokens > 0 and energy measured)
//	W                 MeanPowerW                           (energy counter or power samples)
//	gpu-util-%        MeanSMUtilPct                        (utilisation samples)
//	gpu-mem-util-%    MeanMemUtilPct                       (utilisation samples)
//	sm-clock-MHz      MeanSMClockMHz                       (clock samples)
func (s Summary) Metrics(outputTokens float64) []Metric {
	var ms []Metric
	if s.MemorySamples > 0 {
		ms = append(ms, Metric{float64(s.PeakUsedBytes), "gpu-mem-peak-B"})
		if s.HasBaseline {
			ms = append(ms, Metric{float64(s.EngineBytes), "gpu-mem-engine-B"})
		}
	}
	if outputTokens > 0 && s.EnergySource != EnergyNone && s.EnergySource != "" && s.Joules > 0 {
		ms = append(ms, Metric{s.Joules / outputTokens, "J/tok"})
	}
	if s.PowerSamples > 0 || s.EnergySource == EnergyCounter {
		ms = append(ms, Metric{s.MeanPowerW, "W"})
	}
	if s.UtilSamples > 0 {
		ms = append(ms,
			Metric{s.MeanSMUtilPct, "gpu-util-%"},
			Metric{s.MeanMemUtilPct, "gpu-mem-util-%"})
	}
	if s.ClockSamples > 0 {
		ms = append(ms, Metric{s.MeanSMClockMHz, "sm-clock-MHz"})
	}
	return ms
}
