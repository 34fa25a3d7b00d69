"""Writes docs/vectors/vectors.json, the published test vectors (contract v1.1 §E), with
the vendor SDK (anxin.sdk). Deterministic: fixed keys (derived from fixed labels; the SM2
key ``sm2-a`` is GB/T 32918.5's example key) and, for SM2, a fixed nonce per vector (from
SHA-256 of the key and the message): the same file every run. A device signs SM2 with a
fresh random nonce; only these vectors fix it, so that a vendor can reproduce them.

    python docs/vectors/generate.py            # rewrite docs/vectors/vectors.json
    python docs/vectors/generate.py --out F    # write elsewhere (the test compares)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from anxin import sdk
from anxin.crypto import sm2
from anxin.crypto.schemes import Ed25519Signer, Sm2Signer

HERE = Path(__file__).resolve().parent
MAX = 2**53 - 1  # contract v1.1 §A: every integer within ±(2⁵³ − 1)
GB_T_32918_5_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"anxin test vector key {label}".encode()).digest()


def keys() -> dict[str, dict[str, Any]]:
    made: dict[str, Ed25519Signer | Sm2Signer] = {
        "ed25519-a": Ed25519Signer.from_seed(_seed("ed25519-a")),
        "ed25519-b": Ed25519Signer.from_seed(_seed("ed25519-b")),
        "sm2-a": Sm2Signer(GB_T_32918_5_D),
        "sm2-b": Sm2Signer.from_seed(_seed("sm2-b")),
    }
    return {
        name: {
            "name": name,
            "alg": s.alg,
            "key_id": "K-" + name.upper(),
            "private_key": s.private_key_text,
            "public_key": s.public_key_text,
            "signer": s,
        }
        for name, s in made.items()
    }


def nonce(private_key: str, message: bytes) -> int:
    """The SM2 nonce of a vector: fixed by the key and the message (vectors only)."""
    digest = hashlib.sha256(b"anxin test vector nonce\0" + bytes.fromhex(private_key) + message).digest()
    return int.from_bytes(digest, "big") % (sm2.N - 1) + 1


def signature(key: dict[str, Any], message: bytes) -> tuple[bytes, int | None]:
    s = key["signer"]
    if isinstance(s, Sm2Signer):
        k = nonce(key["private_key"], message)
        while (sig := s.sign_with_nonce(message, k)) is None:  # (practically never)
            k = k % (sm2.N - 2) + 1
        return sig, k
    return s.sign(message), None


# ---------------------------------------------------------------- the records
T0 = "2026-03-01T08:15:02.250+08:00"
T1 = "2026-03-01T08:17:40.125+08:00"
ESCAPES = 'quote " backslash \\ slash / newline \n tab \t cr \r bs \b ff \f nul-less \u0001 \u001f del \u007f ls \u2028'


def records(key_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, about, unsigned record) of each signed kind."""
    m = dict(station_id="S0001", nozzle_id="N0001-1", key_id=key_id)
    meter = sdk.metering(
        **m, seq=1042, start=T0, end=T1, pulses=41180, k_pulses_per_m3=998700, totalizer_start_ml=123456789
    )
    out = [
        ("metering", "a metering record as a module sends it", meter),
        (
            "metering-unknown-fields",
            "unknown fields (kept and signed): nested object, array, true/false/null, a non-ASCII key",
            {
                **meter,
                "fw": "2.3.1",
                "module": {"flags": [1, 0, True, None], "serial": "MX-0042", "说明": "出厂", "z": {"a": []}},
                "ext_false": False,
                "ext_null": None,
                "A_upper": 1,
            },
        ),
        (
            "metering-non-ascii",
            "non-ASCII text (not escaped, UTF-8) and every escape JSON needs",
            {
                **meter,
                "station_id": "苏州工业园区加油站S0001",
                "note": "加油 92# — 已付款 ✓ é 𠀋 😀",
                "escapes": ESCAPES,
            },
        ),
        (
            "metering-bounds",
            "integers at the bounds of v1.1 §A: 2⁵³ − 1 and −(2⁵³ − 1), and zero",
            {
                **sdk.metering(
                    **m,
                    seq=MAX,
                    start=T0,
                    end=T1,
                    pulses=MAX,
                    k_pulses_per_m3=MAX,
                    volume_ml=1_000_000,
                    totalizer_start_ml=MAX - 1_000_000,
                ),
                "ext_min": -MAX,
                "ext_zero": 0,
            },
        ),
        (
            "metering-negative-temperature",
            "negative temperatures (milli-degrees Celsius) in the module's own fields",
            {**meter, "fuel_temp_mc": -18250, "ambient_temp_mc": -40000, "temp_log_mc": [-1, -999, 0, 25500]},
        ),
        (
            "event-k-factor-change",
            "an event with data",
            sdk.event(**m, seq=1043, ts=T1, event="k_factor_change", data={"old": 998700, "new": 1001200}),
        ),
        (
            "event-non-ascii",
            "an event whose data holds non-ASCII text",
            sdk.event(
                **m,
                seq=1044,
                ts=T1,
                event="seal_open",
                data={"reason": "铅封开启：维修（工单 WO-17）", "操作员": "张三"},
            ),
        ),
        (
            "event-bounds-negative-temperature",
            "an event at the bounds, with a negative temperature in its data",
            sdk.event(
                **m,
                seq=MAX,
                ts=T1,
                event="power_loss",
                data={"temp_mc": -25000, "uptime_s": MAX, "offset": -MAX},
            ),
        ),
    ]
    out.append(
        (
            "verification",
            "a verification signed by an institute (v1.1 §C), non-ASCII text, negative temperatures",
            sdk.record(
                "verification",
                station_id="S0001",
                nozzle_id="N0001-1",
                ts="2026-03-02T10:00:00.000+08:00",
                type="periodic",
                org="浙江省计量科学研究院",
                certificate_no="检字第2026-0301号",
                k_pulses_per_m3=1001200,
                valid_until="2026-09-02T10:00:00.000+08:00",
                runs=[
                    {
                        "flow_ml_per_min": 40000,
                        "standard_ml": 20000,
                        "indicated_ml": 20036,
                        "standard_temp_mc": -5250,
                        "dispenser_temp_mc": -4800,
                    },
                    {
                        "flow_ml_per_min": 40000,
                        "standard_ml": 20000,
                        "indicated_ml": 20030,
                        "standard_temp_mc": -5100,
                        "dispenser_temp_mc": -4750,
                    },
                ],
                institute_id="ZJIM",
                key_id=key_id,
            ),
        )
    )
    return out


