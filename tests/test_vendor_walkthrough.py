"""docs/vendors.md, run as written: its Python blocks, in order, as one program in a
fresh interpreter where nothing of the server side can be imported (the vendor's
minimal install), against a real ``anxin serve`` — the key registered through the admin
API, the signed record accepted, a forged one quarantined, a broken one rejected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from factory import one_nozzle_registry
from live import ADMIN, Server

from anxin import sdk
from anxin.crypto.schemes import generate_signer
from anxin.store.database import Store

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs/vendors.md"
# What `pip install anxin` does not bring (the server extra) and anxin's server side.
SERVER_SIDE = (
    "fastapi starlette pydantic uvicorn sqlalchemy alembic psycopg prometheus_client jinja2 multipart argon2 "
    "reportlab segno openpyxl nats anxin.serve anxin.store anxin.ingest anxin.web anxin.workflow "
    "anxin.supervision anxin.notify anxin.cluster anxin.engine anxin.edge"
).split()


def blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)


def registry(old_key: str) -> dict:
    return one_nozzle_registry(
        key_id="OLD-MODULE", public_key=old_key, unit_price_fen=790, verified_until="2027-01-01T00:00:00.000+08:00"
    )


def test_the_page_has_the_walkthroughs_steps() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for step in ("Generate a key", "Register it", "Build and sign", "test vectors", "Upload", "each line's result"):
        assert step in text
    assert len(blocks()) >= 6


def test_a_vendor_follows_docs_vendors_md_against_anxin_serve(tmp_path: Path) -> None:
    reg = tmp_path / "registry.json"
    reg.write_text(json.dumps(registry(generate_signer("ed25519").public_key_text), ensure_ascii=False))
    server = Server(str(tmp_path / "anxin.sqlite"), reg, tmp_path / "serve.log")
    server.start()
    try:
        prelude = f"import sys\nfor _m in {SERVER_SIDE!r}:\n    sys.modules[_m] = None  # not in the minimal install\n"
        done = subprocess.run(
            [sys.executable, "-c", prelude + "\n".join(blocks())],
            cwd=ROOT,
            env={**os.environ, "ANXIN_SERVER": server.url, "ANXIN_ADMIN_TOKEN": ADMIN},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        out = done.stdout
        assert "1 accepted" in out  # step 6's first print: line 1, accepted
        # The key the page registered is the nozzle's now; the old one retired, kept.
        doc = httpx2.get(server.url + "/v1/registry", headers={"Authorization": f"Bearer {ADMIN}"}).json()
        (nozzle,) = doc["nozzles"]
        assert nozzle["key_id"] == "VENDORX-MX42-000123"
        assert [k["key_id"] for k in nozzle["previous_keys"]] == ["OLD-MODULE"]
        assert nozzle["public_key"] in out  # the public key step 1 printed
    finally:
        server.stop()
    store = Store(str(tmp_path / "anxin.sqlite"), migrate=False)
    try:
        counts = store.counts()
    finally:
        store.close()
    # accepted, quarantined, the sale (7)
    assert sum(v for k, v in counts.items() if k.startswith("ledger_")) == 3, counts


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
def test_anxin_serve_judges_the_published_vectors_as_they_say(tmp_path: Path, alg: str) -> None:
    """The nozzle registered with the vectors' key ``<alg>-a``: its signed module records
    (metering, events) are accepted — the re-ordered one a duplicate of its original —
    and the must-fail ones quarantined (signature) whatever their content."""
    doc = sdk.vectors.load(ROOT / "docs/vectors/vectors.json")
    key = doc["keys_by_name"][f"{alg}-a"]
    reg = registry(key["public_key"])
    reg["nozzles"][0].update(key_alg=alg, key_id=key["key_id"])
    (tmp_path / "registry.json").write_text(json.dumps(reg, ensure_ascii=False))
    server = Server(str(tmp_path / "anxin.sqlite"), tmp_path / "registry.json", tmp_path / "serve.log")
    server.start()
    try:
        station = httpx2.post(f"{server.url}/v1/stations/S0001/token", headers={"Authorization": f"Bearer {ADMIN}"})
        mine = [
            v
            for v in doc["vectors"]
            if v["alg"] == alg and v["kind"] != "verification" and v["record"]["station_id"] == "S0001"
        ]
        valid = [v for v in mine if v["expect"] == "valid" and v["verify_with"] == v["key"]]
        invalid = [v for v in mine if v["expect"] == "invalid" and v["verify_with"] == v["key"]]
        with sdk.Client(server.url, station.json()["token"]) as client:
            report = client.upload([v["line"].encode() for v in valid + invalid])
    finally:
        server.stop()
    got = {v["name"]: r for v, r in zip(valid + invalid, report.results, strict=True)}
    for v in valid:
        want = "duplicate" if v["name"].endswith("-reordered") else "accepted"
        assert got[v["name"]].status == want, (v["name"], got[v["name"]])
    for v in invalid:
        assert got[v["name"]].status == "quarantined", (v["name"], got[v["name"]])
        assert "signature does not verify" in (got[v["name"]].reason or "")
    assert len(valid) >= 7 and len(invalid) == 2


def test_the_client_honours_anxin_serves_retry_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One upload a second for the station: the client, sending a batch per record, is told
    429 with Retry-After: 1 and waits that long (not its 0.05 s backoff), and every record
    arrives once."""
    monkeypatch.setenv("ANXIN_RATE_PER_STATION", "1")
    monkeypatch.setenv("ANXIN_BURST_PER_STATION", "1")
    (tmp_path / "registry.json").write_text(json.dumps(registry(generate_signer("ed25519").public_key_text)))
    server = Server(str(tmp_path / "anxin.sqlite"), tmp_path / "registry.json", tmp_path / "serve.log")
    server.start()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)  # the client's own wait, measured: the platform's bucket refills meanwhile

    readings = [
        sdk.record(
            "tank_reading",
            station_id="S0001",
            tank_id="S0001-T1",
            ts=f"2026-03-01T08:{m:02d}:00.000+08:00",
            level_um=1_500_000,
            water_um=0,
            temp_mc=-3500,
        )
        for m in range(3)
    ]
    try:
        station = httpx2.post(f"{server.url}/v1/stations/S0001/token", headers={"Authorization": f"Bearer {ADMIN}"})
        with sdk.Client(server.url, station.json()["token"], batch=1, backoff_base_s=0.05, sleep=sleep) as client:
            report = client.upload(readings)
    finally:
        server.stop()
    assert [r.status for r in report.results] == ["accepted"] * 3
    assert waits and all(w >= 1 for w in waits)
