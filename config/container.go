package config

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvProfile selects the model and GPU profile (h100, h200) for the
// container engines, overriding engines.yaml's profile.
const EnvProfile = "INFBENCH_PROFILE"

// DefaultStartup is a container engine's start-up deadline when its
// container.startup is not set: pulling an image and loading ~60–110 GB of
// weights takes many minutes.
const DefaultStartup = 40 * time.Minute

// ContainerSpec is how an engine runs in a container (kind container).
// Strings in Entrypoint, Args and Ready.Body may use the placeholders
// {checkpoint}, {model}, {context}, {max_seqs} and {port}.
type ContainerSpec struct {
	Image string `yaml:"image"` // repository:tag, pinned
	// Entrypoint replaces the image's entrypoint; empty keeps it (vLLM's
	// is `vllm serve`, so it takes arguments only).
	Entrypoint []string `yaml:"entrypoint"`
	Args       []string `yaml:"args"`
	Port       int      `yaml:"port"` // the container port the server listens on
	// Ready is the request that says the engine can generate: a real
	// generation, not an open port.
	Ready Probe `yaml:"ready"`
	// Version lists paths tried in order for the engine's version; the
	// first JSON answer with a "version" field wins.
	Version []string `yaml:"version"`
	Metrics string   `yaml:"metrics"` // Prometheus path, or ""
	// Startup bounds pull, load and readiness (default DefaultStartup).
	Startup time.Duration `yaml:"startup"`
	GPU     bool          `yaml:"gpu"`    // request every GPU (needs the NVIDIA runtime and -tags=gpu)
	IPC     string        `yaml:"ipc"`    // "host" (torch/NCCL shared memory) or empty
	ShmGB   float64       `yaml:"shm_gb"` // /dev/shm size when ipc is not host
	// Ulimits by name, e.g. memlock: -1, stack: 67108864 (soft = hard).
	Ulimits map[string]int64 `yaml:"ulimits"`
	// HFCache mounts the host's Hugging Face cache (HF_HOME, else
	// ~/.cache/huggingface) at /root/.cache/huggingface and sets HF_HOME
	// to it in the container (each image has its own default).
	HFCache bool `yaml:"hf_cache"`
	// HFOffline sets HF_HUB_OFFLINE=1 in the container: the model is read
	// from the mounted cache only, never fetched (GPU hosts without
	// internet). INFBENCH_HF_OFFLINE=1 sets it for every engine.
	HFOffline bool `yaml:"hf_offline"`
	// MinDriver is the oldest NVIDIA driver the image runs on, as NVML
	// reports it ("575" or "575.51.03"): the preflight stops before the
	// pull, naming it and the driver found, when the host's is older.
	MinDriver string `yaml:"min_driver"`
	// Files are written into the container before it starts (an engine's
	// configuration file); their content may use the placeholders.
	Files []File `yaml:"files"`
	// Env is set literally in the container; never put secrets here.
	Env map[string]string `yaml:"env"`
	// PassEnv names host variables passed through when set (HF_TOKEN);
	// their values are never printed.
	PassEnv []string `yaml:"pass_env"`
	// AcceptedFields, when set, are the only request-body fields the
	// engine accepts, per API (TensorRT-LLM answers HTTP 400 to any other).
	AcceptedFields *AcceptedFields `yaml:"accepted_fields"`
	// Profiles give the checkpoint and flags per model and GPU profile.
	Profiles map[string]EngineProfile `yaml:"profiles"`
}

// AcceptedFields are the request-body fields an engine accepts on each
// API: TensorRT-LLM's request models forbid extra fields, and its chat and
// completions models differ (chat has messages and no prompt; completions
// has prompt and no messages or max_completion_tokens).
type AcceptedFields struct {
	Chat        []string `yaml:"chat"`        // POST /v1/chat/completions
	Completions []string `yaml:"completions"` // POST /v1/completions
}

// For returns the fields accepted on api (chat or completions); nil: any.
func (a *AcceptedFields) For(api string) []string {
	if a == nil {
		return nil
	}
	if api == "completions" {
		return a.Completions
	}
	return a.Chat
}

// File is a file written into a container before it starts.
type File struct {
	Path    string `yaml:"path"`    // absolute path in the container
	Content string `yaml:"content"` // the file's text; placeholders are filled in
}

// Default readiness settings of a container engine (container.ready).
const (
	// DefaultProbeTimeout bounds one readiness probe. A probe that
	// generates takes seconds: SGLang's /health_generate answers after at
	// least 1 s (docs/engine-facts.md), longer while the first requests
	// compile kernels.
	DefaultProbeTimeout = 60 * time.Second
	// DefaultProbeInterval is the pause between readiness probes.
	DefaultProbeInterval = time.Second
)

