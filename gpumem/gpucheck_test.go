package gpumem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGPUCheck measures a known allocation on a real GPU. It is driven by
// scripts/gpu-check.sh and skipped unless INFBENCH_GPU_CHECK=1.
//
// Protocol, through files in $INFBENCH_GPU_CHECK_DIR:
//
//	ready           this test: baseline taken, sampler running
//	allocated.json  python: {"pid","requested_B","torch_allocated_B","torch_reserved_B"}, memory held
//	done.json       python: matmul phase over {"matmul_s","iters","tflops"}; memory still held
//	stopped         this test: sampler stopped; python may exit
//	abort           the script: python failed; stop waiting
//
// Other variables: INFBENCH_GPU_INDEX (NVML index, default 0),
// INFBENCH_GPU_CHECK_TIMEOUT (Go duration, default 120s).
func TestGPUCheck(t *testing.T) {
	if os.Getenv("INFBENCH_GPU_CHECK") != "1" {
		t.Skip("set INFBENCH_GPU_CHECK=1 (scripts/gpu-check.sh does) to run the real-GPU check")
	}
	dir := os.Getenv("INFBENCH_GPU_CHECK_DIR")
	require.NotEmpty(t, dir, "INFBENCH_GPU_CHECK_DIR must name the handshake directory")
	idx := 0
	if v := os.Getenv("INFBENCH_GPU_INDEX"); v != "" {
		var err error
		idx, err = strconv.Atoi(v)
		require.NoError(t, err, "INFBENCH_GPU_INDEX=%q", v)
	}
	timeout := 120 * time.Second
	if v := os.Getenv("INFBENCH_GPU_CHECK_TIMEOUT"); v != "" {
		var err error
		timeout, err = time.ParseDuration(v)
		require.NoError(t, err, "INFBENCH_GPU_CHECK_TIMEOUT=%q", v)
	}
	runGPUCheck(t, gpuCheck{lib: nvml.New(), idx: idx, dir: dir, timeout: timeout})
}

// gpuCheck parametrises runGPUCheck, so that the protocol is also tested
// against the mock (TestGPUCheckProtocolWithMock).
type gpuCheck struct {
	lib     nvml.Interface
	idx     int
	dir     string
	timeout time.Duration
	opts    []Option
}

