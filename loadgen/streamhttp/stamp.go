package streamhttp

import "time"

// Clock names the clock that stamped a read.
type Clock string

const (
	// ClockKernel: the time the kernel received the bytes (SO_TIMESTAMPING,
	// a software receive timestamp), mapped onto the monotonic clock.
	ClockKernel Clock = "kernel"
	// ClockUser: the time the read returned to this process. Used where
	// the kernel gives no receive timestamp (another OS, TLS, a
	// connection that is not TCP).
	ClockUser Clock = "user"
)

// Stamp says when the bytes of one socket read arrived.
type Stamp struct {
	// Kernel is when the kernel received the newest bytes of the read,
	// on the monotonic clock; zero where the kernel gives no timestamp.
	Kernel time.Time
	// User is when the read returned to this process.
	User time.Time
	// Seq numbers the socket reads of a connection from 1: two events
	// with the same Seq arrived in one read and share its stamp.
	Seq uint64
}

// At is the measurement's time: Kernel where there is one, else User.
func (s Stamp) At() time.Time {
	if !s.Kernel.IsZero() {
		return s.Kernel
	}
	return s.User
}

// Clock says which clock At reads.
func (s Stamp) Clock() Clock {
	if !s.Kernel.IsZero() {
		return ClockKernel
	}
	return ClockUser
}

// Lag is how long the bytes waited in the kernel before this process
// read them (User − Kernel): the client's own share of any latency it
// reports. Zero without a kernel stamp.
func (s Stamp) Lag() time.Duration {
	if s.Kernel.IsZero() {
		return 0
	}
	return s.User.Sub(s.Kernel)
}

// fromKernelWall maps a kernel receive time (CLOCK_REALTIME, as the kernel
// stamps it) onto the monotonic clock of user, the time.Now() taken as the
// read returned: the difference is taken on the wall clock, where both
// live, and subtracted from user, which keeps user's monotonic reading. A
// kernel time after user, or hours before it, means the wall clock was
// stepped between the two readings: no kernel stamp then.
func fromKernelWall(kernelWall, user time.Time) time.Time {
	lag := user.Sub(kernelWall) // both wall clock: kernelWall has no monotonic reading
	if lag < 0 || lag > time.Hour {
		return time.Time{}
	}
	return user.Add(-lag)
}
