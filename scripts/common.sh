# Shared by the setup and test scripts: where builds and models live.
# Builds go outside the clone so a fresh clone (CI, a second checkout)
# reuses the last build; .cargo/config.toml names the same folder.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lookahead/target}"
export CARGO_INCREMENTAL=0
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$CARGO_TARGET_DIR/debug"
