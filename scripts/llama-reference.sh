#!/usr/bin/env bash
# The llama.cpp accuracy reference for `lookahead bench` (issue 11): the same
# GGUF answers the same GSM8K questions in llama.cpp's own server, with the
# model's chat template from the file (--jinja: its default system prompt)
# and the same standard instruction after the question, greedy, up to the
# same answer length; then `lookahead bench --grade` reads and marks those
# answers exactly as it marks ours. Optional, never part of the tests.
#
#   scripts/llama-reference.sh                 # the first 100 questions
#   scripts/llama-reference.sh --limit 30      # the first 30
#
# Environment: LOOKAHEAD_MODELS (models folder), THREADS (default 2),
# PORT (default 8089), MAX_TOKENS (default 1024, as the bench), OUT (answers
# file, default /var/tmp/lookahead/bench/llama-reference.jsonl).
# llama-server is built from the pinned llama.cpp source the way
# scripts/llama-bench.sh builds llama-bench (cached in /var/tmp/lookahead).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

LIMIT=100
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) LIMIT="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "Unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

MODELS_DIR="${LOOKAHEAD_MODELS:-$HOME/.local/share/lookahead/models}"
MODEL="$MODELS_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PORT="${PORT:-8089}"
OUT="${OUT:-/var/tmp/lookahead/bench/llama-reference.jsonl}"
DATASET="$ROOT/src-tauri/crates/cli/data/gsm8k_test_100.jsonl"
[ -f "$MODEL" ] || { echo "No target model at $MODEL: run lookahead models fetch" >&2; exit 1; }

LLAMA_TARGET=llama-server bash scripts/llama-bench.sh --build-only
SERVER="${LOOKAHEAD_CACHE:-/var/tmp/lookahead}/llama.cpp/build/bin/llama-server"

"$SERVER" -m "$MODEL" -t "${THREADS:-2}" -c 4096 -np 1 --jinja --port "$PORT" \
  --host 127.0.0.1 >"$OUT.server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { echo "llama-server did not start; see $OUT.server.log" >&2; exit 1; }

mkdir -p "$(dirname "$OUT")"
python3 - "$DATASET" "$LIMIT" "$PORT" "${MAX_TOKENS:-1024}" >"$OUT" <<'PY'
import json, sys, time, urllib.request
dataset, limit, port, max_tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
# The instruction Lookahead's standard prompt puts after the question
# (src-tauri/crates/engine/src/prompt.rs, STANDARD_INSTRUCTION).
instruction = "Please reason step by step, and put your final answer within \\boxed{}."
lines = [l for l in open(dataset, encoding="utf-8") if l.strip()]
for n, line in enumerate(lines[:limit], start=1):
    q = json.loads(line)["question"].strip()
    body = json.dumps({
        "messages": [{"role": "user", "content": f"{q}\n{instruction}"}],
        "temperature": 0, "top_k": 1, "max_tokens": max_tokens, "cache_prompt": True,
    }).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body,
                                 {"Content-Type": "application/json"})
    t0 = time.time()
    reply = json.load(urllib.request.urlopen(req, timeout=1800))
    choice = reply["choices"][0]
    print(json.dumps({
        "line": n,
        "text": choice["message"]["content"],
        "tokens": reply.get("usage", {}).get("completion_tokens", 0),
        "seconds": round(time.time() - t0, 3),
        "cut_off": choice.get("finish_reason") == "length",
    }), flush=True)
    print(f"  q{n} {reply.get('usage', {}).get('completion_tokens', 0)} tokens", file=sys.stderr, flush=True)
PY
echo "== Graded by lookahead bench (same reading of the answer as ours)"
"$BIN/lookahead" bench --grade "$OUT" --grade-label "llama.cpp b11434 (llama-server)"
