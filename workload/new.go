package workload

import (
	"fmt"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
)

// New returns the source of a workloads: entry; dir is engines.yaml's
// folder, which a dataset's path is relative to. A dataset is read and
// checked here, so that a malformed file stops the run before any engine
// starts.
func New(w config.WorkloadSpec, dir string) (cell.Source, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("workload %s: %w", w.Name, err)
	}
	switch w.Kind {
	case config.WorkloadDataset:
		return newDataset(w, dir)
	case config.WorkloadSynthetic:
		return Synthetic{Spec: w}, nil
	case config.WorkloadSharedPrefix:
		return SharedPrefix{Spec: w}, nil
	case config.WorkloadMultiTurn:
		return MultiTurn{Spec: w}, nil
	}
	return nil, fmt.Errorf("workload %s: kind %q: use dataset, synthetic, shared_prefix or multi_turn", w.Name, w.Kind)
}
