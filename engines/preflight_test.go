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
	// TensorRT-LLM: 141 × 0.9 = 126.9 GB; − 113 = 13.9 GB = 141,398 tokens.
	f, err = CheckFit(fitFor(t, "h200", "trtllm"), Workload{})
	if err != nil || f.KVTokens != 141_398 {
		t.Errorf("trtllm h200: %v, %d tokens, want 141398", err, f.KVTokens)
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
