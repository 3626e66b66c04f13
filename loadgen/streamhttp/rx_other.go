//go:build !linux

package streamhttp

import (
	"errors"
	"io"
	"net"
)

// newRx returns a reader stamped in user space: kernel receive timestamps
// are read only on Linux.
func newRx(c net.Conn) rx { return &userReader{r: c} }

var errNoKernelStamps = errors.New("kernel receive timestamps are read only on Linux")

func holdStamping() io.Closer { return nil }
