#!/bin/sh
# Install anxin from a built wheel into a new virtual environment, its dependencies
# from the lock file (hash-checked, nothing resolved on the spot). CI installs the wheel
# it tests with this script, and the Docker image runs it: what users install is what
# is tested.
#
#   deploy/install.sh VENV WHEEL [server|base]
#
# server (default): the live service, console, reports and the compiled SM2 backend
#                   (requirements/server.txt, i.e. anxin[server,sm2]);
# base:             the minimal install (contract, Ed25519, check, simulate, edge),
#                   what a station gateway needs (requirements/base.txt).
set -eu
venv=$1
wheel=$2
set_=${3:-server}
case "$set_" in server | base) ;; *) echo "install.sh: unknown set '$set_' (server | base)" >&2; exit 2 ;; esac
lock="$(cd "$(dirname "$0")/.." && pwd)/requirements/$set_.txt"
python=${PYTHON:-python3}
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$wheel"
"$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
