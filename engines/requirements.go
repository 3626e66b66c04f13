package engines

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/infbench/infbench/config"
)

// missingError names everything a container engine lacks and how to get
// it; it wraps the error behind each item (Docker's, NVML's, …).
type missingError struct {
	engine string
	items  []error
}

func (e *missingError) Error() string {
	msgs := make([]string, len(e.items))
	for i, it := range e.items {
		msgs[i] = it.Error()
	}
	return fmt.Sprintf("engine %q cannot start; missing: %s", e.engine, strings.Join(msgs, "; "))
}

func (e *missingError) Unwrap() []error { return e.items }

// requirements checks, before anything is pulled, what a container engine
// needs: a Docker engine, and for GPU engines the NVIDIA runtime, a GPU
// and the model (in the cache, or a token to fetch it). It returns the GPU
// memory NVML reported (0: unknown) and one error naming everything that
// is missing and how to get it.
func requirements(ctx context.Context, s Spec, o options) (gpuBytes uint64, gpuName string, err error) {
	var missing []error
	info, derr := o.docker(ctx)
	if derr != nil {
		missing = append(missing, fmt.Errorf("a Docker engine: none answers (%w): install Docker and start it, or set DOCKER_HOST", derr))
	}
	if s.GPU {
		if derr == nil && !slices.Contains(info.Runtimes, "nvidia") {
			missing = append(missing, fmt.Errorf("the NVIDIA container runtime: docker info lists runtimes %s, without nvidia: install the NVIDIA Container Toolkit "+
				"and run `sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker`", strings.Join(info.Runtimes, ", ")))
		}
		info, gerr := o.gpu(ctx)
		if gerr != nil {
			missing = append(missing, fmt.Errorf("a GPU: %w: install the NVIDIA driver (nvidia-smi must list the GPU)", gerr))
		} else {
			gpuBytes, gpuName = info.MemoryTotalBytes, info.Name
			if err := checkDriver(s, info.DriverVersion, o.getenv); err != nil {
				missing = append(missing, err)
			}
		}
	}
	offline, oerr := hfOffline(s, o.getenv)
	if oerr != nil {
		missing = append(missing, oerr)
	}
	if s.HFCache && s.Checkpoint != "" {
		dir, herr := hfCacheDir(o.getenv)
		switch {
		case herr != nil:
			missing = append(missing, herr)
		case offline && !modelCached(dir, s.Checkpoint):
			missing = append(missing, fmt.Errorf("the model %s: it is not in the Hugging Face cache %s and HF_HUB_OFFLINE=1 (container.hf_offline or %s) forbids fetching it: "+
				"run `hf download %s` on a host with internet and copy the cache here, or turn offline mode off", s.Checkpoint, dir, config.EnvHFOffline, s.Checkpoint))
		case !offline && !modelCached(dir, s.Checkpoint) && o.getenv("HF_TOKEN") == "":
			missing = append(missing, fmt.Errorf("the model %s: it is not in the Hugging Face cache %s and HF_TOKEN is not set: "+
				"accept its licence on huggingface.co, then export HF_TOKEN=<a read token> or run `hf download %s` "+
				"(huggingface_hub before 0.34: `huggingface-cli download %s`)", s.Checkpoint, dir, s.Checkpoint, s.Checkpoint))
		}
	}
	if len(missing) > 0 {
		return 0, "", &missingError{engine: s.Name, items: missing}
	}
	return gpuBytes, gpuName, nil
}

// checkDriver compares the driver NVML reports with the image's minimum
// (container.min_driver): an older driver fails before the pull, since the
// engine would fail only after it, with a CUDA error at start-up.
func checkDriver(s Spec, found string, getenv func(string) string) error {
	if s.MinDriver == "" || strings.EqualFold(strings.TrimSpace(getenv(config.EnvDriverCheck)), "off") {
		return nil
	}
	minimum, err := config.ParseDriverVersion(s.MinDriver)
	if err != nil {
		return fmt.Errorf("container.min_driver of %s: %w", s.Image, err)
	}
	if found == "" {
		return fmt.Errorf("a known NVIDIA driver version: NVML did not report one, and %s needs driver %s or newer: check nvidia-smi, or set %s=off to skip the check",
			s.Image, s.MinDriver, config.EnvDriverCheck)
	}
	v, err := config.ParseDriverVersion(found)
	if err != nil {
		return fmt.Errorf("a readable NVIDIA driver version: NVML reports %q: %w; set %s=off to skip the check", found, err, config.EnvDriverCheck)
	}
	if !v.AtLeast(minimum) {
		return fmt.Errorf("NVIDIA driver %s or newer for %s (container.min_driver): NVML reports driver %s: upgrade the driver "+
			"(R%d or later), or, on a data-centre GPU with CUDA forward compatibility set up, set %s=off",
			s.MinDriver, s.Image, found, minimum[0], config.EnvDriverCheck)
	}
	return nil
}
