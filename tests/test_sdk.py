"""The vendor SDK (anxin.sdk): keys, records, canonical bytes against an independent RFC
8785 implementation, sign → verify for any record, validation with the platform's
reasons, and the upload client's batches, retries and per-line results (against a
scripted platform; tests/test_vendor_walkthrough.py runs it against a real one)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx2
import msgspec
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anxin import sdk
from anxin.contract.canonical import canonical_reference
from anxin.contract.upload import Result, UploadResult

MAX = 2**53 - 1
FAST = settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
T0, T1 = "2026-03-01T08:15:02.250+08:00", "2026-03-01T08:17:40.125+08:00"
KEYS = {alg: sdk.new_key(alg) for alg in sdk.ALGORITHMS}
OTHER = {alg: sdk.new_key(alg) for alg in sdk.ALGORITHMS}


def meter(**more: Any) -> dict[str, Any]:
    return sdk.metering(
        station_id="S0001",
        nozzle_id="N0001-1",
        seq=7,
        start=T0,
        end=T1,
        pulses=41180,
        k_pulses_per_m3=998700,
        totalizer_start_ml=1000,
        key_id="K1",
        **more,
    )


# ---------------------------------------------------------------- keys and records
@pytest.mark.parametrize("alg", sdk.ALGORITHMS)
def test_a_key_pair_survives_as_text(alg: str) -> None:
    key = KEYS[alg]
    again = sdk.load_key(alg, key.private_key)
    assert again.public_key == key.public_key and again == key
    assert key.registry_entry("K1") == {"key_alg": alg, "key_id": "K1", "public_key": key.public_key}
    assert key.private_key not in repr(key)  # not in logs by accident
    sdk.load_verifier(alg, key.public_key)  # the platform reads the public key as the registry lists it


@pytest.mark.parametrize(
    "alg, bad",
    [("ed25519", "AAAA"), ("ed25519", "not base64"), ("sm2", "zz" * 32), ("sm2", "00" * 32), ("sm2", "ff" * 32)],
)
def test_a_malformed_private_key_is_refused_with_what_is_wrong(alg: str, bad: str) -> None:
    with pytest.raises(sdk.KeyFormatError) as exc:
        sdk.load_key(alg, bad)
    assert "private key" in exc.value.text("en") and "私钥" in exc.value.text("zh")
    with pytest.raises(sdk.KeyFormatError):
        sdk.new_key("rsa")


def test_metering_is_built_as_an_honest_module_computes_it() -> None:
    from datetime import datetime, timedelta, timezone

    cst = timezone(timedelta(hours=8))
    rec = meter(fw="2")
    assert rec["volume_ml"] == round(41180 * 1e6 / 998700) == 41234
    assert rec["totalizer_end_ml"] == 1000 + 41234 and rec["fw"] == "2"
    built = sdk.metering(**{**{k: v for k, v in rec.items() if k in ("station_id", "nozzle_id", "seq", "pulses")},
                            "k_pulses_per_m3": 998700, "totalizer_start_ml": 1000, "key_id": "K1",
                            "start": datetime(2026, 3, 1, 8, 15, 2, 250000, tzinfo=cst),
                            "end": datetime(2026, 3, 1, 8, 17, 40, 125000, tzinfo=cst)})  # fmt: skip
    assert built["start"] == T0 and built["end"] == T1
    with pytest.raises(ValueError, match="no UTC offset"):
        sdk.record("tank_reading", ts=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="unknown kind"):
        sdk.record("sale")
    ev = sdk.event(station_id="S0001", nozzle_id="N0001-1", seq=8, ts=T1, event="seal_open", key_id="K1")
    assert "data" not in ev and sdk.validate(sdk.sign(ev, KEYS["ed25519"])) is None


def test_validate_gives_the_platforms_reasons() -> None:
    assert sdk.validate(meter()) is None  # before signing: checked as it will be once signed
    assert sdk.validate(sdk.sign(meter(), KEYS["sm2"])) is None
    assert "seq" in sdk.validate(meter() | {"seq": MAX + 1})  # type: ignore[operator]
    assert "pulses" in sdk.validate(meter() | {"pulses": -1})  # type: ignore[operator]
    assert "outside" in sdk.validate(meter() | {"mine": -MAX - 1})  # type: ignore[operator]
    assert "volume_ml" in sdk.validate({k: v for k, v in meter().items() if k != "volume_ml"})  # type: ignore[operator]
    assert sdk.validate(meter() | {"mine": 2**70}) is not None  # beyond what JSON may carry here
    assert "nested deeper" in sdk.validate(meter() | {"deep": json.loads("[" * 16 + "]" * 16)})  # type: ignore[operator]
    assert sdk.validate(b"{not json") is not None


def test_sign_sets_the_key_id_and_replaces_an_old_sig() -> None:
    key = KEYS["ed25519"]
    once = sdk.sign(meter(), key, key_id="K2")
    assert once["key_id"] == "K2" and sdk.verify(once, key.public_key, "ed25519")
    again = sdk.sign(once, key)  # the old sig is not signed over
    assert again["sig"] == once["sig"]  # Ed25519: deterministic
    assert sdk.verify(sdk.to_line(again), key.public_key, "ed25519")
    assert not sdk.verify({k: v for k, v in once.items() if k != "sig"}, key.public_key, "ed25519")
    assert not sdk.verify(once | {"sig": "%%%"}, key.public_key, "ed25519")


# ---------------------------------------------------------------- properties
bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX, MAX) | bmp_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(bmp_text, inner, max_size=4),
    max_leaves=12,
)
extras = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map(lambda k: "x_" + k), json_values, max_size=4
)


@FAST
@given(st.sampled_from(sdk.ALGORITHMS), extras, st.integers(0, MAX), bmp_text, st.randoms(use_true_random=False))
def test_sign_then_verify_for_any_record(alg: str, extra: dict, seq: int, text: str, rng) -> None:
    key = KEYS[alg]
    rec = meter(**extra) | {"seq": seq, "note": text}
    signed = sdk.sign(rec, key)
    assert sdk.verify(signed, key.public_key, alg)
    assert sdk.verify(sdk.to_line(signed), key.public_key, alg)  # the line as the platform receives it
    assert not sdk.verify(signed, OTHER[alg].public_key, alg)
    # The canonical bytes are RFC 8785's (an independent implementation) and the contract's json.dumps.
    canonical = sdk.canonical_bytes(signed)
    unsigned = {k: v for k, v in signed.items() if k != "sig"}
    assert canonical == rfc8785.dumps(unsigned) == canonical_reference(unsigned)
    # Any order of the keys verifies the same; any changed value does not.
    items = list(signed.items())
    rng.shuffle(items)
    assert sdk.verify(json.dumps(dict(items), ensure_ascii=False).encode(), key.public_key, alg)
    field = rng.choice(sorted(k for k in signed if k != "sig"))
    changed = signed | {field: [signed[field]]}
    assert not sdk.verify(changed, key.public_key, alg)


# ---------------------------------------------------------------- the upload client
class Platform:
    """A scripted ``POST /v1/records``: ``script`` gives each request's (status, headers)
    or None for a real answer (every line accepted, with its natural key)."""

    def __init__(self, *script: Any, too_large_over: int | None = None) -> None:
        self.script = list(script)
        self.too_large_over = too_large_over
        self.bodies: list[list[bytes]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert request.headers["authorization"] == "Bearer tok"
        assert request.headers["content-type"] == "application/x-ndjson"
        lines = request.content.split(b"\n")
        assert lines[-1] == b""
        lines = lines[:-1]
        self.bodies.append(lines)
        step = self.script.pop(0) if self.script else None
        if self.too_large_over is not None and len(lines) > self.too_large_over:
            return httpx2.Response(413, json={"detail": f"{len(lines)} lines exceed the limit"})
        if step is not None:
            status, headers = step
            return httpx2.Response(status, headers=headers, json={"detail": "scripted"})
        results = [
            Result(line=n, status="accepted", kind="metering", key=str(json.loads(line)["seq"]))
            for n, line in enumerate(lines, 1)
        ]
        body = msgspec.json.encode(
            UploadResult(accepted=len(lines), duplicate=0, quarantined=0, rejected=0, results=results)
        )
        return httpx2.Response(200, content=body, headers={"content-type": "application/json"})


def client(platform: Platform, slept: list[float], **kw: Any) -> sdk.Client:
    http = httpx2.Client(transport=httpx2.MockTransport(platform))
    return sdk.Client("http://platform.test/", "tok", http=http, sleep=slept.append, **kw)


def records(n: int) -> list[dict[str, Any]]:
    return [sdk.sign(meter() | {"seq": i}, KEYS["ed25519"]) for i in range(1, n + 1)]


def test_batches_and_per_line_results_in_the_callers_order() -> None:
    platform, slept = Platform(), []
    report = client(platform, slept, batch=2).upload(records(5))
    assert [len(b) for b in platform.bodies] == [2, 2, 1]
    assert [(r.line, r.key, r.status) for r in report.results] == [(n, str(n), "accepted") for n in range(1, 6)]
    assert report.accepted == 5 and report.refused == [] and slept == []


def test_retry_after_is_honoured_and_transient_failures_back_off() -> None:
    platform, slept = Platform((429, {"Retry-After": "7"}), (503, {}), (502, {})), []
    report = client(platform, slept, backoff_base_s=0.5).upload(records(3))
    assert report.accepted == 3 and len(platform.bodies) == 4
    assert 7 <= slept[0] <= 7.7  # the server's word, with a little jitter
    # then exponential (the 2nd and 3rd failure in a row), in the upper half of the ceiling
    assert 0.5 <= slept[1] <= 1.0 and 1.0 <= slept[2] <= 2.0
    assert sdk.upload.backoff(1, base_s=1, max_s=60, wait_s=10_000) <= 660  # a Retry-After is capped


def test_a_too_large_batch_is_halved_and_a_single_too_large_line_reported() -> None:
    platform, slept = Platform(too_large_over=2), []
    report = client(platform, slept, batch=8).upload(records(5))
    assert [r.line for r in report.results] == [1, 2, 3, 4, 5] and report.accepted == 5
    assert max(len(b) for b in platform.bodies if len(b) <= 2) == 2
    platform = Platform(too_large_over=0)
    report = client(platform, slept, batch=8).upload(records(2))
    assert [(r.line, r.status) for r in report.results] == [(1, "rejected"), (2, "rejected")]
    assert "HTTP 413" in (report.results[0].reason or "")


def test_a_refusal_is_raised_at_once_and_keeps_what_was_decided() -> None:
    platform, slept = Platform(None, (401, {})), []
    with pytest.raises(sdk.UploadError) as exc:
        client(platform, slept, batch=2).upload(records(4))
    assert exc.value.status == 401 and "scripted" in exc.value.detail and slept == []
    assert [r.line for r in exc.value.report.results] == [1, 2]


def test_an_unreachable_platform_fails_after_the_attempts() -> None:
    def down(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    slept: list[float] = []
    c = sdk.Client("http://platform.test", "tok", http=httpx2.Client(transport=httpx2.MockTransport(down)),
                   sleep=slept.append, attempts=3)  # fmt: skip
    with pytest.raises(sdk.UploadError, match="failed 3 times") as exc:
        c.upload(records(1))
    assert exc.value.status is None and len(slept) == 2


def test_an_answer_without_results_is_retried() -> None:
    answers = iter([httpx2.Response(200, text="<html>proxy</html>")])
    platform = Platform()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return next(answers, None) or platform(request)

    slept: list[float] = []
    c = sdk.Client("http://platform.test", "tok", http=httpx2.Client(transport=httpx2.MockTransport(handler)),
                   sleep=slept.append)  # fmt: skip
    assert c.upload(records(1)).accepted == 1 and len(slept) == 1


def test_a_record_with_a_line_break_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="line break"):
        client(Platform(), []).upload([b'{"kind":"metering"}\n{}'])


def test_the_sdk_imports_nothing_of_the_server_side() -> None:
    probe = (
        "import sys, anxin.sdk\n"
        "server = ('fastapi', 'starlette', 'pydantic', 'uvicorn', 'sqlalchemy', 'psycopg', 'jinja2',"
        " 'anxin.serve', 'anxin.store', 'anxin.ingest', 'anxin.web', 'anxin.engine', 'anxin.edge')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in server or m.startswith(server)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
