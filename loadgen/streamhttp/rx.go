package streamhttp

import (
	"fmt"
	"io"
	"net"
	"time"
)

// rx is a connection's read side: one call is one socket read, with its
// stamp.
type rx interface {
	read(p []byte) (int, Stamp, error)
	// alive reports, without waiting, whether an idle connection can take
	// a request: not closed by the server, no unexpected bytes waiting.
	alive() bool
}

// userReader stamps reads in user space, as they return (TLS, other OSes).
type userReader struct {
	r   io.Reader
	seq uint64
}

// alive cannot look below a TLS connection without consuming it: an idle
// one is taken as alive, and the retry in Transport.Do covers the rest.
func (u *userReader) alive() bool { return true }

func (u *userReader) read(p []byte) (int, Stamp, error) {
	n, err := u.r.Read(p)
	st := Stamp{User: time.Now()}
	if n > 0 {
		u.seq++
		st.Seq = u.seq
	}
	return n, st, err
}

// KernelStamps reports whether this machine's kernel delivers receive
// timestamps on TCP: it sends a byte over loopback and reads it back. The
// kernel turns packet stamping on for the whole machine a moment after the
// first socket asks for it (a deferred work item), so the probe tries a few
// times before it concludes. The error says why not.
func KernelStamps() (bool, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, fmt.Errorf("probing kernel receive timestamps: %w", err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return false, fmt.Errorf("probing kernel receive timestamps: %w", err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		return false, fmt.Errorf("probing kernel receive timestamps: %w", err)
	}
	defer s.Close()
	r := newRx(c)
	for range 50 {
		if _, err := s.Write([]byte{'x'}); err != nil {
			return false, fmt.Errorf("probing kernel receive timestamps: %w", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, st, err := r.read(make([]byte, 1))
		if err != nil {
			return false, fmt.Errorf("probing kernel receive timestamps: %w", err)
		}
		if !st.Kernel.IsZero() {
			return true, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false, errNoKernelStamps
}
