package workload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/workload"
)

// answerServer streams a distinct answer to every request — a role-only
// chunk, the answer in three content chunks with JSON escapes, a usage
// chunk, [DONE] — and records each request body and the answer it sent.
type answerServer struct {
	mu      sync.Mutex
	bodies  []map[string]any
	answers []string // answers[i] went to bodies[i]
}

func (a *answerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	n := len(a.answers)
	answer := fmt.Sprintf("Answer %d: \"quoted\", café\nline two.", n)
	a.bodies, a.answers = append(a.bodies, body), append(a.answers, answer)
	a.mu.Unlock()
	chat := r.URL.Path == "/v1/chat/completions"
	w.Header().Set("Content-Type", "text/event-stream")
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	piece := func(s string) map[string]any {
		if chat {
			return map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": s}}}}
		}
		return map[string]any{"choices": []any{map[string]any{"text": s}}}
	}
	if chat {
		send(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"role": "assistant", "content": ""}}}})
	}
	third := len(answer) / 3
	for _, s := range []string{answer[:third], answer[third : 2*third], answer[2*third:]} {
		send(piece(s))
	}
	send(map[string]any{"choices": []any{}, "usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 3}})
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// On both APIs, every later turn sends the earlier turns' answers exactly
// as the server streamed them.
func TestMultiTurnQuotesServerAnswers(t *testing.T) {
	for _, api := range []loadgen.API{loadgen.Chat, loadgen.Completions} {
		t.Run(string(api), func(t *testing.T) {
			srv := &answerServer{}
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			client, err := loadgen.NewClient(loadgen.Target{BaseURL: ts.URL, Model: "m", API: api, IncludeUsage: true}, 2)
			require.NoError(t, err)
			t.Cleanup(client.Close)
			src, err := workload.New(config.WorkloadSpec{Name: "mt", Kind: config.WorkloadMultiTurn, Turns: 3,
				InputTokens: config.Dist{Dist: config.DistFixed, Value: 12}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 3}}, "")
			require.NoError(t, err)
			cl := cell.Cell{Engine: "x", Concurrency: 2, Workload: "mt", Source: src, Requests: 12, Seed: 1}
			_, _, err = cell.Run(context.Background(), client, cl, cell.NewSalter(1), nil, nil)
			require.NoError(t, err)

			srv.mu.Lock()
			defer srv.mu.Unlock()
			require.Len(t, srv.bodies, 12)
			quoted := 0
			for i, b := range srv.bodies {
				if api == loadgen.Chat {
					msgs := b["messages"].([]any)
					for j, m := range msgs {
						role, content := m.(map[string]any)["role"], m.(map[string]any)["content"].(string)
						assert.Equal(t, []string{"user", "assistant"}[j%2], role)
						if role == "assistant" {
							// It is the answer the server sent to the body
							// that ended with the conversation up to here.
							k := indexOfConversation(srv.bodies[:i], msgs[:j])
							require.GreaterOrEqual(t, k, 0, "body %d: an earlier request sent messages[:%d]", i, j)
							assert.Equal(t, srv.answers[k], content)
							quoted++
						}
					}
					continue
				}
				prompt := b["prompt"].(string)
				for k := range i {
					if strings.Contains(prompt, srv.answers[k]) {
						assert.True(t, strings.HasPrefix(prompt, srv.bodies[k]["prompt"].(string)+srv.answers[k]+"\n\n"),
							"body %d continues body %d's prompt with its answer, nothing between, then a blank line", i, k)
						quoted++
					}
				}
			}
			assert.GreaterOrEqual(t, quoted, 6, "later turns quoted earlier answers")
		})
	}
}

// indexOfConversation is the index of the body whose messages are msgs.
func indexOfConversation(bodies []map[string]any, msgs []any) int {
	want, _ := json.Marshal(msgs)
	for k, b := range bodies {
		got, _ := json.Marshal(b["messages"])
		if string(got) == string(want) {
			return k
		}
	}
	return -1
}
