package loadgen

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// piece is one write of a scripted response: wait until At after the
// request arrived, then write Data as one HTTP chunk (one TCP segment on
// loopback).
type piece struct {
	At   time.Duration
	Data string
}

// scriptServer is a raw HTTP/1.1 server on loopback whose every byte and
// its timing the test controls: it answers each request with a status
// line, headers and the script's pieces, chunk-encoded, each written at its
// scheduled offset from the request's arrival. It records when each piece
// actually went out.
type scriptServer struct {
	ln     net.Listener
	status int
	header string // extra header lines
	script []piece
	// cut closes the connection after the last piece without the
	// terminating chunk: a connection cut mid-stream.
	cut bool

	mu      sync.Mutex
	written [][]time.Duration // per request, actual write offsets
	// wrote holds, per request, when each write began and returned: the
	// response head first, then the script's pieces. On loopback the
	// kernel stamps a segment while the sender's write is in progress, so
	// a kernel receive stamp lies between the two.
	wrote [][][2]time.Time
	// pieces counts the script's pieces written so far, over all requests,
	// as they go out.
	pieces atomic.Int64
	conns  []net.Conn
	wg     sync.WaitGroup
	done   chan struct{} // closed at cleanup: stop waiting, close connections
}

func newScriptServer(t *testing.T, status int, script []piece) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{ln: ln, status: status, script: script, done: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		close(s.done)
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *scriptServer) URL() string { return "http://" + s.ln.Addr().String() }

// closeConns closes the server's side of every connection, as a server
// that goes away does.
func (s *scriptServer) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func (s *scriptServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			br := bufio.NewReader(conn)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				arrived := time.Now()
				_, _ = drainBody(req)
				if !s.respond(conn, arrived) {
					return
				}
			}
		}()
	}
}

func drainBody(req *http.Request) (int64, error) {
	defer req.Body.Close()
	var n int64
	buf := make([]byte, 4096)
	for {
		m, err := req.Body.Read(buf)
		n += int64(m)
		if err != nil {
			return n, nil
		}
	}
}

func (s *scriptServer) respond(conn net.Conn, arrived time.Time) bool {
	ct := "text/event-stream"
	if s.status != 200 {
		ct = "application/json"
	}
	headBegan := time.Now()
	fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n%s\r\n",
		s.status, http.StatusText(s.status), ct, s.header)
	wrote := [][2]time.Time{{headBegan, time.Now()}}
	var offsets []time.Duration
	for _, p := range s.script {
		select {
		case <-time.After(time.Until(arrived.Add(p.At))):
		case <-s.done:
			return false
		}
		began := time.Now()
		offsets = append(offsets, began.Sub(arrived))
		if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(p.Data), p.Data); err != nil {
			return false
		}
		wrote = append(wrote, [2]time.Time{began, time.Now()})
		s.pieces.Add(1)
	}
	s.mu.Lock()
	s.written = append(s.written, offsets)
	s.wrote = append(s.wrote, wrote)
	s.mu.Unlock()
	if s.cut {
		return false
	}
	_, err := fmt.Fprint(conn, "0\r\n\r\n")
	return err == nil
}

// writes returns the write offsets of the requests answered so far,
// waiting up to a second for at least one (the client may finish at
// [DONE], before the server has noted its last write).
func (s *scriptServer) writes() [][]time.Duration {
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		w := append([][]time.Duration(nil), s.written...)
		s.mu.Unlock()
		if len(w) > 0 || time.Now().After(deadline) {
			return w
		}
	}
}
