#!/usr/bin/env bash
# Installs every Debian 12 package that building and testing Eddy needs.
# Idempotent and non-interactive; run as root (or through sudo).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries the build links
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev librdkafka-dev libspdlog-dev libfmt-dev
  libcxxopts-dev libyaml-cpp-dev libcpp-httplib-dev nlohmann-json3-dev libssl-dev
  libhiredis-dev libpq-dev
  # servers and tools the connector tests start or call
  redis-server postgresql kcat
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev curl python3 procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
