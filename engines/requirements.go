package engines

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// requirements checks, before anything is pulled, what a container engine
// needs: a Docker engine, and for GPU engines the NVIDIA runtime, a GPU
// and the model (in the cache, or a token to fetch it). It returns the GPU
// memory NVML reported (0: unknown) and one error naming everything that
// is missing and how to get it.
func requirements(ctx context.Context, s Spec, o options) (gpuBytes uint64, gpuName string, err error) {
	var missing []string
	info, derr := o.docker(ctx)
	if derr != nil {
		missing = append(missing, fmt.Sprintf("a Docker engine: none answers (%v): install Docker and start it, or set DOCKER_HOST", derr))
	}
	if s.GPU {
		if derr == nil && !slices.Contains(info.Runtimes, "nvidia") {
			missing = append(missing, fmt.Sprintf("the NVIDIA container runtime: docker info lists runtimes %s, without nvidia: install the NVIDIA Container Toolkit "+
				"and run `sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker`", strings.Join(info.Runtimes, ", ")))
		}
		b, name, gerr := o.gpuMemory(ctx)
		if gerr != nil {
			missing = append(missing, fmt.Sprintf("a GPU: %v: install the NVIDIA driver (nvidia-smi must list the GPU)", gerr))
		} else {
			gpuBytes, gpuName = b, name
		}
	}
	if s.HFCache && s.Checkpoint != "" {
		dir, herr := hfCacheDir(o.getenv)
		switch {
		case herr != nil:
			missing = append(missing, herr.Error())
		case !modelCached(dir, s.Checkpoint) && o.getenv("HF_TOKEN") == "":
			missing = append(missing, fmt.Sprintf("the model %s: it is not in the Hugging Face cache %s and HF_TOKEN is not set: "+
				"accept its licence on huggingface.co, then export HF_TOKEN=<a read token> or run `hf download %s` "+
				"(huggingface_hub before 0.34: `huggingface-cli download %s`)", s.Checkpoint, dir, s.Checkpoint, s.Checkpoint))
		}
	}
	if len(missing) > 0 {
		return 0, "", fmt.Errorf("engine %q cannot start; missing: %s", s.Name, strings.Join(missing, "; "))
	}
	return gpuBytes, gpuName, nil
}