def reordered(value: Any) -> Any:
    """The same value with every object's keys in reverse order (a different line)."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


def line_of(rec: dict[str, Any]) -> str:
    return sdk.to_line(rec).decode()


def vector(name: str, about: str, rec: dict[str, Any], key: dict[str, Any], **more: Any) -> dict[str, Any]:
    canonical = sdk.canonical_bytes(rec)
    sig, k = signature(key, canonical)
    signed = {**rec, "sig": base64.b64encode(sig).decode()}
    out: dict[str, Any] = {
        "name": name,
        "about": about,
        "kind": rec["kind"],
        "alg": key["alg"],
        "key": key["name"],
        "verify_with": key["name"],
        "expect": "valid",
        "record": signed,
        "line": line_of(signed),
        "canonical_hex": canonical.hex(),
        "signature_hex": sig.hex(),
    }
    if k is not None:
        out["nonce_hex"] = f"{k:064x}"
    out.update(more)
    return out


def must_fail(base: dict[str, Any], other_key: dict[str, Any]) -> list[dict[str, Any]]:
    """From a valid vector: a changed byte, a wrong key, a changed signature (invalid); the
    same record with its keys re-ordered (valid: the same canonical bytes)."""
    signed = base["record"]
    prefix = base["name"]
    changed = {**signed, "volume_ml": signed["volume_ml"] + 1}  # one byte of the line: …1 → …2
    changed["totalizer_end_ml"] = signed["totalizer_end_ml"]
    assert len(line_of(changed)) == len(base["line"])
    bad_sig = bytearray(bytes.fromhex(base["signature_hex"]))
    bad_sig[10] ^= 0x01
    flipped = {**signed, "sig": base64.b64encode(bytes(bad_sig)).decode()}
    common = {k: base[k] for k in ("kind", "alg", "key")}
    return [
        {
            "name": prefix + "-changed-byte",
            "about": "volume_ml one more than signed: the signature must not verify",
            **common,
            "verify_with": base["key"],
            "expect": "invalid",
            "record": changed,
            "line": line_of(changed),
            "canonical_hex": sdk.canonical_bytes(changed).hex(),
            "signature_hex": base["signature_hex"],
        },
        {
            "name": prefix + "-wrong-key",
            "about": f"signed by {base['key']}, verified with {other_key['name']}: must not verify",
            **common,
            "verify_with": other_key["name"],
            "expect": "invalid",
            "record": signed,
            "line": base["line"],
            "canonical_hex": base["canonical_hex"],
            "signature_hex": base["signature_hex"],
        },
        {
            "name": prefix + "-changed-signature",
            "about": "one bit of the signature flipped: must not verify",
            **common,
            "verify_with": base["key"],
            "expect": "invalid",
            "record": flipped,
            "line": line_of(flipped),
            "canonical_hex": base["canonical_hex"],
            "signature_hex": bytes(bad_sig).hex(),
        },
        reordered_vector(base),
    ]


def reordered_vector(base: dict[str, Any]) -> dict[str, Any]:
    """The same record with its keys in reverse order at every level: valid."""
    moved = reordered(base["record"])
    assert line_of(moved) != base["line"]
    return {
        "name": base["name"] + "-reordered",
        "about": "the same record, its keys in reverse order at every level: the same canonical bytes, verifies",
        **{k: base[k] for k in ("kind", "alg", "key", "verify_with")},
        "expect": "valid",
        "record": moved,
        "line": line_of(moved),
        "canonical_hex": base["canonical_hex"],
        "signature_hex": base["signature_hex"],
        **({"nonce_hex": base["nonce_hex"]} if "nonce_hex" in base else {}),
    }


def document() -> dict[str, Any]:
    ks = keys()
    vectors: list[dict[str, Any]] = []
    for alg in ("ed25519", "sm2"):
        key, other = ks[f"{alg}-a"], ks[f"{alg}-b"]
        made = [vector(f"{name}-{alg}", about, rec, key) for name, about, rec in records(key["key_id"])]
        by_name = {v["name"]: v for v in made}
        vectors += made
        vectors += must_fail(by_name[f"metering-{alg}"], other)
        vectors += [reordered_vector(by_name[f"{name}-{alg}"]) for name in ("metering-unknown-fields", "verification")]
    return {
        "about": (
            "anxin test vectors (data contract v1.1 §E): canonical bytes are RFC 8785 (JCS) of the record "
            "without sig; sig is base64 of the 64-byte Ed25519 signature or SM2 r‖s (SM3, user id "
            "1234567812345678) over them. line: the record as sent; expect: whether its sig verifies with "
            "the key verify_with. SM2 vectors give the nonce used (nonce_hex) so they can be reproduced; "
            "a device signs with a fresh random nonce. Made by docs/vectors/generate.py; test: "
            "tests/test_vectors.py. The keys are public test keys: never use them in a device."
        ),
        "contract": "v1.1",
        "sm2_user_id": sdk.SM2_USER_ID.decode(),
        "keys": [{k: v for k, v in key.items() if k != "signer"} for key in ks.values()],
        "vectors": vectors,
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "vectors.json")
    args = ap.parse_args()
    args.out.write_text(render(document()), encoding="utf-8")


if __name__ == "__main__":
    main()
