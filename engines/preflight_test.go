package engines

import (
	"strings"
	"testing"
)

func fitFor(t *testing.T, profile, engine string) FitInput {
	t.Helper()
	run := loadRun(t, profile)
	e, _ := run.Engine(engine)
	s, err := ResolveSpec(e, run)
	if err != nil {
		t.Fatal(err)
	}
	in := *s.Fit
	in.GPUSource = "profile"
	return in
}

// The arithmetic, by hand: KV per token = 2 × 48 layers × 8 heads × 128 ×
// 1 byte (FP8) = 98,304 B = 96 KiB (BF16: 192 KiB).
func TestFitH100INT4(t *testing.T) {
	in := fitFor(t, "h100", "vllm")
	if in.KVBytesPerToken != 98304 || in.GPUBytes != 80e9 || in.WeightsBytes != 58e9 || in.OverheadBytes != 4e9 || in.Context != 16384 {
		t.Fatalf("fit input %+v", in)
	}
	// 80 GB × 0.92 = 73.6 GB; − 58 − 4 = 11.6 GB; / 98,304 = 118,001 tokens;
	// a 3,300-token sequence: 35 of them.
	f, err := CheckFit(in, Workload{Concurrency: 100, TokensPerSeq: 3300})
	if err != nil {
		t.Fatal(err)
	}
	if f.UsableBytes != 73_600_000_000 || f.KVBytes != 11_600_000_000 || f.KVTokens != 118_001 || f.MaxSeqsAtLoad != 35 {
		t.Errorf("fit %+v", f)
	}
	w := f.Warning()
	for _, s := range []string{"118001 tokens", "35 sequences of 3300 tokens", "concurrency 100", "32.4 GB > 11.6 GB"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning %q lacks %q", w, s)
		}
	}
	if f, _ := CheckFit(in, Workload{Concurrency: 10, TokensPerSeq: 3300}); f.Warning() != "" {
		t.Errorf("concurrency 10 fits, warning %q", f.Warning())
	}
	if !strings.Contains(f.Summary(), "73.6 GB usable") || !strings.Contains(f.Summary(), "118001 tokens at 96 KiB/token") {
		t.Errorf("summary %q", f.Summary())
	}
}

func TestFitH200FP8(t *testing.T) {
	// vLLM: 141 × 0.92 = 129.72 GB; − 109 − 4 = 16.72 GB = 170,084 tokens.
	f, err := CheckFit(fitFor(t, "h200", "vllm"), Workload{})
	if err != nil || f.KVTokens != 170_084 {
		t.Errorf("vllm h200: %v, %d tokens, want 170084", err, f.KVTokens)
	}
}

// TensorRT-LLM's --kv_cache_free_gpu_memory_fraction is a share of the
// memory left free after loading, not of the total: 141 − 109 − 4 = 28 GB
// free × 0.9 = 25.2 GB of KV cache = 256,347 tokens (as a share of the
// total it would be 141 × 0.9 − 113 = 13.9 GB = 141,398 tokens).
func TestFitH200TRTLLMFreeFraction(t *testing.T) {
	in := fitFor(t, "h200", "trtllm")
	if in.MemFractionOf != FractionOfFree || in.MemFraction != 0.9 {
		t.Fatalf("trtllm h200 fit input: fraction %v of %q, want 0.9 of %q", in.MemFraction, in.MemFractionOf, FractionOfFree)
	}
	f, err := CheckFit(in, Workload{Concurrency: 100, TokensPerSeq: 3300})
	if err != nil {
		t.Fatal(err)
	}
	if f.FreeBytes != 28_000_000_000 || f.KVBytes != 25_200_000_000 || f.KVTokens != 256_347 ||
		f.UsableBytes != 138_200_000_000 || f.MaxSeqsAtLoad != 77 {
		t.Errorf("fit %+v", f)
	}
	for _, s := range []string{"141.0 GB GPU memory (profile)", "− weights 109.0 GB − overhead 4.0 GB = 28.0 GB free × 0.90 = KV 25.2 GB",
		"256347 tokens at 96 KiB/token"} {
		if !strings.Contains(f.Summary(), s) {
			t.Errorf("summary %q lacks %q", f.Summary(), s)
		}
	}
	// vLLM and SGLang keep the share-of-total meaning.
	for _, e := range []string{"vllm", "sglang"} {
		if got := fitFor(t, "h200", e).MemFractionOf; got != FractionOfTotal {
			t.Errorf("%s: mem_fraction of %q, want %q", e, got, FractionOfTotal)
		}
	}
}

