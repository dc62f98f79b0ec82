#!/usr/bin/env bash
# The measurements behind BENCHMARKS.md, one after another so each sees a
# quiet machine: llama.cpp's reference figures, the executor against
# mistral.rs, the kernels alone, then Lookahead Reasoning on GSM8K.
# Slow (≈ 25 minutes on 2 cores, plus ≈ 10 to build llama-bench the first
# time) and never part of the tests. Outputs go to $OUT (default
# /var/tmp/lookahead/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/var/tmp/lookahead/bench}"
mkdir -p "$OUT"
cargo build -p lookahead-cli -p lookahead-engine -p lookahead-executor --examples --bins
BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug"

bash scripts/llama-bench.sh | tee "$OUT/llama.txt"
"$BIN/examples/executor_bench" | tee "$OUT/executor.txt"
"$BIN/examples/kernel_bench" | tee "$OUT/kernels.txt"
"$BIN/lookahead" bench --modes plain,sd,lr,sd+lr --judge embed --proposer draft \
  --limit 10 --with-draft-alone --markdown "$OUT/lookahead-embed.md" | tee "$OUT/lookahead-embed.txt"
"$BIN/lookahead" bench --modes plain,sd --proposer ngram --limit 10 \
  --markdown "$OUT/sd-ngram.md" | tee "$OUT/sd-ngram.txt"
echo "Results in $OUT"
