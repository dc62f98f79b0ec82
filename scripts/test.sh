#!/usr/bin/env bash
# Runs the tests: formatting and lints (cargo fmt, clippy -D warnings), Rust
# unit and integration tests on real models (engine,
# store, CLI, the desktop shell's commands on Tauri's mock runtime; server
# models against a real llama-server built from the pinned llama.cpp), the UI
# in Chromium (Playwright, IPC mocked) and the real app under Xvfb.
# Fetches the models the tests need first (tiny test model + defaults).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
bash scripts/install-deps.sh

echo "== Building"
cargo build -p lookahead-cli
echo "== Fetching test models"
"$BIN/lookahead" models fetch --tiny
echo "== The real inference server the server tests talk to (llama.cpp's llama-server, cached)"
LLAMA_TARGET=llama-server bash scripts/llama-bench.sh --build-only
export LOOKAHEAD_LLAMA_SERVER="${LOOKAHEAD_CACHE:-/var/tmp/lookahead}/llama.cpp/build/bin/llama-server"

echo "== Formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== Rust tests"
cargo test --workspace -- --test-threads=2

echo "== UI in Chromium"
(cd ui && npm ci --no-audit --no-fund && npm run test:e2e)

echo "== The real app (WebKitGTK under Xvfb, tiny model)"
bash tests/app-e2e.sh
