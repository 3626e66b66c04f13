package engines

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/infbench/infbench/config"
)

// ErrSkip marks an engine that cannot run the selected profile (TensorRT-LLM
// with Scout on one H100); the benchmark skips it with the error's reason.
var ErrSkip = errors.New("engine skipped")

// SkipError is the error wrapping ErrSkip: which engine, on which profile,
// and why. Its text is complete: "engine trtllm skipped: profile h100: …".
type SkipError struct {
	Engine, Profile, Reason string
}

func (e *SkipError) Error() string {
	return fmt.Sprintf("engine %s skipped: profile %s: %s", e.Engine, e.Profile, e.Reason)
}

// Is makes errors.Is(err, ErrSkip) hold.
func (e *SkipError) Is(target error) bool { return target == ErrSkip }

// Spec is a container engine fully resolved for one profile: everything
// needed to build the container request, as plain data. It holds the
// names of passed-through variables, never their values.
type Spec struct {
	Name       string // engine name (engine=<name>)
	Image      string
	Entrypoint []string // empty: the image's
	Cmd        []string
	Port       int
	Ready      config.Probe // placeholders filled in, defaults set
	Version    []string
	Metrics    string
	Startup    time.Duration
	GPU        bool
	IPCHost    bool
	ShmBytes   int64
	Ulimits    map[string]int64
	HFCache    bool
	HFOffline  bool // container.hf_offline (INFBENCH_HF_OFFLINE is read when the container is built)
	MinDriver  string
	Files      []config.File // placeholders filled in
	Env        map[string]string
	PassEnv    []string
	Model      string // served model name
	Checkpoint string // Hugging Face repository, or ""
	Profile    string // profile name, or ""
	Fit        *FitInput
	Labels     map[string]string
	Accepted   []string // the only request fields accepted on the run's API; nil: any
}

// Label keys set on every container infbench starts.
const (
	LabelManaged = "io.infbench.managed" // "true"
	LabelEngine  = "io.infbench.engine"  // engine name
	// The process that started the container, so that a later run removes
	// only what a dead process left, never another live run's container.
	LabelPID  = "io.infbench.pid"  // its PID on LabelHost
	LabelHost = "io.infbench.host" // its host name
	LabelRun  = "io.infbench.run"  // a random id per process
)

