//go:build !gpu

package engines

import (
	"fmt"

	"github.com/infbench/infbench/config"
)

// GPUBuild reports whether the container engines are compiled in.
const GPUBuild = false

func newContainer(e config.Engine, _ *config.Run) (Engine, error) {
	return nil, fmt.Errorf("engine %q runs in a container on a GPU: build with -tags=gpu (go test -tags=gpu -bench=.)", e.Name)
}
