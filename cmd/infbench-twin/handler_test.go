package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench/engines/sim"
)

// TestHandler: the routes the command line decides (SGLang's /metrics
// with --enable-metrics) on the simulator the twin serves.
func TestHandler(t *testing.T) {
	serveTwin := func(cfg twinConfig) *httptest.Server {
		srv := sim.New(simConfig(cfg))
		go srv.Run(t.Context())
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		return ts
	}
	get := func(url string) (int, string, time.Duration) {
		began := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), time.Since(began)
	}

	sg := serveTwin(twinConfig{Personality: sim.SGLang, Engine: "sglang", Version: sglangVersion, Model: "m", Served: "m"})
	// 503 until the warm-up request has run, then 200 after at least 1 s.
	code, took := 0, time.Duration(0)
	for deadline := time.Now().Add(30 * time.Second); code != 200 && time.Now().Before(deadline); {
		code, _, took = get(sg.URL + "/health_generate")
	}
	if code != 200 || took < time.Second {
		t.Errorf("sglang /health_generate: %d after %v; want 200 after at least 1s", code, took)
	}
	if code, body, _ := get(sg.URL + "/get_server_info"); code != 200 || !strings.Contains(body, `"version":"0.5.6.post2"`) {
		t.Errorf("sglang /get_server_info: %d %s", code, body)
	}
	for _, p := range []string{"/version", "/metrics"} { // no /version route; /metrics only with --enable-metrics
		if code, _, _ := get(sg.URL + p); code != 404 {
			t.Errorf("sglang %s without --enable-metrics: %d, want 404", p, code)
		}
	}
	sgm := serveTwin(twinConfig{Personality: sim.SGLang, Engine: "sglang", Served: "m", Metrics: true})
	if code, _, _ := get(sgm.URL + "/metrics"); code != 200 {
		t.Errorf("sglang /metrics with --enable-metrics: %d", code)
	}

	vl := serveTwin(twinConfig{Personality: sim.VLLM, Engine: "vllm", Version: vllmVersion, Served: "m"})
	if code, body, _ := get(vl.URL + "/version"); code != 200 || !strings.Contains(body, `"version":"0.12.0"`) {
		t.Errorf("vllm /version: %d %s", code, body)
	}

	tr := serveTwin(twinConfig{Personality: sim.TRTLLM, Engine: "trtllm", Version: trtllmVersion, Served: "ckpt/x"})
	if code, body, _ := get(tr.URL + "/health_generate"); code != 200 || body != "Generation health check OK" {
		t.Errorf("trtllm /health_generate: %d %q", code, body)
	}
	if code, body, _ := get(tr.URL + "/version"); code != 200 || !strings.Contains(body, `"version":"1.2.1"`) {
		t.Errorf("trtllm /version: %d %s", code, body)
	}
}
