package sim

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
