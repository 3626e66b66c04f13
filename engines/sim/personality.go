package sim

import "fmt"

// Personality is whose HTTP contract the simulator reproduces: its own
// (the default), or a twin of one engine at the version testdata/engines.yaml
// pins — routes and their timing, request validation, stream shape and
// metric names, each behaviour cited to the engine's source.
type Personality string

const (
	Plain  Personality = ""       // the simulator's own contract
	VLLM   Personality = "vllm"   // vllm/vllm-openai
	SGLang Personality = "sglang" // lmsysorg/sglang
	TRTLLM Personality = "trtllm" // nvcr.io/nvidia/tensorrt-llm/release
)

// Personalities are the twins, in the order engines.yaml lists them.
var Personalities = []Personality{VLLM, SGLang, TRTLLM}

// ParsePersonality reads a personality by name: "", "plain", "vllm",
// "sglang" or "trtllm".
func ParsePersonality(name string) (Personality, error) {
	switch p := Personality(name); p {
	case Plain, VLLM, SGLang, TRTLLM:
		return p, nil
	case "plain":
		return Plain, nil
	}
	return "", fmt.Errorf("sim: unknown personality %q (want plain, vllm, sglang or trtllm)", name)
}
