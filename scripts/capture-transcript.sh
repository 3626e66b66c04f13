#!/usr/bin/env bash
# capture-transcript.sh: record a running engine's SSE stream byte for byte,
# in the format engines/transcripts_test.go replays, replacing the
# reconstructed transcripts in testdata/transcripts.
#
#   scripts/capture-transcript.sh ENGINE API BASE_URL [MODEL] [--continuous]
#
#   ENGINE    vllm, sglang or trtllm (names the file)
#   API       chat or completions
#   BASE_URL  the engine's published port, e.g. http://localhost:8000
#   MODEL     the served model (default: the first id of GET /v1/models;
#             trtllm-serve serves the checkpoint id)
#   --continuous  also ask for stream_options.continuous_usage_stats
#             (per-chunk usage): what engines.yaml sends to SGLang and
#             TensorRT-LLM, and vllm-chat-continuous-usage.sse
#
# The request is the transcripts' (testdata/transcripts/README.md): one user
# message "What color is the sky?" (chat) or the prompt
# "Question: What color is the sky?\nAnswer:" (completions), max_tokens 5,
# ignore_eos, stream, stream_options.include_usage. The file is
# testdata/transcripts/ENGINE-API.sse (vllm with --continuous:
# vllm-chat-continuous-usage.sse), first line the provenance comment
# ": infbench: captured <UTC time> from <url> (...)", then the body exactly
# as received (INFBENCH_TRANSCRIPT_DIR writes elsewhere). Start the engine
# first with its own docker run, publishing its port (the benchmark maps it
# to a random host port and removes the container when it ends, so it
# cannot be used for this), e.g. for vLLM:
#   docker run --gpus all --ipc=host -p 8000:8000 -e HF_TOKEN \
#     -v ~/.cache/huggingface:/root/.cache/huggingface -e HF_HOME=/root/.cache/huggingface \
#     vllm/vllm-openai:v0.12.0 <the args of testdata/engines.yaml's vllm spec>
# (TensorRT-LLM also needs its --extra_llm_api_options file mounted at the
# spec's path); then run `go test ./engines -run TestTranscripts`.
set -euo pipefail

usage() { sed -n '2,16p' "$0" >&2; exit 2; }
[ $# -ge 3 ] || usage
engine=$1 api=$2 base=${3%/}
shift 3
model="" continuous=false
for a in "$@"; do
	case $a in
	--continuous) continuous=true ;;
	-*) echo "capture-transcript.sh: unknown option $a" >&2; usage ;;
	*) model=$a ;;
	esac
done
case $engine in vllm | sglang | trtllm) ;; *) echo "capture-transcript.sh: ENGINE $engine: use vllm, sglang or trtllm" >&2; exit 2 ;; esac
command -v curl >/dev/null || { echo "capture-transcript.sh: needs curl" >&2; exit 1; }

if [ -z "$model" ]; then
	model=$(curl -fsS --max-time 30 "$base/v1/models" | grep -o '"id": *"[^"]*"' | head -n1 | sed 's/.*"\([^"]*\)"$/\1/') || true
	[ -n "$model" ] || { echo "capture-transcript.sh: no model id from $base/v1/models: is the engine up? give MODEL" >&2; exit 1; }
fi

so='{"include_usage":true}'
$continuous && so='{"include_usage":true,"continuous_usage_stats":true}'
case $api in
chat)
	path=/v1/chat/completions
	body='{"model":"'"$model"'","messages":[{"role":"user","content":"What color is the sky?"}],"max_tokens":5,"ignore_eos":true,"stream":true,"stream_options":'"$so"'}'
	;;
completions)
	path=/v1/completions
	body='{"model":"'"$model"'","prompt":"Question: What color is the sky?\nAnswer:","max_tokens":5,"ignore_eos":true,"stream":true,"stream_options":'"$so"'}'
	;;
*) echo "capture-transcript.sh: API $api: use chat or completions" >&2; exit 2 ;;
esac

name=$engine-$api
[ "$engine" = vllm ] && $continuous && name=$name-continuous-usage
dir=${INFBENCH_TRANSCRIPT_DIR:-$(cd "$(dirname "$0")/.." && pwd)/testdata/transcripts}
out=$dir/$name.sse

version=unknown
for p in /version /get_server_info /server_info; do
	v=$(curl -fsS --max-time 10 "$base$p" 2>/dev/null | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' | head -n1) || true
	if [ -n "$v" ]; then version=$v; break; fi
done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# -N: no buffering; the body is written exactly as received.
code=$(curl -sS -N --max-time 300 -o "$tmp" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$body" "$base$path")
if [ "$code" != 200 ] || ! grep -q '^data: \[DONE\]' "$tmp"; then
	echo "capture-transcript.sh: POST $base$path answered HTTP $code without a complete stream ([DONE]); body:" >&2
	head -c 2000 "$tmp" >&2
	echo >&2
	exit 1
fi
{
	printf ': infbench: captured %s from %s (engine %s version %s, model %s, continuous_usage_stats %s)\n\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$base$path" "$engine" "$version" "$model" "$continuous"
	cat "$tmp"
} >"$out"
echo "wrote $out ($(grep -c '^data:' "$out") events): check it in with the engine's image tag in testdata/transcripts/README.md" >&2
