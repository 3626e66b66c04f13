package resultsdir

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// SweepFile holds the capacity searches of a run (sweep: in engines.yaml),
// rewritten atomically after each one ends.
const SweepFile = "sweep.json"

// Sweep is one capacity search: for one engine, workload and repetition,
// the highest open-loop request rate at which every SLO bound held.
type Sweep struct {
	Engine   string `json:"engine"`
	Workload string `json:"workload"`
	Rep      int    `json:"rep"`
	// Capacity is slo-max-req/s: the highest probed rate that passed
	// (0 when none did). Goodput is the goodput-req/s measured there.
	Capacity float64 `json:"slo_max_req_per_s"`
	Goodput  float64 `json:"goodput_req_per_s"`
	// Bracket is the last passing and the first failing rate (Hi 0: no
	// probe failed below the search's maximum rate).
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Resolution is the relative width Hi/Lo − 1 the search stops at;
	// MaxCells the most probes it may run.
	Resolution float64 `json:"resolution"`
	MaxCells   int     `json:"max_cells"`
	// The bounds every probe is judged on (0: no bound).
	TTFTP99      int64   `json:"ttft_p99_ns"`
	TPOTP99      int64   `json:"tpot_p99_ns"`
	MaxErrorRate float64 `json:"max_error_rate"`
	// Stopped says why the search ended: "resolution", "max_cells",
	// "max_rate", "no_pass" or an error.
	Stopped string  `json:"stopped"`
	Probes  []Probe `json:"probes"`
}

// Probe is one probed rate: its cell (a key of summary.json: the probe's
// requests are in requests.jsonl under it), whether it met every bound,
// and, when not, which bound it broke with the measured value.
type Probe struct {
	Key
	Pass bool   `json:"pass"`
	Why  string `json:"why,omitempty"`
}

// Sweeps is sweep.json.
type Sweeps struct {
	Sweeps []Sweep `json:"sweeps"`
}

// AddSweep appends a finished search to sweep.json (rewritten atomically).
func (w *Writer) AddSweep(s Sweep) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sweeps.Sweeps = append(w.sweeps.Sweeps, s)
	return WriteJSON(filepath.Join(w.dir, SweepFile), &w.sweeps)
}

// ReadSweeps reads dir/sweep.json; a run without a sweep has none (no
// error).
func ReadSweeps(dir string) (*Sweeps, error) {
	var s Sweeps
	err := readJSON(filepath.Join(dir, SweepFile), &s)
	if errors.Is(err, fs.ErrNotExist) {
		return &Sweeps{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}
