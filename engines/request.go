package engines

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/config"
)

// containerOptions turns a spec into testcontainers options: image
// command, port, environment (HF_HOME at the mounted cache,
// HF_HUB_OFFLINE), labels, files copied in before the start (an engine's
// configuration file) and host configuration (GPU, IPC, ulimits, Hugging
// Face cache). There is no wait strategy: testcontainers
// returns once the container runs, and the poller (ready.go) waits for
// readiness. getenv supplies the values of the passed-through variables
// and the cache's location.
func containerOptions(s Spec, getenv func(string) string) ([]testcontainers.ContainerCustomizer, error) {
	port := strconv.Itoa(s.Port) + "/tcp"
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(port),
		testcontainers.WithLabels(s.Labels),
	}
	if len(s.Entrypoint) > 0 {
		opts = append(opts, testcontainers.WithEntrypoint(s.Entrypoint...))
	}
	if len(s.Cmd) > 0 {
		opts = append(opts, testcontainers.WithCmd(s.Cmd...))
	}
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	for _, k := range s.PassEnv {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	var bind string
	if s.HFCache {
		dir, err := hfCacheDir(getenv)
		if err != nil {
			return nil, err
		}
		bind = dir + ":" + ContainerHFCache
		// Each image has its own default cache location: point them all
		// at the mount.
		env["HF_HOME"] = ContainerHFCache
	}
	offline, err := hfOffline(s, getenv)
	if err != nil {
		return nil, err
	}
	if offline {
		env["HF_HUB_OFFLINE"] = "1"
	}
	if len(env) > 0 {
		opts = append(opts, testcontainers.WithEnv(env))
	}
	if len(s.Files) > 0 {
		files := make([]testcontainers.ContainerFile, len(s.Files))
		for i, f := range s.Files {
			files[i] = testcontainers.ContainerFile{Reader: strings.NewReader(f.Content), ContainerFilePath: f.Path, FileMode: 0o644}
		}
		opts = append(opts, testcontainers.WithFiles(files...))
	}
	opts = append(opts, testcontainers.WithHostConfigModifier(hostConfig(s, bind)))
	return opts, nil
}

// hfOffline says whether the container gets HF_HUB_OFFLINE=1:
// container.hf_offline, or INFBENCH_HF_OFFLINE set to a true value (a
// false one turns it off for every engine).
func hfOffline(s Spec, getenv func(string) string) (bool, error) {
	v := strings.TrimSpace(getenv(config.EnvHFOffline))
	if v == "" {
		return s.HFOffline, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: use 1 (models from the Hugging Face cache only) or 0", config.EnvHFOffline, v)
	}
	return on, nil
}

// hostConfig returns the host configuration modifier for a spec.
func hostConfig(s Spec, bind string) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		if s.GPU {
			hc.DeviceRequests = []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}
		}
		if s.IPCHost {
			hc.IpcMode = container.IPCModeHost
		} else if s.ShmBytes > 0 {
			hc.ShmSize = s.ShmBytes
		}
		names := make([]string, 0, len(s.Ulimits))
		for n := range s.Ulimits {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := s.Ulimits[n]
			hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: n, Soft: v, Hard: v})
		}
		if bind != "" {
			hc.Binds = append(hc.Binds, bind)
		}
	}
}

// BuildRequest applies a spec's options to a container request, as
// testcontainers.Run would: the request as data, for tests and for
// reading what will be run. Environment values are those getenv returns.
func BuildRequest(s Spec, getenv func(string) string) (testcontainers.GenericContainerRequest, error) {
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{Image: s.Image}, Started: true}
	opts, err := containerOptions(s, getenv)
	if err != nil {
		return req, err
	}
	for _, o := range opts {
		if err := o.Customize(&req); err != nil {
			return req, fmt.Errorf("engine %q: building the container request: %w", s.Name, err)
		}
	}
	return req, nil
}

// ensureDir creates the host side of a bind mount so that Docker does not
// create it owned by root.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s for the container: %w", dir, err)
	}
	return nil
}