func runGPUCheck(t *testing.T, c gpuCheck) {
	dir := c.dir
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	g, err := Open(c.lib, c.idx, c.opts...)
	require.NoError(t, err, "opening GPU %d", c.idx)
	defer g.Close()
	for _, l := range g.ConfigLines() {
		t.Log(l)
	}
	info := g.Info()
	t.Logf("uuid %s, used-memory API %s, bus %d bit, max memory clock %d MHz",
		info.UUID, info.MemoryAPI, info.MemoryBusWidthBits, info.MaxMemoryClockMHz)

	base, err := g.Baseline(ctx)
	require.NoError(t, err)
	samplesFile, err := os.Create(filepath.Join(dir, "samples.jsonl"))
	require.NoError(t, err)
	defer samplesFile.Close()
	s := g.Start(ctx, samplesFile)
	stopped := false
	stop := func() Summary {
		sum := s.Stop()
		if !stopped {
			stopped = true
			_ = os.WriteFile(filepath.Join(dir, "stopped"), nil, 0o644)
		}
		return sum
	}
	defer stop() // lets python exit whatever happens
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ready"), fmt.Appendf(nil, "%d\n", *base.UsedBytes), 0o644))
	t.Logf("baseline taken, sampler running every %v; waiting for python", g.interval)

	var alloc struct {
		PID            uint32 `json:"pid"`
		RequestedB     uint64 `json:"requested_B"`
		TorchAllocated uint64 `json:"torch_allocated_B"`
		TorchReserved  uint64 `json:"torch_reserved_B"`
	}
	wait := newJSONWaiter(dir)
	require.NoError(t, wait.wait(ctx, "allocated.json", &alloc))
	var done struct {
		MatmulS float64 `json:"matmul_s"`
		Iters   int     `json:"iters"`
		TFLOPS  float64 `json:"tflops"`
	}
	require.NoError(t, wait.wait(ctx, "done.json", &done))
	sum := stop()

	delta := sum.EngineBytes
	t.Logf("baseline used:          %s", bytesStr(sum.BaselineBytes))
	t.Logf("peak used:              %s", bytesStr(sum.PeakUsedBytes))
	t.Logf("measured delta:         %s (peak − baseline)", bytesStr(uint64(max(delta, 0))))
	t.Logf("python requested:       %s; torch allocated %s, reserved %s",
		bytesStr(alloc.RequestedB), bytesStr(alloc.TorchAllocated), bytesStr(alloc.TorchReserved))
	t.Logf("delta − requested:      %+.0f MiB", float64(delta-int64(alloc.RequestedB))/(1<<20))
	t.Logf("delta − torch reserved: %+.0f MiB (CUDA context + kernels + cuBLAS, ~500 MiB expected)",
		float64(delta-int64(alloc.TorchReserved))/(1<<20))
	if p, ok := sum.ProcessPeakBytes[alloc.PID]; ok {
		t.Logf("python pid %d peak (NVML per-process): %s", alloc.PID, bytesStr(p))
	} else {
		t.Logf("python pid %d not visible to NVML per-process accounting (%d processes seen)", alloc.PID, len(sum.ProcessPeakBytes))
	}
	t.Logf("energy:                 %.1f J (source %s); power-integral cross-check %.1f J", sum.Joules, sum.EnergySource, sum.PowerIntegralJoules)
	t.Logf("mean power:             %.1f W over %v", sum.MeanPowerW, sum.Duration.Round(time.Millisecond))
	t.Logf("mean SM util:           %.1f %%, memory util %.1f %%, SM clock %.0f MHz", sum.MeanSMUtilPct, sum.MeanMemUtilPct, sum.MeanSMClockMHz)
	t.Logf("matmul:                 %d iterations in %.2f s, %.0f TFLOP/s bf16", done.Iters, done.MatmulS, done.TFLOPS)
	t.Logf("samples:                %d (power %d, util %d), errors %d %q, unsupported %q",
		sum.Samples, sum.PowerSamples, sum.UtilSamples, sum.Errors, sum.FirstError, sum.Unsupported)
	for _, m := range sum.Metrics(1e6) {
		t.Logf("metric (1e6 tokens):    %g %s", m.Value, m.Unit)
	}

	assert.Equal(t, 0, sum.Errors, "NVML errors during the run: first %q", sum.FirstError)
	assert.GreaterOrEqual(t, sum.Samples, 10, "one sample per %v over several seconds", g.interval)
	assert.GreaterOrEqual(t, delta, int64(alloc.RequestedB), "the allocation must show in peak − baseline")
	assert.GreaterOrEqual(t, delta, int64(alloc.TorchReserved), "torch's reserved memory must show in peak − baseline")
	assert.Less(t, delta-int64(alloc.TorchReserved), int64(3<<30), "overhead beyond torch's reservation should be a CUDA context (<3 GiB)")
	if p, ok := sum.ProcessPeakBytes[alloc.PID]; ok {
		assert.GreaterOrEqual(t, p, alloc.RequestedB, "per-process memory of the python process")
	}
	assert.NotEqual(t, EnergyNone, sum.EnergySource, "no energy measured")
	assert.Positive(t, sum.Joules)
	assert.Positive(t, sum.MeanPowerW)
	assert.Positive(t, sum.MeanSMUtilPct, "matmuls ran")
	if sum.EnergySource == EnergyCounter && sum.PowerSamples >= 2 && sum.PowerIntegralJoules > 0 {
		r := sum.Joules / sum.PowerIntegralJoules
		t.Logf("counter / power-integral: %.3f", r)
		assert.InDelta(t, 1, r, 0.5, "energy counter and power samples disagree widely")
	}
}

// jsonWaiter waits for the files python writes in the handshake folder.
type jsonWaiter struct {
	dir  string
	poll time.Duration
	// readFile is os.ReadFile; tests wrap it to see each read as it happens.
	readFile func(name string) ([]byte, error)
}

