package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/sweep"
)

const sweepRun = validRun + `slo: {ttft: 1s, tpot: 50ms}
sweep:
  enabled: false
  start: 4
  factor: 3
`

func TestSweepFromFileAndEnv(t *testing.T) {
	r, err := ParseRun("e.yaml", []byte(sweepRun))
	require.NoError(t, err)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	require.NoError(t, r.ApplySweep("e.yaml", getenv))
	assert.False(t, r.Sweep.Enabled, "off unless asked")
	assert.Equal(t, sweep.Settings{Start: 4, Factor: 3, Resolution: 0.05, MaxCells: 12, MinRate: 0.4, Digits: 3}, r.Sweep.Settings(4))

	env[EnvSweep] = "1"
	require.NoError(t, r.ApplySweep("e.yaml", getenv))
	assert.True(t, r.Sweep.Enabled)
	assert.Equal(t, 4.0, r.Sweep.Start, "the file's settings")

	env[EnvSweep] = "start=8, resolution=0.02,max_cells=10,requests=300,max_rate=100,min_rate=1"
	require.NoError(t, r.ApplySweep("e.yaml", getenv))
	assert.Equal(t, Sweep{Enabled: true, Start: 8, Factor: 3, Resolution: 0.02, MaxCells: 10, MinRate: 1, MaxRate: 100, Requests: 300}, r.Sweep)

	env[EnvSweep] = "off"
	require.NoError(t, r.ApplySweep("e.yaml", getenv))
	assert.False(t, r.Sweep.Enabled)
}

func TestSweepErrorsNameTheInput(t *testing.T) {
	for _, tc := range []struct{ file, env, want string }{
		{"sweep: {factor: 1}", "", "e.yaml: sweep.factor: 1: must be above 1 and at most 100"},
		{"sweep: {resolution: 0.001}", "", "e.yaml: sweep.resolution: 0.001: give the bracket's relative width to stop at, 0.01 to 1"},
		{"sweep: {requests: 50}", "", "e.yaml: sweep.requests: 50: give at least 100"},
		{"sweep: {start: 10, max_rate: 5}", "", "e.yaml: sweep.start: 10 is above sweep.max_rate 5"},
		{"sweep: {start: 2, min_rate: 5}", "", "e.yaml: sweep.min_rate: 5 is above sweep.start 2"},
		{"", "start=fast", `INFBENCH_SWEEP="start=fast": start: "fast" is not a number`},
		{"", "max_cells=2.5", `INFBENCH_SWEEP="max_cells=2.5": max_cells: "2.5" is not a whole number`},
		{"", "speed=2", `INFBENCH_SWEEP="speed=2": "speed=2": want 1, 0 or key=value settings separated by commas, the keys start, factor, resolution, max_cells, min_rate, max_rate, requests`},
		{"", "yes please", `INFBENCH_SWEEP="yes please": "yes please": want 1, 0 or key=value`},
		{"", "max_cells=-1,factor=2", `INFBENCH_SWEEP="max_cells=-1,factor=2": sweep.max_cells: -1: give 1 to 100`},
		{"", "max_cells=200", `INFBENCH_SWEEP="max_cells=200": sweep.max_cells: 200: give 1 to 100 probes per search`},
		{"", "requests=20", `INFBENCH_SWEEP="requests=20": sweep.requests: 20: give at least 100`},
	} {
		r, err := ParseRun("e.yaml", []byte(validRun+"slo: {ttft: 1s}\n"+tc.file+"\n"))
		require.NoError(t, err, tc.file)
		err = r.ApplySweep("e.yaml", func(k string) string {
			if k == EnvSweep {
				return tc.env
			}
			return ""
		})
		assert.ErrorContains(t, err, tc.want, "file %q, env %q", tc.file, tc.env)
	}
}

// max_cells=0 from the environment is the default (12), as in the file.
func TestSweepZeroIsDefault(t *testing.T) {
	assert.Equal(t, 12, Sweep{}.Defaults().MaxCells)
	r, err := ParseRun("e.yaml", []byte(validRun+"slo: {ttft: 1s}\n"))
	require.NoError(t, err)
	require.NoError(t, r.ApplySweep("e.yaml", func(string) string { return "max_cells=0" }))
	assert.Equal(t, 12, r.Sweep.Defaults().MaxCells)
}

func TestSweepNeedsALatencyBound(t *testing.T) {
	r, err := ParseRun("e.yaml", []byte(validRun+"sweep: {enabled: true}\n"))
	require.NoError(t, err)
	err = r.ApplySweep("e.yaml", func(string) string { return "" })
	assert.ErrorContains(t, err, "e.yaml: sweep is on but slo.ttft and slo.tpot are both 0")
	r.SLO.TPOT = 40 * time.Millisecond
	assert.NoError(t, r.ApplySweep("e.yaml", func(string) string { return "" }))
}

func TestSweepUnknownFieldInFile(t *testing.T) {
	_, err := ParseRun("e.yaml", []byte(validRun+"sweep: {enabled: true, strat: 4}\n"))
	assert.ErrorContains(t, err, `e.yaml:13: sweep: unknown field "strat" (known: enabled, start, factor, resolution, max_cells, min_rate, max_rate, requests)`)
}
