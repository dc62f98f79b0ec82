#!/usr/bin/env bash
# Installs the system packages Lookahead needs to build, run and test on
# Debian (as root or through sudo). Safe to run again: apt skips what is there.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
packages=(
  # Rust build (mistral.rs needs only a C toolchain)
  build-essential pkg-config libssl-dev file curl ca-certificates
  # Tauri 2 on Linux
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev
  libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libxdo-dev
  # pip (the llama.cpp source for the benchmark/server builds; models download
  # without it) and the web UI (node)
  python3 python3-pip nodejs npm
  # tests: the UI in Chromium, the real app in WebKit under a virtual display
  # (in British English, to check dates follow the locale: locales)
  chromium xvfb xauth webkit2gtk-driver locales
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A python3/node/npm that came another way (pyenv, nodesource) is fine too.
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    python3|python3-pip) command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 && continue ;;
    nodejs|npm) command -v node >/dev/null && command -v npm >/dev/null && continue ;;
  esac
  filtered+=("$p")
done
if [ ${#filtered[@]} -gt 0 ]; then
  echo "Installing system packages: ${filtered[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}"
fi
# The real-app test runs the app in British English (day-first dates).
if ! locale -a 2>/dev/null | grep -qi '^en_GB\.utf-\?8$'; then
  echo "Adding the en_GB.UTF-8 locale (for the real-app test)"
  $SUDO localedef -i en_GB -f UTF-8 en_GB.UTF-8
fi
# cmake builds llama.cpp's llama-server, the real inference server the
# tests talk to. Any cmake will do: PyPI's wheel (no apt needed), else apt.
if ! command -v cmake >/dev/null; then
  echo "Installing cmake (for building llama.cpp's server)"
  python3 -m pip install --quiet cmake 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages cmake 2>/dev/null \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends cmake; }
  hash -r
fi
if ! command -v cargo >/dev/null; then
  echo "Installing Rust (rustup, stable)"
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
# The test command checks formatting and lints: the minimal profile has
# neither tool.
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  echo "Adding rustfmt and clippy"
  rustup component add rustfmt clippy
fi
