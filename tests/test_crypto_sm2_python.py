"""The pure-Python SM2/SM3 backend (the fallback of a minimal install) gives the same
verdicts as Tongsuo and as the independent gmssl, and a check run on it writes the same
outputs as on Tongsuo and on anxin's compiled verifier (tests/test_sm2_fast.py compares
the three backends signature by signature)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gmssl import func
from gmssl import sm2 as gm
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.crypto import sm2
from anxin.crypto.schemes import SM2_BACKENDS, Sm2Signer, Sm2Verifier

pytestmark = pytest.mark.skipif("tongsuo" not in SM2_BACKENDS, reason="compares with Tongsuo")

SIGNER = Sm2Signer.from_seed(b"pure-python-sm2!" * 2)
KEY = sm2.PublicKey.from_uncompressed(bytes.fromhex(SIGNER.public_key_text))


def test_sm3_known_answers() -> None:
    # GB/T 32905 appendix A.
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def sm3_hex(data: bytes) -> str:
    return sm2.sm3_python(data).hex()


@given(st.binary(max_size=300))
def test_sm3_equals_openssl(data: bytes) -> None:
    if "sm3" not in hashlib.algorithms_available:
        pytest.skip("this OpenSSL has no SM3")
    assert sm2.sm3_python(data) == hashlib.new("sm3", data).digest()


def test_public_key_from_the_private_value() -> None:
    assert sm2.base_mult(SIGNER.private_value) == KEY.point


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 63), st.integers(1, 255))
def test_verdicts_equal_tongsuo(message: bytes, pos: int, flip: int) -> None:
    compiled = Sm2Verifier(SIGNER.public_key_text, backend="tongsuo")
    sig = SIGNER.sign(message)
    bad = sig[:pos] + bytes([sig[pos] ^ flip]) + sig[pos + 1 :]
    for m, s in ((message, sig), (message, bad), (message + b"x", sig)):
        r, s_ = int.from_bytes(s[:32], "big"), int.from_bytes(s[32:], "big")
        assert KEY.verify(m, r, s_) == compiled.verify(m, s)
    assert KEY.verify(message, *split(sig))


def split(sig: bytes) -> tuple[int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")


def test_out_of_range_signatures_fail() -> None:
    for r, s in ((0, 1), (1, 0), (sm2.N, 1), (1, sm2.N), (1, sm2.N - 1)):
        assert not KEY.verify(b"m", r, s)


def test_python_signatures_verify_in_tongsuo_and_gmssl() -> None:
    other = gm.CryptSM2(private_key=f"{SIGNER.private_value:064x}", public_key=SIGNER.public_key_text[2:])
    for k in (1, 2, 12345, sm2.N - 2):
        message = f"record {k}".encode()
        rs = sm2.sign_with_nonce(SIGNER.private_value, KEY.za, message, k)
        assert rs is not None
        sig = rs[0].to_bytes(32, "big") + rs[1].to_bytes(32, "big")
        assert Sm2Verifier(SIGNER.public_key_text, backend="tongsuo").verify(message, sig)
        assert other.verify_with_sm3(sig.hex(), message)
    theirs = bytes.fromhex(other.sign_with_sm3(b"theirs", func.random_hex(other.para_len)))
    assert KEY.verify(b"theirs", *split(theirs))


def test_points_off_the_curve_are_refused() -> None:
    x, y = KEY.point
    with pytest.raises(ValueError):
        sm2.PublicKey((x, (y + 1) % sm2.P))


def test_check_on_the_python_backend_writes_the_same(tmp_path: Path) -> None:
    """`anxin check` on a city with SM2 modules: identical outputs with every backend."""
    data = tmp_path / "city"
    run = [sys.executable, "-m", "anxin.cli"]
    simulate = [*run, "simulate", str(data), "--stations", "4", "--days", "1", "--seed", "3"]
    subprocess.run(simulate, check=True, capture_output=True)
    registry = json.loads((data / "registry.json").read_text())
    assert any(n["key_alg"] == "sm2" for n in registry["nozzles"])
    outs = {}
    for backend in SM2_BACKENDS:
        out = tmp_path / backend
        env = {**os.environ, "ANXIN_SM2_BACKEND": backend}
        check = [*run, "check", str(data), "--out", str(out), "--workers", "0"]
        subprocess.run(check, check=True, env=env, capture_output=True)
        outs[backend] = {p.name: p.read_bytes() for p in sorted(out.glob("*.jsonl"))}
    assert outs["python"] == outs["tongsuo"] == outs.get("c", outs["python"])
    assert outs["python"]["alarms.jsonl"]
