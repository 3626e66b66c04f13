#!/usr/bin/env bash
# gpu-check.sh — check gpumem against a real NVIDIA GPU (H100/H200).
#
# The GPU machine needs no Go toolchain and no internet. Build the test
# binary beforehand on a machine with Go and gcc (cgo), no GPU needed:
#
#     go test -c -o bin/gpumem.test ./gpumem/
#
# then copy bin/gpumem.test and this script to the GPU machine (or the
# whole working tree) and run, from the repository root:
#
#     scripts/gpu-check.sh [path/to/gpumem.test]     # default bin/gpumem.test
#
# Needs there: the NVIDIA driver (libnvidia-ml.so.1), python3 with PyTorch
# built for CUDA, coreutils `timeout`, and a glibc no older than the build
# machine's (the binary is dynamically linked because of cgo).
#
# What it does (about 1 minute, at most ~3.5 minutes with every timeout hit):
#   1. checks that python3 imports torch and sees CUDA;
#   2. starts TestGPUCheck (INFBENCH_GPU_CHECK=1): it opens the GPU with
#      NVML, takes the memory baseline, starts the sampler, creates $WORK/ready;
#   3. starts python, which allocates GPU_CHECK_ALLOC_GIB GiB (default 8)
#      with torch.empty(..., device='cuda') + fill_, writes
#      $WORK/allocated.json, runs bf16 matmuls for GPU_CHECK_MATMUL_S
#      seconds (default 5) to draw power, writes $WORK/done.json, and holds
#      its memory until the test writes $WORK/stopped;
#   4. the test stops the sampler and prints baseline, peak, measured
#      delta vs the allocation (the difference is mostly the CUDA context,
#      ~500 MiB), energy (J, and its source), mean power, utilisation.
#
# Environment: INFBENCH_GPU_INDEX (NVML index, default 0), GPU_CHECK_ALLOC_GIB,
# GPU_CHECK_MATMUL_S, GPU_CHECK_KEEP=1 to keep the work directory.
# The samples (one JSON line each) are left in $WORK/samples.jsonl.
#
# Exit status: 0 check passed, 1 check failed, 2 could not run the check.
set -euo pipefail

BIN=${1:-bin/gpumem.test}
IDX=${INFBENCH_GPU_INDEX:-0}
ALLOC_GIB=${GPU_CHECK_ALLOC_GIB:-8}
MATMUL_S=${GPU_CHECK_MATMUL_S:-5}

say() { printf 'gpu-check: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

[[ -f $BIN && -x $BIN ]] || die "test binary '$BIN' not found or not executable; build it with: go test -c -o bin/gpumem.test ./gpumem/"
command -v timeout >/dev/null || die "coreutils 'timeout' not found"
command -v python3 >/dev/null || die "python3 not found"
[[ $IDX =~ ^[0-9]+$ ]] || die "INFBENCH_GPU_INDEX='$IDX' is not a device index"

if command -v nvidia-smi >/dev/null; then
	timeout 20 nvidia-smi -L >&2 || say "warning: nvidia-smi -L failed (continuing; NVML decides)"
else
	say "nvidia-smi not found (continuing; NVML decides)"
fi

# PyTorch must see the same GPU as NVML index $IDX: NVML numbers devices in
# PCI bus order, so make CUDA do the same.
export CUDA_DEVICE_ORDER=PCI_BUS_ID
if [[ -z ${CUDA_VISIBLE_DEVICES:-} ]]; then
	export CUDA_VISIBLE_DEVICES=$IDX
else
	say "warning: CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES is set; make sure cuda:0 is NVML device $IDX"
fi

say "checking python3 + torch + CUDA (timeout 60 s)"
timeout 60 python3 -c '
import sys
try:
    import torch
except Exception as e:
    sys.exit(f"cannot import torch: {e}")
if not torch.cuda.is_available():
    sys.exit("torch.cuda.is_available() is False (CPU-only torch, or no driver)")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s)")