// Probe is the readiness request: the engine is ready when it answers
// with a 2xx status. It is repeated, every Interval, until that or until
// the start-up deadline (container.startup, timeouts.startup).
type Probe struct {
	Method string `yaml:"method"` // GET (default) or POST
	Path   string `yaml:"path"`
	Body   string `yaml:"body"` // JSON for POST
	// ProbeTimeout bounds each probe (default DefaultProbeTimeout): longer
	// than the engine takes to answer a probe that generates.
	ProbeTimeout time.Duration `yaml:"probe_timeout"`
	// Interval is the pause between probes (default DefaultProbeInterval).
	Interval time.Duration `yaml:"interval"`
}

// EngineProfile is an engine's checkpoint and flags under one profile.
type EngineProfile struct {
	// Skip, when set, is why the engine cannot run this profile; the
	// benchmark skips it with this reason.
	Skip       string  `yaml:"skip"`
	Checkpoint string  `yaml:"checkpoint"` // Hugging Face repository of the weights
	WeightsGB  float64 `yaml:"weights_gb"` // weights in GPU memory, GB (1e9 bytes)
	// KVCacheBytes is the KV-cache element size: 1 (FP8) or 2 (BF16).
	KVCacheBytes int `yaml:"kv_cache_bytes"`
	// MemFraction is the share of GPU memory the engine may use
	// (--gpu-memory-utilization, --mem-fraction-static, ...).
	MemFraction float64  `yaml:"mem_fraction"`
	Args        []string `yaml:"args"` // appended to the container's args
}

// Profile is a model on a GPU: what the fit check needs.
type Profile struct {
	GPU         string     `yaml:"gpu"`           // what it is for, e.g. "1x H100 SXM 80 GB"
	GPUMemoryGB float64    `yaml:"gpu_memory_gb"` // used when NVML cannot tell
	Context     int        `yaml:"context"`       // max tokens per sequence ({context})
	MaxSeqs     int        `yaml:"max_seqs"`      // max running sequences ({max_seqs})
	OverheadGB  float64    `yaml:"overhead_gb"`   // activations, CUDA graphs, runtime
	Model       ModelShape `yaml:"model"`
}

// ModelShape is what sizes the KV cache.
type ModelShape struct {
	Layers  int `yaml:"layers"`
	KVHeads int `yaml:"kv_heads"`
	HeadDim int `yaml:"head_dim"`
}

// ApplyProfile sets the profile from INFBENCH_PROFILE when getenv returns
// it non-empty, and checks that the selected profile is defined.
func (r *Run) ApplyProfile(getenv func(string) string) error {
	if v := strings.TrimSpace(getenv(EnvProfile)); v != "" {
		if _, ok := r.Profiles[v]; !ok {
			return fmt.Errorf("%s=%q: no such profile: use one of %s", EnvProfile, v, strings.Join(r.ProfileNames(), ", "))
		}
		r.Profile = v
	}
	return nil
}

// ProfileNames returns the defined profiles, sorted.
func (r *Run) ProfileNames() []string {
	names := make([]string, 0, len(r.Profiles))
	for n := range r.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Run) validateProfiles() error {
	for _, name := range r.ProfileNames() {
		p := r.Profiles[name]
		switch {
		case p.GPUMemoryGB <= 0:
			return fmt.Errorf("profiles.%s.gpu_memory_gb: %v: give the GPU's memory in GB, e.g. 80", name, p.GPUMemoryGB)
		case p.Context < 1:
			return fmt.Errorf("profiles.%s.context: %d: give the max tokens per sequence, e.g. 16384", name, p.Context)
		case p.Model.Layers < 1 || p.Model.KVHeads < 1 || p.Model.HeadDim < 1:
			return fmt.Errorf("profiles.%s.model: %+v: layers, kv_heads and head_dim must be positive (Scout: 48, 8, 128)", name, p.Model)
		}
	}
	if r.Profile != "" {
		if _, ok := r.Profiles[r.Profile]; !ok {
			return fmt.Errorf("profile: %q is not under profiles (have %s)", r.Profile, strings.Join(r.ProfileNames(), ", "))
		}
	}
	for _, e := range r.Engines {
		if e.Container == nil {
			continue
		}
		for _, name := range r.ProfileNames() {
			if _, ok := e.Container.Profiles[name]; !ok && len(e.Container.Profiles) > 0 {
				return fmt.Errorf("engine %q: container.profiles has no %q: add it (or give skip: with the reason)", e.Name, name)
			}
		}
	}
	return nil
}

