#!/usr/bin/env bash
# One command on a fresh Debian machine: system packages, npm packages,
# default models, build; then answers a GSM8K question with the default
# target model and opens the desktop app (when there is a display).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
bash scripts/install-deps.sh
echo "== Building the command line and the desktop app (the first build takes about 30-40 minutes)"
(cd ui && npm ci --no-audit --no-fund && npm run build)
cargo build -p lookahead-cli -p lookahead-app --features lookahead-app/custom-protocol
# The app people run is a copy: `cargo test` rebuilds target/debug/lookahead-app
# without the embedded UI (a dev build that would load http://localhost:1420).
APP="$CARGO_TARGET_DIR/app/lookahead-app"
mkdir -p "$(dirname "$APP")"
cp "$BIN/lookahead-app" "$APP.new" && mv "$APP.new" "$APP"
echo "== Fetching the default models (about 1.7 GB, checked by sha256)"
"$BIN/lookahead" models fetch
"$BIN/lookahead" models list
echo "== A GSM8K question, answered by the default target model"
# GSM8K test question 0.
QUESTION="Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for \$2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?"
echo "Q: $QUESTION"
"$BIN/lookahead" ask "$QUESTION"
echo "(expected: 18)"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "== Opening the desktop app"
  exec "$APP"
else
  echo "== No display here. To open the app on a headless machine: xvfb-run -a $APP"
fi
