#!/usr/bin/env bash
# The real desktop app (WebKitGTK) under a virtual display, driven through
# WebKitWebDriver (what tauri-driver runs on Linux): first its first run with
# no models and no network (tests/app/first-run.mjs), then, with the tiny
# model imported, a real question with steps and the speed line, a restart
# that finds the answer in history and on the dashboard, dark colours and
# models on a server (tests/app/e2e.mjs). Screenshots go to
# tests/app/screenshots/.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
cd "$ROOT"

(cd ui && [ -d node_modules ] || npm ci --no-audit --no-fund; cd "$ROOT/ui" && npm run build >/dev/null)
cargo build -p lookahead-cli -p lookahead-app --features lookahead-app/custom-protocol
# `cargo test` rebuilds target/debug/lookahead-app without the embedded UI:
# run a copy.
mkdir -p "$CARGO_TARGET_DIR/e2e"
cp "$BIN/lookahead-app" "$CARGO_TARGET_DIR/e2e/lookahead-app"

DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"' EXIT
installed() { # role -> path of the verified model, or fail with how to get it
  "$BIN/lookahead" models list --json | ROLE="$1" node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s).find(m=>m.role===process.env.ROLE&&m.verified);if(!m){console.error(`${process.env.ROLE} model missing: run lookahead models fetch --tiny`);process.exit(1)}console.log(m.path)})'
}
TINY="$(installed tiny)"
EMBEDDING="$(installed embedding)"
export LOOKAHEAD_DATA_DIR="$DATA"
# The embedding judge, shared read-only with the user's own model folder.
mkdir -p "$DATA/models"
ln -s "$EMBEDDING" "$DATA/models/$(basename "$EMBEDDING")"
export APP_BINARY="$CARGO_TARGET_DIR/e2e/lookahead-app"
export SCREENSHOTS="$ROOT/tests/app/screenshots"
mkdir -p "$SCREENSHOTS"
rm -f "$SCREENSHOTS"/failed-*.png
# Runs a script of tests/app against the real app on a 1366×768 virtual
# display, through WebKitWebDriver.
drive() {
  SCRIPT="$1" timeout 900 xvfb-run -a -s "-screen 0 1366x768x24" bash -c '
    TAURI_WEBVIEW_AUTOMATION=true WebKitWebDriver --port=4444 >/tmp/lookahead-webdriver.log 2>&1 &
    driver=$!
    for _ in $(seq 50); do curl -s localhost:4444/status >/dev/null && break; sleep 0.2; done
    node "tests/app/$SCRIPT"
    rc=$?
    kill -TERM $driver; wait $driver 2>/dev/null
    exit $rc
  '
}

# First run: no main or helper model yet, and no network (no package index
# answers, no Python to fall back on).
echo "== The real app's first run (no models, offline)"
FIRST_RUN=0
LOOKAHEAD_PYPI_URL="http://127.0.0.1:9/simple" LOOKAHEAD_PYTHON="$DATA/no-python-here" \
  drive first-run.mjs || FIRST_RUN=$?

# The tiny model plays both parts, so step speculation runs for real.
"$BIN/lookahead" models import "$TINY" --role target
"$BIN/lookahead" models import "$TINY" --role draft

# A real inference server for the "models on a server" step: llama.cpp's
# llama-server (built by scripts/test.sh) serving the tiny model.
LLAMA_SERVER="${LOOKAHEAD_LLAMA_SERVER:-${LOOKAHEAD_CACHE:-/var/tmp/lookahead}/llama.cpp/build/bin/llama-server}"
[ -x "$LLAMA_SERVER" ] || { echo "llama-server is not built at $LLAMA_SERVER: run LLAMA_TARGET=llama-server bash scripts/llama-bench.sh --build-only" >&2; exit 1; }
LLAMA_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$LLAMA_SERVER" -m "$TINY" -t 1 -c 4096 -np 4 --metrics --host 127.0.0.1 --port "$LLAMA_PORT" >/dev/null 2>&1 &
LLAMA_PID=$!
trap 'kill $LLAMA_PID 2>/dev/null; rm -rf "$DATA"' EXIT
export LLAMA_SERVER_URL="http://127.0.0.1:$LLAMA_PORT"
for _ in $(seq 120); do curl -sf "$LLAMA_SERVER_URL/health" >/dev/null && break; sleep 0.5; done

# In British English: the dates step checks the app follows the locale.
echo "== The real app with its models"
LANG=en_GB.UTF-8 LANGUAGE=en_GB APP_LOCALE=en-GB drive e2e.mjs
exit "$FIRST_RUN"