func newJSONWaiter(dir string) jsonWaiter {
	return jsonWaiter{dir: dir, poll: 50 * time.Millisecond, readFile: os.ReadFile}
}

// wait polls dir/name until it exists and decodes it into v, or ctx ends,
// or dir/abort appears. A file that does not decode is retried until the
// deadline: a writer that is not atomic may be caught half-way, and only a
// file that stays undecodable is an error (reported with the last decode
// error).
func (w jsonWaiter) wait(ctx context.Context, name string, v any) error {
	tick := time.NewTicker(w.poll)
	defer tick.Stop()
	var lastDecodeErr error
	for {
		ok, decodeErr, err := w.try(name, v)
		if ok || err != nil {
			return err
		}
		if decodeErr != nil {
			lastDecodeErr = decodeErr
		}
		select {
		case <-ctx.Done():
			return waitEnded(name, lastDecodeErr, ctx.Err())
		case <-tick.C:
		}
	}
}

// try reads and decodes dir/name once. ok: v is filled. decodeErr: the
// file is there but does not decode (yet). err: reading failed or the
// script aborted; waiting is over.
func (w jsonWaiter) try(name string, v any) (ok bool, decodeErr, err error) {
	data, err := w.readFile(filepath.Join(w.dir, name))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, v); err != nil {
			return false, fmt.Errorf("decoding %s: %w", name, err), w.aborted(name)
		}
		return true, nil, nil
	case !errors.Is(err, os.ErrNotExist):
		return false, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return false, nil, w.aborted(name)
}

// aborted is an error once the script has put dir/abort in place.
func (w jsonWaiter) aborted(name string) error {
	if _, err := os.Stat(filepath.Join(w.dir, "abort")); err == nil {
		return fmt.Errorf("waiting for %s: the script aborted (python failed; see its output)", name)
	}
	return nil
}

// waitEnded is the error of a wait that ctx ended: the last decode error
// when the file was there, else the wait for python.
func waitEnded(name string, decodeErr, ctxErr error) error {
	if decodeErr != nil {
		return fmt.Errorf("%w (still undecodable when waiting ended: %v)", decodeErr, ctxErr)
	}
	return fmt.Errorf("waiting for %s from python: %w (raise INFBENCH_GPU_CHECK_TIMEOUT?)", name, ctxErr)
}

// observedWaiter is a jsonWaiter over dir, polling every millisecond,
// that hands each read to the test on the returned channel and waits for
// the test to take it (or for ctx to end) before going on.
func observedWaiter(ctx context.Context, dir string) (jsonWaiter, <-chan string) {
	reads := make(chan string)
	w := newJSONWaiter(dir)
	w.poll = time.Millisecond
	w.readFile = func(name string) ([]byte, error) {
		b, err := os.ReadFile(name)
		select {
		case reads <- string(b):
		case <-ctx.Done():
		}
		return b, err
	}
	return w, reads
}

// TestWaitJSONRetriesPartialFile: a half-written file is not fatal; wait
// keeps polling until the complete file is there.
func TestWaitJSONRetriesPartialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "allocated.json")
	const partial = `{"pid": 99` // truncated
	require.NoError(t, os.WriteFile(path, []byte(partial), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	w, reads := observedWaiter(ctx, dir)
	done := make(chan error, 1)
	var got struct {
		PID int `json:"pid"`
	}
	go func() { done <- w.wait(ctx, "allocated.json", &got) }()

	// wait blocks on each read until the test takes it: a second read of
	// the partial file proves it saw the file and went on polling.
	next := func() string {
		select {
		case r := <-reads:
			return r
		case err := <-done:
			t.Fatalf("wait returned on a half-written file: %v", err)
		case <-ctx.Done():
			t.Fatal("wait made no read before the deadline")
		}
		return ""
	}
	require.Equal(t, partial, next(), "first read: the partial file")
	require.Equal(t, partial, next(), "polled again after the partial file")

	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(`{"pid": 999}`), 0o644))
	require.NoError(t, os.Rename(tmp, path))
	for {
		select {
		case <-reads:
		case err := <-done:
			require.NoError(t, err)
			assert.Equal(t, 999, got.PID)
			return
		}
	}
}

