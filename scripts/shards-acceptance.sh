#!/usr/bin/env bash
# The process-level check of sharded runs (README, "More load than one
# machine"): one infbench-sim process per run; one single-process run and
# one run of four shard processes against it at a total concurrency of 200;
# the shards merged; the simulator's own peak of requests in flight
# (sim:peak_requests_in_flight on /metrics, engines/sim) for each, which
# must be exactly 200 (the script exits 1 otherwise), and as a cross-check
# the largest running batch seen by sampling sim:num_requests_running
# every 10 ms, a lower bound of it; TTFT p50 and tok/s of the merge against
# the single process; benchstat on the merged bench.txt.
#
#   scripts/shards-acceptance.sh [out dir]      (default results/shards-acceptance)
#
# Both runs ramp their first requests over about one request's duration
# (ramp: 1700ms in a copy of testdata/engines.yaml): without a ramp the 200
# requests run in lockstep and TTFT p50 moves by more than 5 % between two
# runs of one process.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$(realpath -m "${1:-results/shards-acceptance}")
rm -rf "$out" && mkdir -p "$out/cwd"
go build -o bin/infbench-sim ./cmd/infbench-sim
go build -o bin/infbench ./cmd/infbench
go test -c -o bin/infbench.test .
cp -r testdata "$out/cwd/"
sed 's/^ramp: .*/ramp: 1700ms/' testdata/engines.yaml > "$out/cwd/testdata/engines.yaml"

export INFBENCH_TARGET=http://127.0.0.1:18000 INFBENCH_MODEL=m INFBENCH_CONCURRENCY=200 \
	INFBENCH_REQUESTS=800 INFBENCH_PROMPTS=short INFBENCH_MAX_TOKENS=32 INFBENCH_MAX_ERROR_RATE=0 \
	INFBENCH_SEED=$(openssl rand -hex 6)

sim=
stop_sim() { if [ -n "$sim" ]; then kill "$sim"; wait "$sim" 2>/dev/null || true; sim=; fi; }
trap stop_sim EXIT
start_sim() {
	"$root/bin/infbench-sim" -addr 127.0.0.1:18000 -model m -max-batch 256 -step-base 40ms -per-sequence 50us > "$out/sim-$1.log" &
	sim=$!
	for _ in $(seq 50); do
		if curl -sf http://127.0.0.1:18000/health > /dev/null; then
			sample "$1" &
			return
		fi
		sleep 0.1
	done
	echo "infbench-sim did not start: $out/sim-$1.log" >&2; exit 1
}
# sample appends the simulator's running batch to running-<name>.txt every
# 10 ms until it stops answering.
sample() {
	while curl -sf http://127.0.0.1:18000/metrics | awk '$1 == "sim:num_requests_running" {print $2}' >> "$out/running-$1.txt"; do
		sleep 0.01
	done
}
batch() { sort -n "$out/running-$1.txt" | tail -1; }
peak() {
	curl -sf http://127.0.0.1:18000/metrics | awk '$1 == "sim:peak_requests_in_flight" {print $2; f=1} END {if (!f) print "not exported (sim:peak_requests_in_flight)"}'
}

cd "$out/cwd"
start_sim one
INFBENCH_RESULTS="$out/one" "$root/bin/infbench.test" -test.run='^$' -test.bench=. > "$out/one.txt" 2> "$out/one.err"
peak_one=$(peak)
stop_sim

start_sim shards
pids=()
for i in 0 1 2 3; do
	INFBENCH_SHARD=$i/4 INFBENCH_COORDINATOR=127.0.0.1:17070 INFBENCH_RESULTS="$out/shard-$i" \
		"$root/bin/infbench.test" -test.run='^$' -test.bench=. > "$out/shard-$i.txt" 2> "$out/shard-$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
peak_shards=$(peak)
stop_sim
cd "$root"

bin/infbench merge -o "$out/merged" "$out"/shard-0 "$out"/shard-1 "$out"/shard-2 "$out"/shard-3 > /dev/null
summary() { jq -r '.cells[0].summary | "\(.ttft_ns.p50) \(.output_tok_per_s)"' "$1/summary.json"; }
read -r ttft1 tok1 < <(summary "$out/one")
read -r ttftm tokm < <(summary "$out/merged")
echo "seed $INFBENCH_SEED, results in $out"
echo "simulator's peak requests in flight: one process $peak_one, four shards $peak_shards (want 200)"
echo "largest running batch sampled: one process $(batch one), four shards $(batch shards) (at most 200)"
awk -v a="$ttftm" -v b="$ttft1" -v c="$tokm" -v d="$tok1" 'BEGIN {
	printf "TTFT p50: merged %.2f ms, one process %.2f ms (%+.2f %%)\n", a/1e6, b/1e6, 100*(a/b-1)
	printf "tok/s:    merged %.0f, one process %.0f (%+.2f %%)\n", c, d, 100*(c/d-1) }'
go tool benchstat -table "" "$out/one.txt" "$out/merged/bench.txt" | grep -A2 -E ' (ttft-p50-sec|tok/s) ' || true
if [ "$peak_one" != 200 ] || [ "$peak_shards" != 200 ]; then
	echo "FAIL: the simulator's peak requests in flight is not 200 for both runs" >&2
	exit 1
fi
