"""Tokens are revoked at once however they are reissued (issue 11, finding 8): ``anxin
token`` run as its own process against a running service's database, and the admin
API, on SQLite and on PostgreSQL. Before, the service cached the tokens at start: the
old token kept working and the new one was refused until a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx2
import msgspec
import pytest
from factory import T0, City, line
from live import ADMIN, Server
from services import fresh_pg_database

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "anxin.sqlite")
    else:
        with fresh_pg_database() as url:
            yield url


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "anxin.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _upload(url: str, token: str, body: bytes) -> int:
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    return httpx2.post(url + "/v1/records", content=body, headers=h, timeout=30).status_code


@pytest.mark.xdist_group("serve")
def test_finding_8_a_token_reissued_by_the_cli_takes_effect_at_once(db: str, tmp_path: Path) -> None:
    city = City()
    registry = tmp_path / "registry.json"
    registry.write_bytes(msgspec.json.encode(city.registry_dict()))
    server = Server(db, registry, tmp_path / "serve.log")
    server.start()
    try:
        old = httpx2.post(f"{server.url}/v1/stations/S1/token", headers=ADMIN_H, timeout=30).json()["token"]
        records = [line(r) for r in city.honest_day("S1-N1", T0, 3)]
        assert _upload(server.url, old, records[0]) == 200
        # The CLI, another process, reissues the token in the service's database.
        res = _cli("token", "S1", "--db", db)
        assert res.returncode == 0, res.stderr
        new = res.stdout.strip().splitlines()[-1]
        assert new and new != old
        assert _upload(server.url, old, records[1]) == 401  # refused at once, no restart
        assert _upload(server.url, new, records[1]) == 200  # accepted at once
        # The admin API's reissue too.
        newer = httpx2.post(f"{server.url}/v1/stations/S1/token", headers=ADMIN_H, timeout=30).json()["token"]
        assert _upload(server.url, new, records[2]) == 401
        assert _upload(server.url, newer, records[2]) == 200
        # An institute's token, reissued by the CLI, likewise.
        res = _cli("token", "--institute", "I05", "--name", "区计量所", "--db", db)
        assert res.returncode == 0, res.stderr
        inst = res.stdout.strip().splitlines()[-1]
        v = line(city.verification("S1-N1", T0))
        assert _upload(server.url, inst, v) == 200
        res = _cli("token", "--institute", "I05", "--db", db)
        assert _upload(server.url, inst, line(city.verification("S1-N2", T0))) == 401
        assert _cli("token", "--db", db).returncode != 0  # a station or --institute, one of them
        assert _cli("token", "S9", "--db", db).returncode != 0  # not registered
    finally:
        server.stop()
