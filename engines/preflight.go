package engines

import (
	"fmt"
	"math"
)

// FitInput is what decides whether a model fits a GPU.
type FitInput struct {
	Profile     string
	GPUBytes    uint64  // total GPU memory (NVML, else the profile's)
	GPUSource   string  // "nvml <name>" or "profile"
	MemFraction float64 // share of GPU memory the engine may use
	// MemFractionOf says what MemFraction is a share of: FractionOfTotal
	// ("" too: vLLM --gpu-memory-utilization, SGLang --mem-fraction-static)
	// or FractionOfFree (TensorRT-LLM --kv_cache_free_gpu_memory_fraction:
	// the KV cache's share of the memory left free once the weights and
	// runtime are loaded).
	MemFractionOf   string
	WeightsBytes    uint64
	OverheadBytes   uint64 // activations, CUDA graphs, runtime
	KVBytesPerToken uint64 // 2 (K and V) × layers × KV heads × head dim × element size
	Context         int    // max tokens per sequence the engine is configured for
}

// What FitInput.MemFraction is a share of.
const (
	FractionOfTotal = "total" // the GPU's memory: weights, overhead and KV cache all come out of it
	FractionOfFree  = "free"  // what is free after weights and overhead: all of it is KV cache
)

// Fit is the outcome of the fit check, with its arithmetic.
type Fit struct {
	FitInput
	UsableBytes   uint64 // total: GPUBytes × MemFraction; free: weights + overhead + KV
	FreeBytes     int64  // free: GPUBytes − weights − overhead (negative: they do not fit); total: 0
	KVBytes       int64  // what is left for the KV cache (negative: weights do not fit)
	KVTokens      int64  // KV cache capacity in tokens
	MaxSeqsAtLoad int    // sequences of the workload's length the KV cache holds (0: no workload)
	Workload      Workload
}

// CheckFit says whether the engine can start: the weights, the overhead and
// the KV cache for one sequence of the configured context must fit in the
// memory the engine may use. An error carries the arithmetic and the fix.
// A workload whose concurrency × sequence length exceeds the KV cache does
// not fail (the engine queues what does not fit) but Fit.Warning says so.
func CheckFit(in FitInput, w Workload) (Fit, error) {
	f := Fit{FitInput: in, Workload: w}
	free := in.MemFractionOf == FractionOfFree
	if free {
		f.FreeBytes = int64(in.GPUBytes) - int64(in.WeightsBytes) - int64(in.OverheadBytes)
		f.KVBytes = int64(math.Round(float64(max(f.FreeBytes, 0)) * in.MemFraction))
		f.UsableBytes = in.WeightsBytes + in.OverheadBytes + uint64(f.KVBytes)
	} else {
		f.UsableBytes = uint64(float64(in.GPUBytes) * in.MemFraction)
		f.KVBytes = int64(f.UsableBytes) - int64(in.WeightsBytes) - int64(in.OverheadBytes)
	}
	if in.KVBytesPerToken > 0 && f.KVBytes > 0 {
		f.KVTokens = f.KVBytes / int64(in.KVBytesPerToken)
	}
	if w.TokensPerSeq > 0 && f.KVTokens > 0 {
		f.MaxSeqsAtLoad = int(f.KVTokens / int64(min(w.TokensPerSeq, in.Context)))
	}
	seqKV := int64(in.KVBytesPerToken) * int64(in.Context)
	if free {
		if f.KVBytes < seqKV {
			return f, fmt.Errorf("profile %s does not fit: KV cache %s (%.2f × %s free = %s GPU memory from %s − weights %s − overhead %s) < KV cache for one %d-token sequence (%d × %s/token = %s): "+
				"use a smaller checkpoint or context, or a larger GPU (%s=h200)",
				in.Profile, gb(uint64(max(f.KVBytes, 0))), in.MemFraction, signedGB(f.FreeBytes), gb(in.GPUBytes), in.GPUSource,
				gb(in.WeightsBytes), gb(in.OverheadBytes), in.Context, in.Context, kib(in.KVBytesPerToken), gb(uint64(seqKV)),
				"INFBENCH_PROFILE")
		}
		return f, nil
	}
	need := int64(in.WeightsBytes+in.OverheadBytes) + seqKV
	if need > int64(f.UsableBytes) {
		return f, fmt.Errorf("profile %s does not fit: weights %s + overhead %s + KV cache for one %d-token sequence (%d × %s/token = %s) = %s > %s usable (%s GPU memory from %s × %.2f): "+
			"use a smaller checkpoint or context, or a larger GPU (%s=h200)",
			in.Profile, gb(in.WeightsBytes), gb(in.OverheadBytes), in.Context, in.Context, kib(in.KVBytesPerToken),
			gb(in.KVBytesPerToken*uint64(in.Context)), gb(uint64(need)), gb(f.UsableBytes), gb(in.GPUBytes), in.GPUSource,
			in.MemFraction, "INFBENCH_PROFILE")
	}
	return f, nil
}

// Summary is the fit arithmetic on one line, for the results' config lines.
func (f Fit) Summary() string {
	if f.MemFractionOf == FractionOfFree {
		return fmt.Sprintf("%s GPU memory (%s) − weights %s − overhead %s = %s free × %.2f = KV %s = %d tokens at %s/token",
			gb(f.GPUBytes), f.GPUSource, gb(f.WeightsBytes), gb(f.OverheadBytes), signedGB(f.FreeBytes), f.MemFraction,
			gb(uint64(max(f.KVBytes, 0))), f.KVTokens, kib(f.KVBytesPerToken))
	}
	return fmt.Sprintf("%s usable (%s × %.2f, %s) − weights %s − overhead %s = KV %s = %d tokens at %s/token",
		gb(f.UsableBytes), gb(f.GPUBytes), f.MemFraction, f.GPUSource, gb(f.WeightsBytes), gb(f.OverheadBytes),
		gb(uint64(max(f.KVBytes, 0))), f.KVTokens, kib(f.KVBytesPerToken))
}

// Warning says when the workload's highest concurrency does not fit in the
// KV cache at once, so the engine will queue or preempt requests and a
// "concurrency C" cell will have fewer than C running; "" when it fits.
func (f Fit) Warning() string {
	w := f.Workload
	if w.Concurrency < 1 || w.TokensPerSeq < 1 || f.MaxSeqsAtLoad >= w.Concurrency {
		return ""
	}
	perSeq := min(w.TokensPerSeq, f.Context)
	return fmt.Sprintf("KV cache holds %d tokens = %d sequences of %d tokens, fewer than concurrency %d (%d × %d × %s = %s > %s): "+
		"cells above concurrency %d will queue on the engine; lower INFBENCH_CONCURRENCY or use a larger GPU",
		f.KVTokens, f.MaxSeqsAtLoad, perSeq, w.Concurrency, w.Concurrency, perSeq, kib(f.KVBytesPerToken),
		gb(uint64(w.Concurrency)*uint64(perSeq)*f.KVBytesPerToken), gb(uint64(max(f.KVBytes, 0))), f.MaxSeqsAtLoad)
}

func gb(b uint64) string      { return fmt.Sprintf("%.1f GB", float64(b)/1e9) }
func signedGB(b int64) string { return fmt.Sprintf("%.1f GB", float64(b)/1e9) }
func kib(b uint64) string     { return fmt.Sprintf("%d KiB", b/1024) }