func TestFitFreeFractionFails(t *testing.T) {
	// FP8 Scout with TensorRT-LLM on an 80 GB GPU: 80 − 109 − 4 < 0 free.
	in := fitFor(t, "h200", "trtllm")
	in.GPUBytes, in.GPUSource = 80e9, "NVML NVIDIA H100 80GB HBM3"
	f, err := CheckFit(in, Workload{})
	if err == nil {
		t.Fatalf("FP8 Scout fits an 80 GB GPU with TensorRT-LLM? %+v", f)
	}
	for _, s := range []string{"KV cache 0.0 GB", "0.90 × -33.0 GB free", "80.0 GB GPU memory from NVML NVIDIA H100 80GB HBM3",
		"− weights 109.0 GB − overhead 4.0 GB", "16384 × 96 KiB/token = 1.6 GB", "INFBENCH_PROFILE=h200"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	// Just enough free memory for one 16,384-token sequence (1.61 GB of KV
	// cache at 0.9) fits; slightly less does not.
	in.GPUBytes = 113e9 + 1_800_000_000
	if _, err := CheckFit(in, Workload{}); err != nil {
		t.Errorf("1.8 GB free × 0.9 = 1.62 GB ≥ 1.61 GB: %v", err)
	}
	in.GPUBytes = 113e9 + 1_700_000_000
	if _, err := CheckFit(in, Workload{}); err == nil {
		t.Error("1.7 GB free × 0.9 = 1.53 GB < 1.61 GB fits?")
	}
}

func TestMemFractionOf(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kv_cache_free_gpu_memory_fraction", "{mem_fraction}"}, FractionOfFree},
		{[]string{"x", "--kv-cache-free-gpu-memory-fraction={mem_fraction}"}, FractionOfFree},
		{[]string{"--gpu-memory-utilization", "{mem_fraction}"}, FractionOfTotal},
		{[]string{"--mem-fraction-static", "{mem_fraction}"}, FractionOfTotal},
		{[]string{"--kv_cache_free_gpu_memory_fraction", "0.9"}, FractionOfTotal}, // not the placeholder
		{nil, FractionOfTotal},
	} {
		if got := memFractionOf(tc.args); got != tc.want {
			t.Errorf("memFractionOf(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestFitFP8OnH100Fails(t *testing.T) {
	// The h200 FP8 checkpoint on an 80 GB GPU: 109 + 4 + 16,384 × 96 KiB
	// (1.6 GB) = 114.6 GB > 80 × 0.92 = 73.6 GB.
	in := fitFor(t, "h200", "vllm")
	in.GPUBytes, in.GPUSource = 80e9, "NVML NVIDIA H100 80GB HBM3"
	_, err := CheckFit(in, Workload{})
	if err == nil {
		t.Fatal("FP8 Scout fits an 80 GB GPU?")
	}
	for _, s := range []string{"weights 109.0 GB", "overhead 4.0 GB", "16384 × 96 KiB/token = 1.6 GB", "= 114.6 GB > 73.6 GB usable",
		"80.0 GB GPU memory from NVML NVIDIA H100 80GB HBM3", "INFBENCH_PROFILE=h200"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

func TestFitBF16KV(t *testing.T) {
	in := fitFor(t, "h100", "vllm")
	in.KVBytesPerToken *= 2 // BF16: 192 KiB/token
	f, err := CheckFit(in, Workload{})
	if err != nil || f.KVTokens != 59_000 || !strings.Contains(f.Summary(), "192 KiB/token") {
		t.Errorf("BF16 KV: %v, %d tokens (want 59000), %q", err, f.KVTokens, f.Summary())
	}
}
