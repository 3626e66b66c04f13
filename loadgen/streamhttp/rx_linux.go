//go:build linux

package streamhttp

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Software receive timestamps, from linux/net_tstamp.h: RX_SOFTWARE asks
// the kernel to stamp incoming packets as they enter the network stack,
// SOFTWARE to report those stamps in a SCM_TIMESTAMPING control message of
// recvmsg. See the kernel's Documentation/networking/timestamping.rst: for
// TCP the stamp is that of the newest segment the read consumed.
const (
	sofTimestampingRxSoftware = 1 << 3
	sofTimestampingSoftware   = 1 << 4
)

// sizeofTimespec3 is struct scm_timestamping: three struct timespec, the
// first the software stamp.
const sizeofTimespec3 = 3 * int(unsafe.Sizeof(syscall.Timespec{}))

// tcpReader reads a TCP connection with recvmsg, taking the kernel's
// receive timestamp of each read.
type tcpReader struct {
	raw syscall.RawConn
	oob []byte
	seq uint64
}

// newRx returns the stamped reader for c: kernel stamps on a TCP
// connection where the kernel accepts SO_TIMESTAMPING, user-space ones
// otherwise.
func newRx(c net.Conn) rx {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return &userReader{r: c}
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return &userReader{r: c}
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPING,
			sofTimestampingRxSoftware|sofTimestampingSoftware)
	}); err != nil || serr != nil {
		return &userReader{r: c}
	}
	return &tcpReader{raw: raw, oob: make([]byte, syscall.CmsgSpace(sizeofTimespec3)+64)}
}

// alive peeks at the socket without waiting: EAGAIN means nothing is
// there, so the connection is open and quiet; end of stream, an error or
// bytes the server sent unasked mean it cannot take a request.
func (t *tcpReader) alive() bool {
	ok := false
	_ = t.raw.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = err == syscall.EAGAIN
	})
	return ok
}

func (t *tcpReader) read(p []byte) (int, Stamp, error) {
	var (
		n, oobn int
		rerr    error
		user    time.Time
	)
	err := t.raw.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, t.oob, 0)
			if rerr != syscall.EINTR {
				break
			}
		}
		user = time.Now()
		return rerr != syscall.EAGAIN
	})
	if err == nil && rerr != nil {
		err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("recvmsg", rerr)}
	}
	if err != nil {
		return 0, Stamp{User: user}, err
	}
	if n == 0 {
		return 0, Stamp{User: user}, io.EOF
	}
	t.seq++
	st := Stamp{User: user, Seq: t.seq}
	if kw, ok := kernelWall(t.oob[:oobn]); ok {
		st.Kernel = fromKernelWall(kw, user)
	}
	return n, st, nil
}

// kernelWall finds the SCM_TIMESTAMPING message in oob and returns its
// software stamp. It walks the control messages by hand rather than with
// syscall.ParseSocketControlMessage, which allocates on every read.
func kernelWall(oob []byte) (time.Time, bool) {
	hdr := syscall.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return time.Time{}, false
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPING && l >= syscall.CmsgLen(sizeofTimespec3) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[hdr]))
			if ts.Sec == 0 && ts.Nsec == 0 {
				return time.Time{}, false
			}
			return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
		}
		next := syscall.CmsgSpace(l - hdr)
		if next > len(oob) {
			return time.Time{}, false
		}
		oob = oob[next:]
	}
	return time.Time{}, false
}

// errNoKernelStamps is why KernelStamps reports false.
var errNoKernelStamps = errors.New("the kernel sent no SCM_TIMESTAMPING message on a loopback TCP read")

// holdStamping keeps packet stamping on for the machine while the returned
// socket is open: the kernel enables it when the first socket asks and
// disables it when the last one closes, each time after a short delay, so
// a transport holds it from its creation rather than lose the stamps of
// its first packets to that delay.
func holdStamping() io.Closer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil
	}
	raw, err := c.SyscallConn()
	if err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPING,
				sofTimestampingRxSoftware|sofTimestampingSoftware)
		})
	}
	return c
}