func (e Engine) validateContainer() error {
	c := e.Container
	if e.Kind != KindContainer {
		if c != nil {
			return fmt.Errorf("container: set only for kind container (kind is %q)", e.Kind)
		}
		return nil
	}
	if c == nil {
		return fmt.Errorf("container: required for kind container (image, port, ready, ...)")
	}
	switch {
	case c.Image == "":
		return fmt.Errorf("container.image: required, e.g. vllm/vllm-openai:v0.12.0")
	case !strings.Contains(c.Image[strings.LastIndex(c.Image, "/")+1:], ":") && !strings.Contains(c.Image, "@"):
		return fmt.Errorf("container.image: %q: pin a tag or digest (repository:tag)", c.Image)
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("container.port: %d: give the port the server listens on in the container", c.Port)
	case c.Ready.Path == "" || !strings.HasPrefix(c.Ready.Path, "/"):
		return fmt.Errorf("container.ready.path: %q: give a path such as /health_generate", c.Ready.Path)
	case c.Ready.Method != "" && c.Ready.Method != "GET" && c.Ready.Method != "POST":
		return fmt.Errorf("container.ready.method: %q: use GET or POST", c.Ready.Method)
	case c.Startup < 0:
		return fmt.Errorf("container.startup: %v: must be positive", c.Startup)
	case c.Ready.ProbeTimeout < 0:
		return fmt.Errorf("container.ready.probe_timeout: %v: must be positive (default %v), e.g. 60s", c.Ready.ProbeTimeout, DefaultProbeTimeout)
	case c.Ready.ProbeTimeout > 0 && c.Startup > 0 && c.Ready.ProbeTimeout >= c.Startup:
		return fmt.Errorf("container.ready.probe_timeout: %v: must be shorter than container.startup (%v)", c.Ready.ProbeTimeout, c.Startup)
	case c.Ready.Interval < 0:
		return fmt.Errorf("container.ready.interval: %v: must be positive (default %v), e.g. 1s", c.Ready.Interval, DefaultProbeInterval)
	case c.IPC != "" && c.IPC != "host":
		return fmt.Errorf("container.ipc: %q: use host or leave it out (and set shm_gb)", c.IPC)
	}
	for name, p := range c.Profiles {
		if p.Skip != "" {
			continue
		}
		switch {
		case p.Checkpoint == "":
			return fmt.Errorf("container.profiles.%s.checkpoint: required (a Hugging Face repository), or give skip: with the reason", name)
		case p.WeightsGB <= 0:
			return fmt.Errorf("container.profiles.%s.weights_gb: %v: give the weights' size in GB", name, p.WeightsGB)
		case p.KVCacheBytes != 1 && p.KVCacheBytes != 2:
			return fmt.Errorf("container.profiles.%s.kv_cache_bytes: %d: use 1 (FP8) or 2 (BF16)", name, p.KVCacheBytes)
		case p.MemFraction <= 0 || p.MemFraction > 1:
			return fmt.Errorf("container.profiles.%s.mem_fraction: %v: give the engine's share of GPU memory, e.g. 0.9", name, p.MemFraction)
		}
	}
	if a := c.AcceptedFields; a != nil {
		for _, api := range []string{"chat", "completions"} {
			list := a.For(api)
			if len(list) == 0 {
				return fmt.Errorf("container.accepted_fields.%s: empty: list the fields the engine accepts on %s (or leave accepted_fields out)", api, api)
			}
			// The fields every request carries (loadgen.Client.Body): an
			// engine that does not accept one would refuse every request.
			needed := []string{"model", "stream", "max_tokens", "messages"}
			if api == "completions" {
				needed[3] = "prompt"
			}
			for _, k := range needed {
				if !slices.Contains(list, k) {
					return fmt.Errorf("container.accepted_fields.%s: lacks %q, which every %s request sends: add it (the engine would refuse every request otherwise)", api, k, api)
				}
			}
			for k := range e.Extra {
				if !slices.Contains(list, k) {
					return fmt.Errorf("extra: field %q is not in container.accepted_fields.%s (%s): the engine would answer HTTP 400; remove it",
						k, api, strings.Join(list, ", "))
				}
			}
		}
	}
	if c.MinDriver != "" {
		if _, err := ParseDriverVersion(c.MinDriver); err != nil {
			return fmt.Errorf("container.min_driver: %w", err)
		}
	}
	for i, f := range c.Files {
		switch {
		case !strings.HasPrefix(f.Path, "/") || strings.HasSuffix(f.Path, "/"):
			return fmt.Errorf("container.files[%d].path: %q: give an absolute file path in the container, e.g. /etc/infbench/extra.yaml", i, f.Path)
		case f.Content == "":
			return fmt.Errorf("container.files[%d] (%s): content is empty: give the file's text", i, f.Path)
		}
	}
	return nil
}

// DriverVersion is an NVIDIA driver version as NVML reports it,
// "575.51.03": its numeric parts, major first.
type DriverVersion []int

// ParseDriverVersion parses "575", "575.51" or "575.51.03".
func ParseDriverVersion(s string) (DriverVersion, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	v := make(DriverVersion, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("driver version %q: want numbers separated by dots, as nvidia-smi shows it (e.g. 575 or 575.51.03)", s)
		}
		v[i] = n
	}
	return v, nil
}

// AtLeast reports whether v is min or newer; parts min does not give
// count as equal ("575" holds for every 575.x).
func (v DriverVersion) AtLeast(min DriverVersion) bool {
	for i, m := range min {
		var n int
		if i < len(v) {
			n = v[i]
		}
		if n != m {
			return n > m
		}
	}
	return true
}
