package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

const helperTruthEnv = "INFBENCH_LOADGEN_HELPER_TRUTH" // "ttft_ns,gap_ns,tokens"

// truthServer streams like an engine on a fixed schedule (the first token
// ttft after the request arrived, then one every gap) and records, per
// request, when it actually wrote the first and the last content event:
// the truth a client's TTFT and E2E are compared with. Each write's
// interval (began, returned) is kept on the wall clock, which a client in
// another process reads too.
type truthServer struct {
	ttft, gap time.Duration
	tokens    int
	mu        sync.Mutex
	truth     map[string]Truth
}

// Truth is what the server recorded about one request, wall-clock Unix
// nanoseconds: when the request arrived, and when the writes of its first
// and last content events began and returned.
type Truth struct {
	Arrived int64    `json:"arrived"`
	First   [2]int64 `json:"first"`
	Last    [2]int64 `json:"last"`
}

func (s *truthServer) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"m","object":"model"}]}`))
		return
	}
	if r.Method == http.MethodGet {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(s.truth)
		return
	}
	arrived := time.Now()
	var req struct {
		Messages []struct{ Content string } `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, "want a chat request", 400)
		return
	}
	id := req.Messages[0].Content
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	f := w.(http.Flusher)
	_, _ = w.Write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"))
	f.Flush()
	tr := Truth{Arrived: arrived.UnixNano()}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := 0; i < s.tokens; i++ {
		// An absolute schedule: a late write does not shift the rest.
		if d := time.Until(arrived.Add(s.ttft + time.Duration(i)*s.gap)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		}
		began := time.Now()
		if _, err := w.Write(tokenEventTruth); err != nil {
			return
		}
		f.Flush()
		wrote := [2]int64{began.UnixNano(), time.Now().UnixNano()}
		if i == 0 {
			tr.First = wrote
		}
		tr.Last = wrote
	}
	fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", s.tokens)
	s.mu.Lock()
	s.truth[id] = tr
	s.mu.Unlock()
}

var tokenEventTruth = []byte("data: " + `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,"finish_reason":null}]}` + "\n\n")

// TestHelperTruthServer is not a test: in a child process it serves a
// truthServer until its stdin closes, so that the parent's CPU holds the
// client alone.
func TestHelperTruthServer(t *testing.T) {
	spec := os.Getenv(helperTruthEnv)
	if spec == "" {
		t.Skip("helper process for the accuracy test")
	}
	s := &truthServer{truth: map[string]Truth{}}
	if _, err := fmt.Sscanf(spec, "%d,%d,%d", &s.ttft, &s.gap, &s.tokens); err != nil {
		t.Fatalf("bad %s=%q: %v", helperTruthEnv, spec, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	srv.Config.MaxHeaderBytes = 1 << 16
	srv.Start()
	defer srv.Close()
	fmt.Println(srv.URL)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// fetchTruth reads what the truth server recorded.
func fetchTruth(tb testing.TB, url string) map[string]Truth {
	tb.Helper()
	resp, err := http.Get(url + "/truth")
	if err != nil {
		tb.Fatalf("reading the server's truth: %v", err)
	}
	defer resp.Body.Close()
	m := map[string]Truth{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		tb.Fatalf("decoding the server's truth: %v", err)
	}
	return m
}
