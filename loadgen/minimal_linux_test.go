//go:build linux

package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// minimalTTFTs runs streams connections against the chat endpoint at
// url until ctx ends, one request per connection at a time, and returns
// the TTFT of each request that finished: the time from just before the
// request's write to the kernel's receive stamp of the read holding the
// first non-empty "content". It is a second, independent measurement to
// hold the harness against: no HTTP library, no SSE reader, and the
// kernel's other timestamp interface (SO_TIMESTAMPNS) instead of the
// SO_TIMESTAMPING that streamhttp uses.
func minimalTTFTs(ctx context.Context, url string, streams int) (wait func() []minimalTTFT) {
	addr := strings.TrimPrefix(url, "http://")
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ttfts []minimalTTFT
	)
	for w := range streams {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
			defer stop()
			raw, _ := c.(*net.TCPConn).SyscallConn()
			var serr error
			_ = raw.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) })
			if serr != nil {
				return
			}
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("min-%d-%d", w, i)
				sent, d, ok := minimalRequest(c, raw, id)
				if !ok {
					return
				}
				mu.Lock()
				ttfts = append(ttfts, minimalTTFT{ID: id, Sent: sent, TTFT: d})
				mu.Unlock()
			}
		})
	}
	return func() []minimalTTFT { wg.Wait(); return ttfts }
}

var contentMarker = []byte(`"content":" `)

// minimalRequest sends one request on c (kept alive, as the harness keeps
// its connections) and reads its response to the chunked terminator.
func minimalRequest(c net.Conn, raw syscall.RawConn, id string) (time.Time, time.Duration, bool) {
	body := `{"model":"m","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"` + id + `"}]}`
	req := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		fmt.Sprint(len(body)) + "\r\n\r\n" + body
	sent := time.Now()
	if _, err := c.Write([]byte(req)); err != nil {
		return sent, 0, false
	}
	var seen []byte
	buf, oob := make([]byte, 16<<10), make([]byte, 256)
	var ttft time.Duration
	for {
		var n, oobn int
		var rerr error
		if err := raw.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), buf, oob, 0)
			return rerr != syscall.EAGAIN
		}); err != nil || rerr != nil || n == 0 {
			return sent, 0, false
		}
		seen = append(seen, buf[:n]...)
		if ttft == 0 && bytes.Contains(seen, contentMarker) {
			msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return sent, 0, false
			}
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
					ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
					ttft = time.Unix(int64(ts.Sec), int64(ts.Nsec)).Sub(sent) // wall clock, both
				}
			}
			if ttft == 0 {
				return sent, 0, false
			}
		}
		if bytes.Contains(seen, []byte("data: [DONE]")) && bytes.HasSuffix(seen, []byte("\r\n0\r\n\r\n")) {
			return sent, ttft, ttft > 0
		}
		if len(seen) > 1<<16 {
			seen = seen[len(seen)-64:]
		}
	}
}
