package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/infbench/infbench/engines/sim"
)

// Serve a simulated engine on a free loopback port and list its model, as
// a client checks an OpenAI-compatible server before sending requests.
func ExampleListen() {
	l, err := sim.Listen(context.Background(), "127.0.0.1:0", sim.Config{Model: "llama-sim"})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	resp, err := http.Get(l.URL + "/v1/models")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID      string `json:"id"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		log.Fatal(err)
	}
	for _, m := range list.Data {
		fmt.Println(m.ID, m.OwnedBy)
	}
	// Output: llama-sim infbench-sim
}

// A non-streaming completion with ignore_eos runs to max_tokens; the
// step time comes from the Linear timing model (here 1 ms a step).
func ExampleListen_completion() {
	l, err := sim.Listen(context.Background(), "127.0.0.1:0",
		sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	body := `{"model": "m", "prompt": "Why is the sky blue?", "max_tokens": 4, "ignore_eos": true}`
	resp, err := http.Post(l.URL+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct {
			Text         string `json:"text"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q (%s)\n", out.Choices[0].Text, out.Choices[0].FinishReason)
	fmt.Println("prompt tokens:", out.Usage.PromptTokens, "completion tokens:", out.Usage.CompletionTokens)
	// Output:
	// " the model serves tokens" (length)
	// prompt tokens: 5 completion tokens: 4
}

// A TensorRT-LLM twin serves the checkpoint id as its model and rejects a
// field its chat request model forbids, as trtllm-serve does.
func ExampleListen_twin() {
	l, err := sim.Listen(context.Background(), "127.0.0.1:0",
		sim.Config{Model: "nvidia/Llama-4-Scout-17B-16E-Instruct-FP8", Personality: sim.TRTLLM})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	body := `{"model": "nvidia/Llama-4-Scout-17B-16E-Instruct-FP8", "prompt": "hi", "messages": [{"role": "user", "content": "hi"}]}`
	resp, err := http.Post(l.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, out.Error)
	// Output: 400 [{'type': 'extra_forbidden', 'loc': ('body', 'prompt'), 'msg': 'Extra inputs are not permitted'}]
}
