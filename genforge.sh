#!/bin/sh
# The README's two commands on a fresh Debian 12 machine, which has neither make nor a compiler:
#   ./genforge.sh demo    installs what building needs, builds, runs the main job on packaged data
#   ./genforge.sh test    installs what building and testing need, builds, runs every test (CI runs exactly this)
# Any other argument is passed to make (e.g. ./genforge.sh bench, which also installs the benchmark peers).
set -eu
cd "$(dirname "$0")"
if ! command -v make >/dev/null 2>&1; then
  echo "genforge.sh: installing make (apt)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends make
fi
exec make "$@"
