// Package streamhttp is the HTTP/1.1 client under loadgen's streaming
// requests. It exists for one reason: every body read it returns comes from
// exactly one socket read, and carries that read's stamp — on Linux the time
// the kernel received the bytes (SO_TIMESTAMPING), whatever the client was
// doing then.
//
// net/http cannot give that. Its transport reads the connection through a
// bufio.Reader and decodes chunked encoding above it, so a body Read may
// return bytes that arrived in an earlier socket read together with the
// previous event, and nothing says which read delivered which bytes. A
// kernel stamp belongs to one recvmsg call; keeping the mapping from body
// bytes to socket reads exact needs a reader that owns the buffer, the
// chunked decoding and the socket reads, which is this package. It speaks
// just what an OpenAI-compatible streaming API needs: one request at a time
// per connection (no pipelining), keep-alive reuse, chunked,
// Content-Length or close-delimited bodies, plain TCP (kernel stamps) or TLS
// (user-space stamps: the TLS record layer buffers beneath the plaintext, so
// a plaintext byte cannot be traced to its socket read).
package streamhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Transport sends requests to one server over a pool of at most MaxConns
// connections. It is safe for concurrent use.
type Transport struct {
	scheme string
	addr   string // host:port to dial
	host   string // Host header
	tls    *tls.Config
	dialer net.Dialer
	clock  func() Clock
	keeper io.Closer // holds kernel packet stamping on; nil without

	mu      sync.Mutex
	max     int
	open    int           // connections open, busy or idle
	idle    []*conn       // newest last
	closed  bool          // Close was called: released connections are closed
	changed chan struct{} // closed and replaced when a connection is released or closed
}

// IdleTimeout is how long a connection may wait in the pool. Servers
// close idle keep-alive connections (uvicorn, under vLLM, SGLang and
// trtllm-serve, after 5 s), and a request sent on one the server is
// closing fails; a connection idle longer than this is closed instead of
// reused.
const IdleTimeout = 4 * time.Second

// New returns a transport for base ("http://host:port" or https) that
// opens at most maxConns connections: a request beyond them waits for a
// connection to come back.
func New(base string, maxConns int, dialTimeout time.Duration) (*Transport, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("target URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("target URL %q: scheme must be http or https", base)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("target URL %q: no host", base)
	}
	t := &Transport{
		scheme:  u.Scheme,
		host:    u.Host,
		addr:    u.Host,
		dialer:  net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		max:     max(maxConns, 1),
		changed: make(chan struct{}),
	}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		t.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		t.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
	} else {
		t.keeper = holdStamping()
	}
	t.clock = sync.OnceValue(func() Clock {
		if ok, _ := KernelStamps(); ok && t.tls == nil {
			return ClockKernel
		}
		return ClockUser
	})
	return t, nil
}

// Clock is the clock this transport's reads are stamped with: ClockKernel
// where the kernel delivers receive timestamps, ClockUser for https and
// elsewhere (probed on the first call). Each Stamp says which clock it
// read.
func (t *Transport) Clock() Clock { return t.clock() }

// Request is one request: a method, a path with its query, headers and a
// body sent with Content-Length.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// conn is one connection of the pool.
type conn struct {
	t         *Transport
	nc        net.Conn
	cr        *connReader
	stop      func() bool // stops the context watch of the current request
	idleSince time.Time
}

