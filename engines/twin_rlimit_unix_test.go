//go:build unix

package engines_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

// grantable lowers the ulimits a spec asks for (memlock unlimited, a
// 64 MiB stack: what the engines need for pinned memory and NCCL) to this
// host's hard limits where they are lower, as an unprivileged Docker
// engine (in a container, rootless) cannot raise them and runc fails the
// start ("error setting rlimit type 8: operation not permitted"). This
// process's hard limits stand for the Docker engine's, which runs on the
// same machine in CI. Like the GPU request, that is the host's
// requirement, not the spec's contract with the engine.
func grantable(t *testing.T, want map[string]int64) map[string]int64 {
	resources := map[string]int{"memlock": unix.RLIMIT_MEMLOCK, "stack": unix.RLIMIT_STACK, "nofile": unix.RLIMIT_NOFILE}
	out := map[string]int64{}
	for name, v := range want {
		out[name] = v
		res, ok := resources[name]
		var lim unix.Rlimit
		if !ok || unix.Getrlimit(res, &lim) != nil || lim.Max == unix.RLIM_INFINITY {
			continue
		}
		if v < 0 || uint64(v) > lim.Max {
			t.Logf("ulimit %s=%d exceeds this host's hard limit %d: the twin runs with %d", name, v, lim.Max, lim.Max)
			out[name] = int64(lim.Max)
		}
	}
	return out
}
