"""A Python client generated from the served API description works against a running
``anxin serve``: it issues a station's token, uploads signed records and reads the alarms
back, each answer parsed into the generated types.

The generator (openapi-python-client) runs at test time, into a temporary directory,
from the ``/openapi.json`` the running service serves — so what is tested is the
description as served now, never a committed copy going stale. It runs in a virtual
environment of its own, made by uv from the hash-checked ``requirements/openapi-client.txt``:
its pin of typer (<0.28) cannot share the project's environment (typer>=0.29), and the
generated client needs httpx, which the project does not use (httpx2). A machine that
cannot make that environment fails this test (it does not skip)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import msgspec
import pytest
from factory import T0, City
from live import ADMIN, Server

from anxin.serve import api_examples

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements" / "openapi-client.txt"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
# The upload is NDJSON: the generator is told to treat it as the bytes it is.
# Binary bodies the generator has no type for are bytes to the client (NDJSON uploads, the
# agencies' XLSX exports); the description keeps their real media types.
CONFIG = (
    "post_hooks: []\ncontent_type_overrides:\n  application/x-ndjson: application/octet-stream\n"
    "  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream\n"
)


def run(*cmd: object, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's virtual environment (its python)."""
    assert UV, "uv is a test dependency"
    venv = tmp_path_factory.mktemp("openapi-client") / "venv"
    made = run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    assert made.returncode == 0, made.stderr[-2000:]
    python = venv / "bin" / "python"
    done = run(UV, "pip", "install", "--quiet", "--require-hashes", "--python", python, "-r", REQUIREMENTS)
    assert done.returncode == 0, f"could not install {REQUIREMENTS.name} (PyPI reachable?): {done.stderr[-2000:]}"
    return python


def signed_records(city: City) -> bytes:
    """A sale 500 mL above its signed metering (VOLUME_MISMATCH), an honest sale, and a
    metering record whose signature no longer holds (quarantined: BAD_SIGNATURE)."""
    m1 = city.metering("S1-N1", T0, 30_000)
    s1 = city.sale(m1, volume_ml=30_500, amount_fen=24_400, paid_fen=24_400)
    m2 = city.metering("S1-N2", T0 + 120_000_000, 20_000)  # SM2
    s2 = city.sale(m2)
    forged = {**city.metering("S1-N1", T0 + 600_000_000, 10_000), "volume_ml": 9_000}
    return b"\n".join(msgspec.json.encode(r) for r in (m1, s1, m2, s2, forged)) + b"\n"


def test_a_generated_client_uploads_and_reads_back_alarms(generator: Path, tmp_path: Path) -> None:
    city = City()
    (tmp_path / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    server = Server(str(tmp_path / "db.sqlite"), tmp_path / "registry.json", tmp_path / "serve.log")
    server.start()
    try:
        spec = httpx2.get(f"{server.url}/openapi.json", timeout=10)
        assert spec.status_code == 200
        (tmp_path / "openapi.json").write_bytes(spec.content)
        (tmp_path / "config.yaml").write_text(CONFIG)
        out = tmp_path / "client" / "anxin_api_client"
        gen = run(
            generator.parent / "openapi-python-client",
            "generate",
            "--path",
            tmp_path / "openapi.json",
            "--meta",
            "none",
            "--config",
            tmp_path / "config.yaml",
            "--output-path",
            out,
        )
        assert gen.returncode == 0 and "Warning" not in gen.stdout + gen.stderr, gen.stdout + gen.stderr
        # the hand-chosen operation ids are the generated functions' names
        assert (out / "api" / "devices" / "upload_records.py").is_file()
        assert (out / "api" / "alarms" / "list_alarms.py").is_file()

        (tmp_path / "records.ndjson").write_bytes(signed_records(city))
        probe = run(
            generator,
            ROOT / "tests" / "api_client_probe.py",
            server.url,
            ADMIN,
            "S1",
            tmp_path / "records.ndjson",
            env={"PYTHONPATH": str(out.parent), "PATH": "/usr/bin:/bin"},
        )
        assert probe.returncode == 0, probe.stderr[-3000:]
        seen = json.loads(probe.stdout)

        assert seen["upload_status"] == 207
        upload = seen["upload"]
        assert (upload["accepted"], upload["quarantined"], upload["rejected"]) == (4, 1, 0)
        assert [r["status"] for r in upload["results"]] == ["accepted"] * 4 + ["quarantined"]
        assert seen["refused_status"] == 401 and seen["refused_detail"] == "unknown station API token"

        rules = sorted(a["rule"] for a in seen["alarms"])
        assert rules == ["BAD_SIGNATURE", "VOLUME_MISMATCH"], rules
        mismatch = next(a for a in seen["alarms"] if a["rule"] == "VOLUME_MISMATCH")
        assert (mismatch["nozzle_id"], mismatch["seq"], mismatch["evidence"]["difference_ml"]) == ("S1-N1", 1001, 500)
        assert {k: v for k, v in mismatch.items() if k != "ord"} == api_examples.ALARM  # the description's example
        # the typed answers hold everything the service said, in its order
        raw = httpx2.get(f"{server.url}/v1/alarms", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        assert seen["alarms"] == raw.json()["alarms"]
    finally:
        server.stop()
