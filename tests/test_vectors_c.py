"""The C reference (docs/vectors/c/canonical_sign.c): canonical bytes written from fixed
C values and signed with libsodium's Ed25519 are the published vectors' bytes and
signatures — an implementation in another language, with another Ed25519 library, agrees
with the platform. Built with gcc against libsodium; where either is missing the test
skips locally and fails in CI (CI=true: .ci/run installs libsodium-dev)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs/vectors/c/canonical_sign.c"
DOC = json.loads((ROOT / "docs/vectors/vectors.json").read_text(encoding="utf-8"))


def missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing; CI must have it (.ci/run installs libsodium-dev)", pytrace=False)
    pytest.skip(f"{what} is missing")


def build(tmp_path: Path) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        missing("gcc")
    exe = tmp_path / "canonical_sign"
    done = subprocess.run(
        [str(gcc), "-O2", "-Wall", "-Wextra", "-Werror", "-std=c11", "-o", str(exe), str(SOURCE), "-lsodium"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 and ("sodium.h" in done.stderr or "-lsodium" in done.stderr):
        missing(f"libsodium (gcc: {done.stderr.strip()[-300:]})")
    assert done.returncode == 0, done.stderr
    return exe


def test_the_c_reference_writes_and_signs_as_the_vectors(tmp_path: Path) -> None:
    exe = build(tmp_path)
    key = next(k for k in DOC["keys"] if k["name"] == "ed25519-a")
    done = subprocess.run([str(exe), key["private_key"]], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    by_name = {v["name"]: v for v in DOC["vectors"]}
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "metering-ed25519",
        "metering-non-ascii-ed25519",
        "metering-bounds-ed25519",
    ]
    for line in lines:
        name, canonical_hex, signature_hex = line.split()
        v = by_name[name]
        assert v["key"] == "ed25519-a" and v["expect"] == "valid"
        assert canonical_hex == v["canonical_hex"], name
        assert signature_hex == v["signature_hex"], name


def test_the_c_reference_refuses_a_malformed_key(tmp_path: Path) -> None:
    exe = build(tmp_path)
    for bad in ("", "not base64!", "AAAA"):
        done = subprocess.run([str(exe), bad], capture_output=True, text=True, timeout=30)
        assert done.returncode == 2 and "usage: canonical_sign" in done.stderr