' >&2 || die "python3 with CUDA-enabled PyTorch is required (see the message above)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
TEST_PID=
cleanup() {
	local rc=$?
	if [[ -n $TEST_PID ]] && kill -0 "$TEST_PID" 2>/dev/null; then
		kill "$TEST_PID" 2>/dev/null || true
	fi
	if [[ ${GPU_CHECK_KEEP:-0} == 1 || $rc != 0 ]]; then
		say "work directory kept: $WORK"
	else
		rm -rf -- "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 2' INT TERM

cat >"$WORK/alloc.py" <<'PY'
import json, os, sys, time

d = os.environ["GPU_CHECK_DIR"]
gib = float(os.environ.get("GPU_CHECK_ALLOC_GIB", "8"))
secs = float(os.environ.get("GPU_CHECK_MATMUL_S", "5"))
test_pid = int(os.environ.get("GPU_CHECK_TEST_PID", "0"))

def log(msg):
    print(f"[python] {msg}", file=sys.stderr, flush=True)

def put(name, obj):
    tmp = os.path.join(d, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, os.path.join(d, name))  # atomic: the test never reads half a file

def test_alive():
    if not test_pid:
        return True
    try:
        os.kill(test_pid, 0)
        return True
    except ProcessLookupError:
        return False

import torch

dev = torch.device("cuda", 0)
log(f"{torch.cuda.get_device_name(dev)}; torch {torch.__version__}")
n = int(gib * (1 << 30))
buf = torch.empty(n, dtype=torch.uint8, device=dev)
buf.fill_(7)  # touch every page
k = 8192
a = torch.randn(k, k, device=dev, dtype=torch.bfloat16)
b = torch.randn(k, k, device=dev, dtype=torch.bfloat16)
c = torch.empty(k, k, device=dev, dtype=torch.bfloat16)
torch.matmul(a, b, out=c)  # creates the cuBLAS handle and workspace
torch.cuda.synchronize()
alloc = {
    "pid": os.getpid(),
    "requested_B": n,
    "torch_allocated_B": torch.cuda.memory_allocated(dev),
    "torch_reserved_B": torch.cuda.memory_reserved(dev),
}
put("allocated.json", alloc)
log(f"allocated {n} B ({gib:g} GiB); torch reserved {alloc['torch_reserved_B']} B; matmuls for {secs:g} s")

t0 = time.perf_counter()
iters = 0
while time.perf_counter() - t0 < secs:
    for _ in range(20):
        torch.matmul(a, b, out=c)
    torch.cuda.synchronize()
    iters += 20
el = time.perf_counter() - t0
tflops = 2 * k**3 * iters / el / 1e12
put("done.json", {"matmul_s": el, "iters": iters, "tflops": tflops})
log(f"{iters} matmuls in {el:.2f} s ({tflops:.0f} TFLOP/s); holding memory until the test stops sampling")

deadline = time.monotonic() + 60
while not os.path.exists(os.path.join(d, "stopped")):
    if time.monotonic() > deadline:
        log("the test did not stop sampling within 60 s")
        sys.exit(4)
    if not test_alive():
        log("the test exited before stopping the sampler")
        sys.exit(4)
    time.sleep(0.05)
del buf
log("done")
PY

say "starting $BIN -test.run '^TestGPUCheck\$' (GPU $IDX, work dir $WORK)"
INFBENCH_GPU_CHECK=1 INFBENCH_GPU_CHECK_DIR=$WORK INFBENCH_GPU_INDEX=$IDX INFBENCH_GPU_CHECK_TIMEOUT=120s \
	timeout 150 "$BIN" -test.run '^TestGPUCheck$' -test.v -test.count=1 -test.timeout 140s \
	>"$WORK/test.log" 2>&1 &
TEST_PID=$!

# Wait for the baseline: python must not start before it is taken.
for ((i = 0; i < 300; i++)); do
	[[ -e $WORK/ready ]] && break
	if ! kill -0 "$TEST_PID" 2>/dev/null; then
		cat "$WORK/test.log" >&2
		die "the test exited before taking the baseline (output above)"
	fi
	sleep 0.2
done
[[ -e $WORK/ready ]] || { cat "$WORK/test.log" >&2; die "the test did not take the baseline within 60 s"; }
say "baseline taken: $(tr -d '\n' <"$WORK/ready") B used; starting python (alloc ${ALLOC_GIB} GiB, matmul ${MATMUL_S} s, timeout 100 s)"

py_rc=0
GPU_CHECK_DIR=$WORK GPU_CHECK_ALLOC_GIB=$ALLOC_GIB GPU_CHECK_MATMUL_S=$MATMUL_S GPU_CHECK_TEST_PID=$TEST_PID \
	timeout 100 python3 "$WORK/alloc.py" || py_rc=$?
if ((py_rc != 0)); then
	: >"$WORK/abort"
	if ((py_rc == 124)); then
		say "python timed out after 100 s"
	else
		say "python failed (exit $py_rc; output above)"
	fi
fi

test_rc=0
wait "$TEST_PID" || test_rc=$?
TEST_PID=
cat "$WORK/test.log"
if [[ -s $WORK/samples.jsonl ]]; then
	say "$(wc -l <"$WORK/samples.jsonl") samples in $WORK/samples.jsonl"
fi

if ((test_rc == 0 && py_rc == 0)) && grep -q '^--- PASS: TestGPUCheck' "$WORK/test.log"; then
	say "PASS"
	exit 0
fi
if grep -q '^--- SKIP: TestGPUCheck' "$WORK/test.log"; then
	die "TestGPUCheck was skipped (see above)"
fi
((test_rc == 124)) && say "the test timed out"
say "FAIL (test exit $test_rc, python exit $py_rc)"
exit 1
