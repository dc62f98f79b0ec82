#!/usr/bin/env bash
# Runs the tests: formatting and lints (cargo fmt, clippy -D warnings), Rust
# unit and integration tests on real models (engine,
# store, CLI, the desktop shell's commands on Tauri's mock runtime), the UI
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

echo "== Formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== Rust tests"
cargo test --workspace -- --test-threads=2

echo "== UI in Chromium"
(cd ui && npm ci --no-audit --no-fund && npm run test:e2e)

echo "== The real app (WebKitGTK under Xvfb, tiny model)"
bash tests/app-e2e.sh
