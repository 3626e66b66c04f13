package resultsdir

import (
	"path/filepath"
	"time"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/servermetrics"
)

// File names inside a results folder.
const (
	RunFile      = "run.json"
	RequestsFile = "requests.jsonl"
	SummaryFile  = "summary.json"
)

// EnvDir names the environment variable that chooses the results folder.
const EnvDir = "INFBENCH_RESULTS"

// DefaultDir is the folder a run started at now writes to when EnvDir is
// not set: results/<UTC time>, e.g. results/20261127T071500Z, relative to
// the working directory (the package directory under go test).
func DefaultDir(now time.Time) string {
	return filepath.Join("results", now.UTC().Format("20060102T150405Z"))
}

// Dir returns the folder named by EnvDir in getenv, or DefaultDir(now).
func Dir(getenv func(string) string, now time.Time) string {
	if d := getenv(EnvDir); d != "" {
		return d
	}
	return DefaultDir(now)
}

// Key identifies one run of one cell: the benchmark cell and which
// repetition of it (0 for the first; -count and b.N repeat a cell).
type Key struct {
	Cell     string  `json:"cell"` // engine=E/conc=C/workload=W or engine=E/rate=R/workload=W
	Engine   string  `json:"engine"`
	Conc     int     `json:"conc"`           // closed loop; 0 for an open loop
	Rate     float64 `json:"rate,omitempty"` // open loop: requests/s
	Workload string  `json:"workload"`
	Rep      int     `json:"rep"`
}

// Request is one line of requests.jsonl: the cell run it belongs to and
// the loadgen.Record fields, flattened.
type Request struct {
	Key
	loadgen.Record
	// Shard is the shard that sent the request, in a merged folder.
	Shard *int `json:"shard,omitempty"`
}

// CellSummary is one cell run's summary in summary.json, with what the
// engine's own metrics said over it (nil when it has no metrics endpoint
// or its scrape failed).
type CellSummary struct {
	Key
	Summary loadgen.Summary     `json:"summary"`
	Server  *servermetrics.Cell `json:"server,omitempty"`
}

// Summaries is summary.json: the cell runs in the order they finished.
type Summaries struct {
	Cells []CellSummary `json:"cells"`
}