// Do sends req and reads the response head. sent is when the request's
// first byte was handed to the kernel (zero if it never was). When ctx
// ends, a blocked read or write returns at once; context.Cause(ctx) says
// why. The caller must Close the body.
//
// A connection from the pool is checked before use (closed by the server,
// or idle longer than IdleTimeout: not used). One that still fails before
// any byte of the response arrived — the write refused, or the
// connection closed or reset at the first read — was closed by the server
// as the request went out, and the request is sent again, once, on a
// newly dialled connection (with a new send time).
func (t *Transport) Do(ctx context.Context, req Request) (resp *Response, sent time.Time, err error) {
	wire, err := encode(t.host, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	for attempt := 0; ; attempt++ {
		c, reused, err := t.get(ctx, attempt > 0)
		if err != nil {
			return nil, time.Time{}, err
		}
		if ctx.Err() != nil { // a pooled connection comes without waiting: check
			c.release(true)
			return nil, time.Time{}, fmt.Errorf("%w (before the request was sent)", context.Cause(ctx))
		}
		c.stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
		before := c.cr.received
		sent = time.Now()
		_, err = c.nc.Write(wire)
		if err == nil {
			resp, err = readResponse(c.cr, c)
		}
		if err == nil {
			return resp, sent, nil
		}
		c.release(false)
		if reused && attempt == 0 && ctx.Err() == nil && c.cr.received == before && staleConn(err) {
			continue
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		}
		return nil, sent, err
	}
}

// staleConn reports an error that a connection the server closed gives
// before any response byte: the write refused, or the first read finding
// the connection closed (EOF) or reset.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// encode writes the request line, headers and body as one buffer: one
// write system call per request.
func encode(host string, req Request) ([]byte, error) {
	if req.Method == "" || strings.ContainsAny(req.Method, " \r\n") {
		return nil, fmt.Errorf("bad method %q", req.Method)
	}
	if !strings.HasPrefix(req.Path, "/") || strings.ContainsAny(req.Path, " \r\n") {
		return nil, fmt.Errorf("bad request path %q: it must start with / and hold no spaces", req.Path)
	}
	var b strings.Builder
	b.Grow(256 + len(req.Body))
	b.WriteString(req.Method + " " + req.Path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for k, vs := range req.Header {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("bad header name %q", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("header %s: the value holds a line break", k)
			}
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(req.Body)) + "\r\n\r\n")
	b.Write(req.Body)
	return []byte(b.String()), nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// get takes the newest idle connection that is still usable, or dials
// one while fewer than the maximum are open, or waits for one to come
// back. fresh skips the pool (the retry after a stale connection).
func (t *Transport) get(ctx context.Context, fresh bool) (*conn, bool, error) {
	for {
		t.mu.Lock()
		if !fresh {
			if c := t.popIdle(); c != nil {
				t.mu.Unlock()
				return c, true, nil
			}
		}
		if t.open < t.max {
			t.open++
			t.mu.Unlock()
			c, err := t.dial(ctx)
			if err != nil {
				t.closedOne()
				return nil, false, err
			}
			return c, false, nil
		}
		if fresh && len(t.idle) > 0 { // make room: close the oldest idle one
			c := t.idle[0]
			t.idle = t.idle[1:]
			t.mu.Unlock()
			_ = c.nc.Close()
			t.closedOne()
			continue
		}
		wait := t.changed
		t.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, fmt.Errorf("waiting for a connection: %w", context.Cause(ctx))
		}
	}
}

// popIdle returns the newest idle connection that is still usable,
// closing the ones that are not; t.mu is held.
func (t *Transport) popIdle() *conn {
	for len(t.idle) > 0 {
		c := t.idle[len(t.idle)-1]
		t.idle = t.idle[:len(t.idle)-1]
		if time.Since(c.idleSince) < IdleTimeout && c.cr.rx.alive() {
			return c
		}
		_ = c.nc.Close()
		t.open--
	}
	return nil
}

// closedOne accounts for a connection closed (or never opened) and wakes
// a request waiting for one.
func (t *Transport) closedOne() {
	t.mu.Lock()
	t.open--
	t.wake()
	t.mu.Unlock()
}

// wake tells the requests waiting for a connection to look again; t.mu
// is held.
func (t *Transport) wake() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *Transport) dial(ctx context.Context) (*conn, error) {
	nc, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	var x rx
	if t.tls != nil {
		tc := tls.Client(nc, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", t.addr, err)
		}
		nc, x = tc, &userReader{r: tc}
	} else {
		x = newRx(nc)
	}
	return &conn{t: t, nc: nc, cr: newConnReader(x)}, nil
}

// release ends the current request on c: back to the pool when reuse is
// true, the request's context never fired and the transport is open;
// else closed.
func (c *conn) release(reuse bool) {
	if c.stop != nil && !c.stop() {
		reuse = false // the context fired: the deadline is in the past
	}
	c.stop = nil
	t := c.t
	t.mu.Lock()
	if reuse && !t.closed {
		c.idleSince = time.Now()
		t.idle = append(t.idle, c)
		t.wake()
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = c.nc.Close()
	t.closedOne()
}

// Close closes the idle connections, and every connection still in use as
// its request ends, and lets the kernel stop stamping packets (when no
// other socket wants it).
func (t *Transport) Close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.CloseIdle()
	if t.keeper != nil {
		_ = t.keeper.Close()
	}
}

// CloseIdle closes the connections waiting in the pool.
func (t *Transport) CloseIdle() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.open -= len(idle)
	t.wake()
	t.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}
