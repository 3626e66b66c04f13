package loadgen

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	helperEnv    = "INFBENCH_LOADGEN_HELPER_SERVER" // "ttft_ns,gap_ns,tokens"
	helperRawEnv = "INFBENCH_LOADGEN_HELPER_RAW"    // "gap_ns,messages"
)

// TestHelperRawServer is not a test: in a child process it accepts TCP
// connections and writes a 250-byte message on each every gap, messages
// times, then closes it: the same pacing as a token stream, without HTTP
// or SSE, to measure what merely reading a socket costs on this machine.
func TestHelperRawServer(t *testing.T) {
	spec := os.Getenv(helperRawEnv)
	if spec == "" {
		t.Skip("helper process for the accuracy test")
	}
	var gap time.Duration
	var messages int
	if _, err := fmt.Sscanf(spec, "%d,%d", &gap, &messages); err != nil {
		t.Fatalf("bad %s=%q: %v", helperRawEnv, spec, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		msg := make([]byte, 250)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				start := time.Now()
				for i := 0; i < messages; i++ {
					time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
					if _, err := c.Write(msg); err != nil {
						return
					}
				}
			}()
		}
	}()
	fmt.Println("tcp://" + ln.Addr().String())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// readFloor measures the CPU this process spends per message merely
// reading conns paced TCP streams (a message every gap): the floor under
// any client's per-event cost on this machine.
func readFloor(tb testing.TB, conns int, gap time.Duration, messages int) time.Duration {
	tb.Helper()
	addr := strings.TrimPrefix(startHelper(tb, helperRawEnv+"="+strconv.FormatInt(int64(gap), 10)+","+strconv.Itoa(messages), "tcp://"), "tcp://")
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			_ = c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, c)
	}
	u0, s0 := cpuTimes()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			b := make([]byte, 16<<10)
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			for {
				if _, err := c.Read(b); err != nil {
					return
				}
			}
		}(c)
	}
	wg.Wait()
	u1, s1 := cpuTimes()
	return (u1 - u0 + s1 - s0) / time.Duration(conns*messages)
}

// TestHelperStreamServer is not a test: started by startServerProcess in a
// child copy of the test binary, it serves a streamServer until its stdin
// closes, so that the parent's CPU accounting holds the client alone.
func TestHelperStreamServer(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for the accuracy test and benchmarks")
	}
	var ttft, gap time.Duration
	var tokens int
	if _, err := fmt.Sscanf(spec, "%d,%d,%d", &ttft, &gap, &tokens); err != nil {
		t.Fatalf("bad %s=%q: %v", helperEnv, spec, err)
	}
	srv := newStreamServer(t, ttft, gap, tokens)
	fmt.Println(srv.URL)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin or exits
}

// startServerProcess runs a streamServer in a child process and returns
// its URL. The child exits when the test ends.
func startServerProcess(tb testing.TB, ttft, gap time.Duration, tokens int) string {
	tb.Helper()
	return startHTTPHelper(tb, helperEnv, ttft, gap, tokens)
}

// startHTTPHelper starts the HTTP helper server env selects and waits
// until it answers.
func startHTTPHelper(tb testing.TB, env string, ttft, gap time.Duration, tokens int) string {
	tb.Helper()
	u := startHelper(tb, env+"="+strconv.FormatInt(int64(ttft), 10)+","+
		strconv.FormatInt(int64(gap), 10)+","+strconv.Itoa(tokens), "http://")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(u + "/health")
		if err == nil {
			resp.Body.Close()
			return u
		}
		if time.Now().After(deadline) {
			tb.Fatalf("helper server %s does not answer: %v", u, err)
		}
	}
}

// startHelper starts a child copy of the test binary running the helper
// test that env selects, and returns the first line it prints that starts
// with prefix (its address). The child exits when the test ends.
func startHelper(tb testing.TB, env, prefix string) string {
	tb.Helper()
	test := "^TestHelperStreamServer$"
	switch {
	case strings.HasPrefix(env, helperRawEnv):
		test = "^TestHelperRawServer$"
	case strings.HasPrefix(env, helperTruthEnv):
		test = "^TestHelperTruthServer$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+test, "-test.v=false")
	cmd.Env = append(os.Environ(), env)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				lines <- sc.Text()
				break
			}
		}
		for sc.Scan() { // keep draining so the child never blocks on stdout
		}
	}()
	select {
	case u := <-lines:
		return u
	case <-time.After(30 * time.Second):
		tb.Fatal("helper server process did not start within 30 s")
	}
	return ""
}
