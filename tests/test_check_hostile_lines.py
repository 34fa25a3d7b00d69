"""``anxin check`` on hostile lines (issue 11, finding 2): the same rejects as the live
path, exit 0, in one process and sharded; and a shard that dies ends the run at once
with a one-line reason and exit 2 — never a hang (each run in a subprocess, under a
timeout, so that a hang fails the test instead of blocking CI)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from factory import T0, City

from anxin.contract.times import US_PER_MIN
from anxin.ingest.service import IngestService
from anxin.store.database import Store

TIMEOUT_S = 90


def _hostile(city: City) -> list[bytes]:
    """Finding 2's lines among honest ones (station S1 and S2, so both shards get some)."""
    m1, m2 = city.metering("S1-N1", T0), city.metering("S2-N1", T0)
    deep = msgspec.json.encode(city.sale(m1))[:-1] + b',"x_note":' + b"[" * 5000 + b"]" * 5000 + b"}"
    return [
        msgspec.json.encode(m1),
        deep,
        *_beyond_64_bits(city),
        msgspec.json.encode(city.sale(m1)),
        msgspec.json.encode(m2),
        msgspec.json.encode(city.sale(m2)),
        b'{"kind":"settlement","station_id":"S1","x_note":"' + b"x" * 70_000 + b'"}',  # over 64 KiB
    ]


def _beyond_64_bits(city: City) -> list[bytes]:
    return [
        msgspec.json.encode({**city.sale(city.metering("S1-N1", T0 + US_PER_MIN)), "volume_ml": 2**64}),
        msgspec.json.encode({**city.sale(city.metering("S1-N1", T0 + 2 * US_PER_MIN)), "volume_ml": 2**62}),
        msgspec.json.encode({**city.metering("S2-N1", T0 + 3 * US_PER_MIN), "seq": 2**64, "sig": "AAAA"}),
    ]


def _honest(city: City) -> list[bytes]:
    m1, m2 = city.metering("S1-N1", T0), city.metering("S2-N1", T0)
    return [msgspec.json.encode(r) for r in (m1, city.sale(m1), m2, city.sale(m2))]


def _data_dir(tmp_path: Path, make=_hostile) -> tuple[Path, City, list[bytes]]:
    city = City()
    lines = make(city)
    d = tmp_path / "data"
    d.mkdir()
    (d / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    (d / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return d, city, lines


def _run(args: list[str], *, patch: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """``anxin ARGS`` in a subprocess (``patch``: Python run first, in that process)."""
    code = (patch or "") + "\nimport sys\nfrom anxin.cli import main\nsys.argv = ['anxin', *sys.argv[1:]]\nmain()\n"
    started = time.monotonic()
    try:
        r = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=TIMEOUT_S, env=_env()
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"anxin {' '.join(args)} did not end within {TIMEOUT_S} s (a hang)")
    return r, time.monotonic() - started


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "ANXIN_LANG": "en", "COLUMNS": "200"}


@pytest.mark.parametrize("workers", ["0", "2"])
def test_check_gives_the_live_paths_rejects_and_exits_0(tmp_path: Path, workers: str) -> None:
    d, city, lines = _data_dir(tmp_path)
    r, _ = _run(["check", str(d), "--out", str(tmp_path / "out"), "--workers", workers])
    assert r.returncode == 0, r.stderr[-2000:]
    got = {
        x["line"]: x["reason"]
        for x in map(msgspec.json.decode, (tmp_path / "out" / "rejects.jsonl").read_bytes().splitlines())
    }
    # the live path, the same lines (each station's through its own upload)
    svc = IngestService(Store(str(tmp_path / "db.sqlite")))
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="t", reason="t")
    live: dict[int, str] = {}
    for station in ("S1", "S2"):
        numbered = [(n, ln) for n, ln in enumerate(lines, 1) if f'"station_id":"{station}"'.encode() in ln[:200]]
        res = svc.ingest(station, [ln for _, ln in numbered], source="t")
        for (n, _), x in zip(numbered, res.results):
            if x.status == "rejected":
                live[n] = x.reason or ""
    svc.store.close()
    assert got == live and sorted(got) == [2, 3, 4, 5, 9]
    assert got[9] == f"line of {len(lines[8])} bytes exceeds the 65536-byte limit"
    assert "nested deeper than 16 levels" in got[2] and "`$.volume_ml`" in got[3] and "`$.seq`" in got[5]


def test_sharded_check_of_values_beyond_64_bits_ends_with_their_rejects(tmp_path: Path) -> None:
    # (before the bounds: their alarms' evidence no longer encoded, both shards died, the run hung)
    d, _city, _lines = _data_dir(tmp_path, lambda c: _honest(c) + _beyond_64_bits(c))
    r, _ = _run(["check", str(d), "--out", str(tmp_path / "out"), "--workers", "2"])
    assert r.returncode == 0, r.stderr[-2000:]
    rejects = (tmp_path / "out" / "rejects.jsonl").read_bytes().splitlines()
    assert [msgspec.json.decode(x)["line"] for x in rejects] == [5, 6, 7]


PATCH = """
import os, signal
from anxin.engine import core
_feed = core.Engine.feed
def feed(self, p, verdict=None, **kw):
    if getattr(p.rec, "nozzle_id", "") == "S2-N1":
        how = {how!r}
        if how == "raise":
            raise ZeroDivisionError("a bug in the engine")
        if how == "exit":
            os._exit(3)
        os.kill(os.getpid(), signal.SIGKILL)
    return _feed(self, p, verdict, **kw)
core.Engine.feed = feed
"""


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("raise", "failed on a.jsonl line 3: ZeroDivisionError: a bug in the engine"),
        ("exit", "died (exit status 3)"),
        ("kill", "died (killed by SIGKILL)"),
    ],
)
def test_a_dead_shard_ends_the_run_at_once_with_a_reason(tmp_path: Path, how: str, why: str) -> None:
    d, _city, _lines = _data_dir(tmp_path, _honest)
    r, took = _run(["check", str(d), "--out", str(tmp_path / "out"), "--workers", "2"], patch=PATCH.format(how=how))
    assert r.returncode == 2, (r.returncode, r.stdout[-1000:], r.stderr[-2000:])
    assert why in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # one line
    assert took < 60


def test_the_engine_failing_in_one_process_is_exit_2_with_where(tmp_path: Path) -> None:
    d, _city, _lines = _data_dir(tmp_path, _honest)
    r, _ = _run(["check", str(d), "--out", str(tmp_path / "out"), "--workers", "0"], patch=PATCH.format(how="raise"))
    assert r.returncode == 2 and "the engine failed on a.jsonl line 3: ZeroDivisionError" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
