package resultsdir

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
)

// Run is run.json: what produced the results.
type Run struct {
	Start time.Time `json:"start"`

	Host        string `json:"host"`
	GoVersion   string `json:"go_version"`
	GOOS        string `json:"goos"`
	GOARCH      string `json:"goarch"`
	CPUs        int    `json:"cpus"`
	GitRevision string `json:"git_revision"`

	// Model is the engines' served model, or their models joined with ", ".
	Model string `json:"model"`
	// GPU names the device ("" where unknown: the simulator, or no NVML).
	GPU string `json:"gpu"`
	// GPUs is the number of GPUs each engine runs on; 0 means 1. Per-GPU
	// throughput divides by it.
	GPUs int `json:"gpus,omitempty"`

	// SLO is the goodput objective every cell was summarised with.
	SLO loadgen.SLO `json:"slo"`
	// Config are the benchfmt configuration lines the run printed.
	Config []config.Line `json:"config"`
	// RunConfig is engines.yaml with the INFBENCH_* variables applied.
	RunConfig *config.Run `json:"run_config,omitempty"`
	// Engines are the engines of the run, in configuration order; Info
	// is filled in as each one starts.
	Engines []Engine `json:"engines"`
	// Shard is set in the folder of one shard of a sharded run, and in
	// the folder merged from them (MergedFrom).
	Shard *Shard `json:"shard,omitempty"`
	// SaltSeed is the seed of the prompts' salts (hexadecimal): the run
	// seed mixed with a value new to every run (a sharded run's: its
	// coordinator's run id), so that rerunning a seed reproduces the
	// schedules and samples but no prompt of an earlier run, and a
	// server's prefix cache keeps nothing from it.
	SaltSeed string `json:"salt_seed,omitempty"`
}

// Engine is one engine of the run.
type Engine struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Model string `json:"model"`
	// Info are the engine's Endpoint.Info lines (image digest, flags, …),
	// empty until it has started.
	Info []config.Line `json:"info,omitempty"`
}

// GPUCount returns GPUs, or 1 when unset.
func (r *Run) GPUCount() int {
	if r.GPUs > 0 {
		return r.GPUs
	}
	return 1
}

// EngineNames returns the engine names in run order.
func (r *Run) EngineNames() []string {
	out := make([]string, len(r.Engines))
	for i, e := range r.Engines {
		out[i] = e.Name
	}
	return out
}

// FillHost fills in the machine and build fields of r: host name, Go version,
// GOOS/GOARCH, CPU count and git revision (see GitRevision).
func (r *Run) FillHost(ctx context.Context) {
	r.Host, _ = os.Hostname()
	r.GoVersion = runtime.Version()
	r.GOOS, r.GOARCH = runtime.GOOS, runtime.GOARCH
	r.CPUs = runtime.NumCPU()
	r.GitRevision = GitRevision(ctx)
}

// GitRevision returns `git rev-parse HEAD` in the current directory, else
// the vcs.revision of the binary's build information, else "unknown". A
// tree with uncommitted changes gets "-dirty" where that can be told.
func GitRevision(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output(); err == nil {
		rev := strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			rev += "-dirty"
		}
		if rev != "" {
			return rev
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	return "unknown"
}
