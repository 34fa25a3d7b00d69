#!/bin/sh
# Export the lock (uv.lock) as the hash-checked requirement files pip installs from:
#   base.txt    pip install anxin                 (contract, Ed25519, check, simulate, edge)
#   server.txt  pip install 'anxin[server,sm2]'   (the live service and console; the Docker image)
#   dev.txt     everything `make test` needs
# usage: sh requirements/export.sh [UV [OUT_DIR]]   (tests/test_packaging.py checks the files are current)
set -eu
uv=${1:-uv}
case "$uv" in */*) uv="$(cd "$(dirname "$uv")" && pwd)/$(basename "$uv")" ;; esac  # a path, before the cd
out=${2:-$(dirname "$0")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")"
export_() { "$uv" export --frozen --no-emit-project --format requirements-txt --quiet --no-header "$@"; }
export_ -o "$out/base.txt"
export_ --extra server --extra sm2 -o "$out/server.txt"
export_ --extra test --extra bench --extra lint -o "$out/dev.txt"