// TestWaitJSONUndecodableUntilDeadline: a file that never decodes is an
// error naming the decode failure once the deadline passes. The deadline
// here is the third read, not a duration.
func TestWaitJSONUndecodableUntilDeadline(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "done.json"), []byte(`{"iters": `), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newJSONWaiter(dir)
	w.poll = time.Millisecond
	reads := 0
	w.readFile = func(name string) ([]byte, error) {
		if reads++; reads == 3 {
			cancel()
		}
		return os.ReadFile(name)
	}
	var v map[string]any
	err := w.wait(ctx, "done.json", &v)
	require.Error(t, err)
	assert.GreaterOrEqual(t, reads, 3, "retried until waiting ended")
	assert.Contains(t, err.Error(), "decoding done.json")
	assert.Contains(t, err.Error(), context.Canceled.Error(), "says why waiting ended")
	var syntaxErr *json.SyntaxError
	assert.ErrorAs(t, err, &syntaxErr, "the decode error is kept")
}

// TestWaitJSONAbort: the script's abort file ends the wait at once, for a
// missing file and for one that does not decode.
func TestWaitJSONAbort(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "abort"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "done.json"), []byte(`{`), 0o644))
	for _, name := range []string{"allocated.json", "done.json"} {
		var v map[string]any
		err := newJSONWaiter(dir).wait(context.Background(), name, &v)
		assert.ErrorContains(t, err, "waiting for "+name+": the script aborted", name)
	}
}

func bytesStr(b uint64) string {
	return fmt.Sprintf("%.3f GiB (%d B)", float64(b)/(1<<30), b)
}

// TestGPUCheckProtocolWithMock plays python's part of the gpu-check.sh
// protocol against the mock, so that TestGPUCheck's logic is exercised on
// machines without a GPU.
func TestGPUCheckProtocolWithMock(t *testing.T) {
	f := newFakeGPU(t)
	f.energyRet.Store(int64(nvml.ERROR_NOT_SUPPORTED)) // power-integral path
	f.dev.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		if u := f.used.Load(); u > 1*gib {
			return []nvml.ProcessInfo{{Pid: 999, UsedGpuMemory: u - 1*gib}}, nvml.SUCCESS
		}
		return nil, nvml.SUCCESS
	}
	dir := t.TempDir()
	put := func(name string, v any) {
		// Atomically, as alloc.py does: write a temporary file, then rename.
		b, err := json.Marshal(v)
		tmp := filepath.Join(dir, name+".tmp")
		if err == nil {
			err = os.WriteFile(tmp, b, 0o644)
		}
		if err == nil {
			err = os.Rename(tmp, filepath.Join(dir, name))
		}
		assert.NoError(t, err)
	}
	exists := func(name string) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	}
	python := make(chan struct{})
	go func() {
		defer close(python)
		if !assert.Eventually(t, exists("ready"), patience, time.Millisecond) {
			return
		}
		requested, reserved := 8*gib, 8*gib+512<<20
		f.used.Store(1*gib + reserved + 500<<20) // + CUDA context
		put("allocated.json", map[string]any{"pid": 999, "requested_B": requested, "torch_allocated_B": requested, "torch_reserved_B": reserved})
		f.powerMW.Store(650_000)
		start := f.memCalls.Load()
		assert.Eventually(t, func() bool { return f.memCalls.Load() >= start+12 }, patience, time.Millisecond)
		put("done.json", map[string]any{"matmul_s": 5.0, "iters": 100, "tflops": 700.0})
		assert.Eventually(t, exists("stopped"), patience, time.Millisecond)
	}()
	t.Cleanup(func() { <-python }) // even when runGPUCheck fails the test
	runGPUCheck(t, gpuCheck{lib: f.srv, dir: dir, timeout: patience, opts: []Option{WithInterval(interval)}})
	data, err := os.ReadFile(filepath.Join(dir, "samples.jsonl"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(parseSamples(t, data)), 10)
}
