package loadgen

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const helperEnv = "INFBENCH_LOADGEN_HELPER_SERVER" // "ttft_ns,gap_ns,tokens"

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
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStreamServer$", "-test.v=false")
	cmd.Env = append(os.Environ(), helperEnv+"="+strconv.FormatInt(int64(ttft), 10)+","+
		strconv.FormatInt(int64(gap), 10)+","+strconv.Itoa(tokens))
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
			if strings.HasPrefix(sc.Text(), "http://") {
				lines <- sc.Text()
				break
			}
		}
		for sc.Scan() { // keep draining so the child never blocks on stdout
		}
	}()
	select {
	case u := <-lines:
		// Wait until it answers.
		for i := 0; i < 50; i++ {
			if resp, err := http.Get(u + "/health"); err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return u
	case <-time.After(30 * time.Second):
		tb.Fatal("helper server process did not start within 30 s")
	}
	return ""
}
