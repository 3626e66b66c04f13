package streamhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func post(body string) Request {
	return Request{Method: "POST", Path: "/v1/chat/completions", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

// readAll reads b to its end, one Read at a time, checking that every
// Read carries a stamp.
func readAll(t *testing.T, b *Body) string {
	t.Helper()
	var sb strings.Builder
	p := make([]byte, 7) // small, so a socket read is returned in several Reads
	for {
		n, err := b.Read(p)
		if n > 0 {
			sb.Write(p[:n])
			assert.NotZero(t, b.Stamp().Seq, "a Read with bytes carries its socket read's number")
			assert.False(t, b.Stamp().User.IsZero())
		}
		if err == io.EOF {
			return sb.String()
		}
		require.NoError(t, err)
	}
}

func TestTransportAgainstNetHTTPServer(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 5 {
				fmt.Fprintf(w, "data: %d %s\n\n", i, body)
				w.(http.Flusher).Flush()
			}
		case "/length":
			w.Header().Set("Content-Length", "5")
			_, _ = w.Write([]byte("hello"))
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		case "/status":
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"error":"busy"}`))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr, err := New(srv.URL, 1, time.Second)
	require.NoError(t, err)
	defer tr.Close()

	do := func(path string) (*Response, string) {
		r := post("x")
		r.Path = path
		resp, sent, err := tr.Do(context.Background(), r)
		require.NoError(t, err)
		assert.False(t, sent.IsZero())
		assert.False(t, resp.Head.At().Before(sent), "headers arrive after the send")
		s := readAll(t, resp.Body)
		require.NoError(t, resp.Body.Close())
		return resp, s
	}
	resp, s := do("/stream")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "data: 0 x\n\ndata: 1 x\n\ndata: 2 x\n\ndata: 3 x\n\ndata: 4 x\n\n", s)
	_, s = do("/length")
	assert.Equal(t, "hello", s)
	resp, s = do("/status")
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, `{"error":"busy"}`, s)
	assert.Equal(t, int32(1), conns.Load(), "one connection reused for every complete response")
	_, s = do("/close")
	assert.Equal(t, "bye", s)
	_, s = do("/length")
	assert.Equal(t, "hello", s)
	assert.Equal(t, int32(2), conns.Load(), "Connection: close is honoured, then a new connection dialled")
}

// rawServer answers every connection with script(request number on the
// connection, conn); it returns the base URL.
func rawServer(t *testing.T, script func(n int, c net.Conn, r *bufio.Reader) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if !script(n, c, r) {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestTransportChunkedEdges(t *testing.T) {
	cases := []struct {
		name, wire, want string
		err              string
	}{
		{"extensions and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2 \r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n", "abcde", ""},
		{"1xx skipped", "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", ""},
		{"bare LF line ends", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n1\nz\n0\n\n", "z", ""},
		{"cut inside a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "ab", "unexpected EOF"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "", "malformed chunked encoding"},
		{"missing CRLF after data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", "a", "where CRLF belongs"},
		{"until close", "HTTP/1.0 200 OK\r\n\r\nall of it", "all of it", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := rawServer(t, func(_ int, c net.Conn, _ *bufio.Reader) bool {
				_, _ = io.WriteString(c, tc.wire)
				return false
			})
			tr, err := New(url, 1, time.Second)
			require.NoError(t, err)
			resp, _, err := tr.Do(context.Background(), post("{}"))
			require.NoError(t, err)
			var sb strings.Builder
			_, err = io.Copy(&sb, resp.Body)
			assert.Equal(t, tc.want, sb.String())
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
			}
			_ = resp.Body.Close()
		})
	}
}

// A server that closes an idle keep-alive connection (uvicorn does after
// 5 s): the next request on it fails before any response byte and is sent
// again on a new connection, once.
func TestTransportRetriesAConnectionClosedWhileIdle(t *testing.T) {
	var served atomic.Int32
	url := rawServer(t, func(n int, c net.Conn, _ *bufio.Reader) bool {
		served.Add(1)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false // close after the first response, without saying so
	})
	tr, err := New(url, 1, time.Second)
	require.NoError(t, err)
	for range 3 {
		resp, _, err := tr.Do(context.Background(), post("{}"))
		require.NoError(t, err)
		assert.Equal(t, "ok", readAll(t, resp.Body))
		_ = resp.Body.Close()
		time.Sleep(10 * time.Millisecond) // let the server's FIN arrive
	}
	assert.Equal(t, int32(3), served.Load())
}

// A canceled context unblocks a read at once and says why.
func TestTransportCancelUnblocksRead(t *testing.T) {
	url := rawServer(t, func(_ int, c net.Conn, _ *bufio.Reader) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		time.Sleep(5 * time.Second)
		return false
	})
	tr, err := New(url, 1, time.Second)
	require.NoError(t, err)
	ctx, cancel := context.WithCancelCause(context.Background())
	resp, _, err := tr.Do(ctx, post("{}"))
	require.NoError(t, err)
	why := errors.New("stall")
	done := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		done <- err
	}()
	cancel(why)
	select {
	case err := <-done:
		require.Error(t, err, "the blocked read must fail")
		var ne net.Error
		assert.True(t, errors.As(err, &ne) && ne.Timeout(), "the read ends on the deadline the cancel set: %v", err)
	case <-time.After(4 * time.Second):
		t.Fatal("the read did not return when the context was canceled")
	}
	_ = resp.Body.Close()
}

func TestTransportRefusesBadInput(t *testing.T) {
	_, err := New("ftp://x", 1, time.Second)
	assert.ErrorContains(t, err, "scheme must be http or https")
	tr, err := New("http://127.0.0.1:1", 1, time.Second)
	require.NoError(t, err)
	r := post("{}")
	r.Header.Set("X-Key", "a\r\nInjected: 1")
	_, _, err = tr.Do(context.Background(), r)
	assert.ErrorContains(t, err, "line break")
	_, _, err = tr.Do(context.Background(), post("{}"))
	assert.ErrorContains(t, err, "connection refused")
}

// Two connections go idle and the server closes both: the next request
// must not be sent on either (nor fail), and the server sees each request
// exactly once.
func TestTransportDoesNotReuseConnectionsClosedWhileIdle(t *testing.T) {
	var served atomic.Int32
	release := make(chan struct{})
	url := rawServer(t, func(n int, c net.Conn, _ *bufio.Reader) bool {
		if served.Add(1) <= 2 {
			<-release // hold the first two so that two connections open
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false // then close, as a server's idle timeout does
	})
	tr, err := New(url, 2, time.Second)
	require.NoError(t, err)
	defer tr.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, _, err := tr.Do(context.Background(), post("{}"))
			if assert.NoError(t, err) {
				assert.Equal(t, "ok", readAll(t, resp.Body))
				_ = resp.Body.Close()
			}
		})
	}
	require.Eventually(t, func() bool { return served.Load() == 2 }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	// Both connections are idle in the pool now, and closed by the server
	// (its FIN is on its way or arrived).
	for range 3 {
		resp, _, err := tr.Do(context.Background(), post("{}"))
		require.NoError(t, err)
		assert.Equal(t, "ok", readAll(t, resp.Body))
		_ = resp.Body.Close()
	}
	assert.Equal(t, int32(5), served.Load(), "every request reached the server exactly once")
}

// A response that breaks off after some of its bytes arrived is an error,
// never a reason to send the request again: the server got it.
func TestTransportDoesNotResendAfterPartOfAResponse(t *testing.T) {
	var served atomic.Int32
	url := rawServer(t, func(n int, c net.Conn, _ *bufio.Reader) bool {
		served.Add(1)
		if n == 0 {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true // keep the connection for the next request
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-A: b\r\n")
		return false // cut inside the head
	})
	tr, err := New(url, 1, time.Second)
	require.NoError(t, err)
	defer tr.Close()
	resp, _, err := tr.Do(context.Background(), post("{}"))
	require.NoError(t, err)
	assert.Equal(t, "ok", readAll(t, resp.Body))
	_ = resp.Body.Close()
	_, _, err = tr.Do(context.Background(), post("{}"))
	require.Error(t, err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, int32(2), served.Load(), "the cut request was not sent again")
}

// A body released after Close closes its connection instead of keeping it
// idle forever, and a request whose context has ended is not sent even
// when an idle connection is at hand.
func TestTransportCloseAndCanceledContext(t *testing.T) {
	var closed, requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Length", "2")
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr, err := New(srv.URL, 1, time.Second)
	require.NoError(t, err)

	resp, _, err := tr.Do(context.Background(), post("{}"))
	require.NoError(t, err)
	assert.Equal(t, "ok", readAll(t, resp.Body))
	require.NoError(t, resp.Body.Close()) // idle in the pool
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = tr.Do(ctx, post("{}"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int32(1), requests.Load(), "a canceled request is not sent")

	resp, _, err = tr.Do(context.Background(), post("{}"))
	require.NoError(t, err)
	tr.Close() // while the request is still open
	assert.Equal(t, "ok", readAll(t, resp.Body))
	require.NoError(t, resp.Body.Close())
	require.Eventually(t, func() bool { return closed.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the connection released after Close is closed")
}