// ResolveSpec resolves a container engine entry for the run's profile.
// An engine whose profile says skip returns an error wrapping ErrSkip.
func ResolveSpec(e config.Engine, run *config.Run) (Spec, error) {
	c := e.Container
	if c == nil {
		return Spec{}, fmt.Errorf("engine %q: kind container needs a container: block in engines.yaml", e.Name)
	}
	s := Spec{Name: e.Name, Image: c.Image, Port: c.Port, Version: c.Version, Metrics: c.Metrics,
		Startup: c.Startup, GPU: c.GPU, IPCHost: c.IPC == "host", ShmBytes: int64(c.ShmGB * 1e9),
		Ulimits: c.Ulimits, HFCache: c.HFCache, Env: c.Env, PassEnv: c.PassEnv,
		Accepted: c.AcceptedFields.For(run.API), HFOffline: c.HFOffline, MinDriver: c.MinDriver,
		Labels: self.labels()}
	s.Labels[LabelManaged], s.Labels[LabelEngine] = "true", e.Name
	if s.Startup == 0 {
		s.Startup = config.DefaultStartup
	}
	vars := map[string]string{"port": strconv.Itoa(c.Port)}
	args := append([]string(nil), c.Args...)
	if len(c.Profiles) > 0 {
		name := run.Profile
		if name == "" {
			return Spec{}, fmt.Errorf("engine %q: no profile selected: set profile: in engines.yaml or %s (one of %s)",
				e.Name, config.EnvProfile, strings.Join(run.ProfileNames(), ", "))
		}
		ep, ok := c.Profiles[name]
		if !ok {
			return Spec{}, fmt.Errorf("engine %q: container.profiles has no %q: add it to engines.yaml", e.Name, name)
		}
		if ep.Skip != "" {
			return Spec{}, &SkipError{Engine: e.Name, Profile: name, Reason: strings.TrimSpace(ep.Skip)}
		}
		p := run.Profiles[name]
		s.Profile, s.Checkpoint = name, ep.Checkpoint
		vars["checkpoint"] = ep.Checkpoint
		vars["context"] = strconv.Itoa(p.Context)
		vars["max_seqs"] = strconv.Itoa(p.MaxSeqs)
		vars["mem_fraction"] = strconv.FormatFloat(ep.MemFraction, 'f', -1, 64)
		args = append(args, ep.Args...)
		s.Fit = &FitInput{Profile: name, GPUBytes: uint64(p.GPUMemoryGB * 1e9), MemFraction: ep.MemFraction,
			MemFractionOf: memFractionOf(append(append([]string{}, c.Entrypoint...), args...)),
			WeightsBytes:  uint64(ep.WeightsGB * 1e9), OverheadBytes: uint64(p.OverheadGB * 1e9),
			KVBytesPerToken: uint64(2 * p.Model.Layers * p.Model.KVHeads * p.Model.HeadDim * ep.KVCacheBytes),
			Context:         p.Context}
	}
	// The served name may itself use placeholders (TensorRT-LLM serves the
	// checkpoint under its own name).
	s.Model = expand(e.Model, vars)
	vars["model"] = s.Model
	if err := checkExpanded("model", s.Model); err != nil {
		return Spec{}, fmt.Errorf("engine %q: %w", e.Name, err)
	}
	s.Entrypoint = expandAll(c.Entrypoint, vars)
	s.Cmd = expandAll(args, vars)
	s.Ready = config.Probe{Method: c.Ready.Method, Path: c.Ready.Path, Body: expand(c.Ready.Body, vars),
		ProbeTimeout: c.Ready.ProbeTimeout, Interval: c.Ready.Interval}
	if s.Ready.Method == "" {
		s.Ready.Method = "GET"
	}
	if s.Ready.ProbeTimeout == 0 {
		s.Ready.ProbeTimeout = config.DefaultProbeTimeout
	}
	if s.Ready.Interval == 0 {
		s.Ready.Interval = config.DefaultProbeInterval
	}
	for _, a := range append(append(append([]string{}, s.Entrypoint...), s.Cmd...), s.Ready.Body) {
		if err := checkExpanded("container args", a); err != nil {
			return Spec{}, fmt.Errorf("engine %q: %w", e.Name, err)
		}
	}
	for _, f := range c.Files {
		f.Content = expand(f.Content, vars)
		if err := checkExpanded("container.files "+f.Path, f.Content); err != nil {
			return Spec{}, fmt.Errorf("engine %q: %w", e.Name, err)
		}
		s.Files = append(s.Files, f)
	}
	return s, nil
}

// freeFractionFlags are engine flags whose value is a share of the memory
// left free after the weights and runtime are loaded, not of the GPU's
// total (compared with '-' and '_' alike).
var freeFractionFlags = []string{"--kv_cache_free_gpu_memory_fraction"}

// memFractionOf says what {mem_fraction} is a share of, from the flag that
// takes it in the engine's arguments ("--flag {mem_fraction}" or
// "--flag={mem_fraction}"): FractionOfFree for TensorRT-LLM's
// --kv_cache_free_gpu_memory_fraction, else FractionOfTotal.
func memFractionOf(args []string) string {
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	for i, a := range args {
		if !strings.Contains(a, "{mem_fraction}") {
			continue
		}
		flag, _, found := strings.Cut(a, "=")
		if !found && i > 0 {
			flag = args[i-1]
		}
		for _, f := range freeFractionFlags {
			if norm(flag) == norm(f) {
				return FractionOfFree
			}
		}
	}
	return FractionOfTotal
}

func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func expandAll(xs []string, vars map[string]string) []string {
	if len(xs) == 0 {
		return nil
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = expand(x, vars)
	}
	return out
}

// checkExpanded rejects a placeholder left unfilled: a typo, or a profile
// placeholder in an engine without profiles.
func checkExpanded(what, s string) error {
	for _, k := range []string{"checkpoint", "model", "context", "max_seqs", "mem_fraction", "port"} {
		if strings.Contains(s, "{"+k+"}") {
			return fmt.Errorf("%s: %q: placeholder {%s} has no value (it needs a profile under container.profiles)", what, s, k)
		}
	}
	return nil
}
