package engines

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench/loadgen"
)

// eventGap is the pause the replay server makes before each event.
const eventGap = 40 * time.Millisecond

// splitEvents cuts a transcript after each blank line, keeping its bytes
// exactly (TensorRT-LLM's "data: {...} \n\n" included).
func splitEvents(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\n\n"))
		if i < 0 {
			return append(out, b)
		}
		out = append(out, b[:i+2])
		b = b[i+2:]
	}
	return out
}

// firstContent is the index of the first event whose delta or text carries
// text, found by decoding (independently of loadgen's parser).
func firstContent(t *testing.T, events [][]byte) int {
	for i, ev := range events {
		data := strings.TrimSpace(strings.TrimPrefix(string(ev), "data:"))
		var c struct {
			Choices []struct {
				Text  string `json:"text"`
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(data), &c) == nil && len(c.Choices) > 0 && c.Choices[0].Text+c.Choices[0].Delta.Content != "" {
			return i
		}
	}
	t.Fatal("no content event")
	return -1
}

// Provenance is the first line of every transcript, an SSE comment the
// client ignores: reconstructed from the engine's source, or captured by
// scripts/capture-transcript.sh from a running engine.
var provenance = regexp.MustCompile(`^: infbench: (reconstructed from \S+ source, not captured|captured \S+ from \S+)`)

// TestTranscripts replays each engine's recorded stream through
// loadgen.Client, with the request fields the engine's entry in
// engines.yaml sends on the transcript's API. continuous: the transcript
// was written for stream_options.continuous_usage_stats (per-chunk usage).
// SGLang's spec asks for it too, but its per-chunk shape (PR #12241) was
// not read, so its reconstructed transcripts have none and are replayed
// without it; a capture replaces them.
func TestTranscripts(t *testing.T) {
	cases := []struct {
		file, engine string
		api          loadgen.API
		continuous   bool
	}{
		{"vllm-chat.sse", "vllm", loadgen.Chat, false},
		{"vllm-chat-continuous-usage.sse", "vllm", loadgen.Chat, true},
		{"vllm-completions.sse", "vllm", loadgen.Completions, false},
		{"sglang-chat.sse", "sglang", loadgen.Chat, false},
		{"sglang-completions.sse", "sglang", loadgen.Completions, false},
		{"trtllm-chat.sse", "trtllm", loadgen.Chat, true},
		{"trtllm-completions.sse", "trtllm", loadgen.Completions, true},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			run := loadRun(t, "h200")
			run.API = string(tc.api)
			data, err := os.ReadFile("../testdata/transcripts/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !provenance.Match(data) {
				t.Errorf("%s does not begin with its provenance (%s)", tc.file, provenance)
			}
			events := splitEvents(data)
			first := firstContent(t, events)
			bodies := make(chan []byte, 1)
			writes := make(chan []time.Time, 1) // when the server began writing each event
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := readAll(r)
				bodies <- b
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				wrote := make([]time.Time, len(events))
				for i, ev := range events {
					time.Sleep(eventGap)
					wrote[i] = time.Now()
					_, _ = w.Write(ev)
					w.(http.Flusher).Flush()
				}
				writes <- wrote
			}))
			defer srv.Close()
			e, _ := run.Engine(tc.engine)
			s, err := ResolveSpec(e, run)
			if err != nil {
				t.Fatal(err)
			}
			ep := requestEndpoint(e, s, srv.URL)
			cl, err := loadgen.NewClient(loadgen.Target{BaseURL: ep.BaseURL, Model: ep.Model, API: tc.api, IgnoreEOS: ep.IgnoreEOS,
				IncludeUsage: ep.IncludeUsage, ContinuousUsage: ep.ContinuousUsage && tc.continuous, Extra: ep.Extra}, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			t0 := time.Now()
			rec := cl.Do(t.Context(), loadgen.Request{Prompt: "What color is the sky?", MaxTokens: 5}, t0)
			if !rec.OK() {
				t.Fatalf("request failed: %s: %s", rec.ErrorKind, rec.Error)
			}
			if rec.OutputTokens != 5 || rec.TokenSource != loadgen.TokensFromUsage || len(rec.Events) != 5 {
				t.Errorf("output tokens %d from %s, %d content events; want 5 from usage, 5 events", rec.OutputTokens, rec.TokenSource, len(rec.Events))
			}
			checkTTFT(t, t0.Add(rec.Sent+rec.TTFT), <-writes, first, rec.SharedStamps)
			if tc.continuous && rec.ITLSource != loadgen.ITLPerChunkUsage {
				t.Errorf("ITL from %s, want %s: the transcript carries per-chunk usage", rec.ITLSource, loadgen.ITLPerChunkUsage)
			}
			if tc.engine == "trtllm" {
				checkAccepted(t, <-bodies, s.Accepted, tc.api)
				if m := chunkModels(events); len(m) != 1 || m[0] != s.Model || s.Model != s.Checkpoint {
					t.Errorf("chunks name models %q, want only the checkpoint id %q that trtllm-serve serves", m, s.Checkpoint)
				}
			}
		})
	}
}

// checkTTFT checks the first content event's arrival (at) against the
// times the server began writing each event, recorded in the same run: it
// arrived no earlier than event first was written, so no earlier event
// stopped the clock, and, where no content event shared a read with
// another, before event first+1 was written, so no later one did. The
// gaps between writes make shared reads rare; where one happened the
// upper bound cannot be checked.
func checkTTFT(t *testing.T, at time.Time, wrote []time.Time, first, shared int) {
	t.Helper()
	if at.Before(wrote[first]) {
		t.Errorf("TTFT taken %v before the first content event (#%d) was written: an earlier event stopped the clock",
			wrote[first].Sub(at), first)
	}
	if shared == 0 && first+1 < len(wrote) && !at.Before(wrote[first+1]) {
		t.Errorf("TTFT taken %v after event #%d was written: a later event than the first content one (#%d) stopped the clock",
			at.Sub(wrote[first+1]), first+1, first)
	}
}

// chunkModels is the distinct "model" values of the events.
func chunkModels(events [][]byte) []string {
	var out []string
	for _, ev := range events {
		var c struct {
			Model string `json:"model"`
		}
		data := strings.TrimSpace(strings.TrimPrefix(string(ev), "data:"))
		if json.Unmarshal([]byte(data), &c) == nil && c.Model != "" && !slices.Contains(out, c.Model) {
			out = append(out, c.Model)
		}
	}
	return out
}

// checkAccepted asserts a request body has only fields TensorRT-LLM
// accepts on api (its pydantic models forbid extras: HTTP 400), and
// asks for usage on every chunk.
func checkAccepted(t *testing.T, body []byte, accepted []string, api loadgen.API) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if len(accepted) == 0 {
		t.Fatal("trtllm has no accepted_fields in engines.yaml")
	}
	for k := range m {
		if !slices.Contains(accepted, k) {
			t.Errorf("request field %q is sent to TensorRT-LLM, which rejects it", k)
		}
	}
	if so, _ := m["stream_options"].(map[string]any); so["include_usage"] != true || so["continuous_usage_stats"] != true || len(so) != 2 {
		t.Errorf("stream_options %v, want include_usage and continuous_usage_stats", so)
	}
	wrong := "prompt" // chat has no prompt
	if api == loadgen.Completions {
		wrong = "messages"
	}
	if _, ok := m[wrong]; ok {
		t.Errorf("%s request sends %q, which TensorRT-LLM rejects there", api, wrong)
	}
	if m["ignore_eos"] != true {
		t.Errorf("ignore_eos not sent")
	}
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}
