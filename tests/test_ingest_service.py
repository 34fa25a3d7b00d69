"""The one ingest path (IngestService), on SQLite and on real PostgreSQL: per-line
outcomes, live alarms equal to the batch check's, recovery by checkpoint and replay,
registry changes and key rotation."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from live import arrival_lines, uploads
from services import fresh_pg_database
from sqlalchemy import text

from anxin.check.run import run_check
from anxin.ingest.service import IngestService
from anxin.sim import ScenarioSet, simulate
from anxin.sim.scenarios import FIRMWARE_SCENARIOS
from anxin.store.database import Store

STATIONS = ("S0001", "S0002")


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("ingest-service")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("live") / "city"
    simulate(out, stations=2, days=1, seed=12, scenarios=ScenarioSet.all(), workers=1, group_size=2)
    return out


@pytest.fixture(scope="module")
def firmware_city(tmp_path_factory) -> Path:
    """A city with the firmware register and every §F scenario (contract v1.1 §F)."""
    out = tmp_path_factory.mktemp("live-fw") / "city"
    scenarios = ScenarioSet.parse("honest,firmware,forged,seal_unauthorised")
    assert set(FIRMWARE_SCENARIOS) <= set(scenarios.enabled())
    simulate(out, stations=2, days=2, seed=5, scenarios=scenarios, workers=1, group_size=2)
    return out


@pytest.fixture(scope="module")
def batch_alarm_ids(city: Path, tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("batch") / "check"
    run_check(city, out, workers=0)
    return {json.loads(line)["alarm_id"] for line in (out / "alarms.jsonl").read_text().splitlines()}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "db.sqlite")
    else:
        with fresh_pg_database() as url:
            yield url


def _service(url: str, city: Path, **kw) -> IngestService:
    svc = IngestService(Store(url), **kw)
    if svc.registry is None:
        svc.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    return svc


def _feed(svc: IngestService, batches) -> dict[str, int]:
    totals = {"accepted": 0, "duplicate": 0, "quarantined": 0, "rejected": 0}
    for sid, lines in batches:
        r = svc.ingest(sid, lines, source="test")
        for k in totals:
            totals[k] += getattr(r, k)
    return totals


def _alarm_ids(store: Store) -> set[str]:
    with store.engine.connect() as c:
        return set(c.execute(text("SELECT alarm_id FROM alarms")).scalars())


def test_live_alarms_equal_the_batch_check(city: Path, batch_alarm_ids: set[str], store_url: str) -> None:
    svc = _service(store_url, city)
    batches = uploads(arrival_lines(city), "S0001")
    totals = _feed(svc, batches)
    assert totals["accepted"] > 1000 and totals["rejected"] > 0 and totals["quarantined"] > 0
    assert _alarm_ids(svc.store) == batch_alarm_ids
    again = _feed(svc, batches[:3])  # an edge agent's retry: duplicates, no new alarm
    assert again["accepted"] == 0 and again["duplicate"] > 0
    assert _alarm_ids(svc.store) == batch_alarm_ids


def test_live_alarms_equal_the_batch_check_with_firmware_and_self_lock(firmware_city: Path, tmp_path) -> None:
    """Firmware updates (approved, revoked, a known cheat program) and self-locks
    (unlocked at a verification, cleared by the station): live == batch."""
    out = tmp_path / "check"
    run_check(firmware_city, out, workers=0)
    batch = [json.loads(x) for x in (out / "alarms.jsonl").read_text().splitlines()]
    rules = {a["rule"] for a in batch}
    assert {"UNAPPROVED_FIRMWARE", "SELF_LOCK_CLEARED", "SEAL_BREACH", "UNVERIFIED_USE"} <= rules, rules
    assert {a["severity"] for a in batch if a["rule"] == "UNAPPROVED_FIRMWARE"} == {"major", "critical"}
    svc = _service(str(tmp_path / "db.sqlite"), firmware_city)
    _feed(svc, uploads(arrival_lines(firmware_city), "S0001"))
    assert _alarm_ids(svc.store) == {a["alarm_id"] for a in batch}


def test_crash_and_replay_lose_nothing_and_double_nothing(city: Path, batch_alarm_ids: set[str], tmp_path) -> None:
    url = str(tmp_path / "db.sqlite")
    batches = uploads(arrival_lines(city), "S0001")
    half = len(batches) // 2
    svc = _service(url, city, checkpoint_every=1500)
    _feed(svc, batches[:half])
    cp = svc.store.checkpoint_latest()
    rows = svc.store.ledger_max_id()
    assert cp is not None and cp[0] < rows
    del svc  # the crash: no clean stop, no last checkpoint
    svc2 = _service(url, city, checkpoint_every=1500)
    assert svc2.replayed == rows - cp[0] and svc2.last_ledger_id == rows
    _feed(svc2, batches[half - 2 :])  # the uploads in flight at the crash come again
    assert svc2.store.ledger_max_id() == _distinct_records(batches)
    assert _alarm_ids(svc2.store) == batch_alarm_ids
    # Outputs lost after the ledger commit (alarms gone, no checkpoint): a cold start
    # replays the whole ledger and derives the same alarms, once.
    with svc2.store.engine.begin() as c:
        c.execute(text("DELETE FROM alarms"))
        c.execute(text("DELETE FROM checkpoints"))
    svc3 = IngestService(svc2.store)
    assert svc3.replayed == svc2.store.ledger_max_id()
    assert _alarm_ids(svc3.store) == batch_alarm_ids


def _distinct_records(batches) -> int:
    """Records of the registered stations, counted once per ledger digest (resends once)."""
    from anxin.contract.natural import ledger_digest, natural_key
    from anxin.contract.parse import Parsed, parse_line
    from anxin.contract.records import kind_of

    seen = set()
    for _, lines in batches:
        for ln in lines:
            p = parse_line(ln)
            if isinstance(p, Parsed) and p.rec.station_id in STATIONS:
                seen.add(ledger_digest(kind_of(p.rec), natural_key(p), p))
    return len(seen)


def test_line_outcomes_name_the_problem(city: Path, tmp_path) -> None:
    svc = _service(str(tmp_path / "db.sqlite"), city)
    lines = [raw for sid, raw in arrival_lines(city) if sid == "S0001"]
    meter = next(ln for ln in lines if b'"kind":"metering"' in ln.replace(b" ", b""))
    rec = msgspec.json.decode(meter)
    forged = dict(rec, volume_ml=rec["volume_ml"] + 1000)  # the signature no longer matches
    other = next(raw for sid, raw in arrival_lines(city) if sid == "S0002")
    stranger = dict(rec, station_id="S9999")
    r = svc.ingest(
        "S0001",
        [
            meter,
            meter,
            msgspec.json.encode(forged),
            other,
            b'{"kind": "nonsense"}',
            b"",
            msgspec.json.encode(stranger),
            b"\xff\xfe",
        ],
        source="test",
    )
    st = [(x.line, x.status) for x in r.results]
    assert st == [
        (1, "accepted"),
        (2, "duplicate"),
        (3, "quarantined"),
        (4, "rejected"),
        (5, "rejected"),
        (7, "rejected"),
        (8, "rejected"),
    ]
    reasons = {x.line: x.reason for x in r.results}
    assert "signature does not verify" in reasons[3]
    assert "S0002" in reasons[4] and "S0001" in reasons[4]
    assert "nonsense" in reasons[5]
    assert "S9999" in reasons[7]
    assert "UTF-8" in reasons[8] or "JSON" in reasons[8]
    assert svc.store.counts()["quarantined"] == 1 and svc.store.counts()["rejects"] == 4


def test_key_rotation_through_a_registry_change(city: Path, tmp_path) -> None:
    import base64

    from anxin.contract.canonical import canonical_of_dict
    from anxin.crypto.schemes import generate_signer

    svc = _service(str(tmp_path / "db.sqlite"), city)
    doc = json.loads((city / "registry.json").read_text())
    nz = next(n for n in doc["nozzles"] if n["station_id"] == "S0001" and n["key_alg"] == "ed25519")
    lines = [raw for sid, raw in arrival_lines(city) if sid == "S0001"]
    meter = msgspec.json.decode(
        next(ln for ln in lines if b'"kind":"metering"' in ln and nz["nozzle_id"].encode() in ln)
    )
    v0 = svc.registry_version
    signer = generate_signer("ed25519")
    nz["previous_keys"] = [
        {
            "key_id": nz["key_id"],
            "key_alg": "ed25519",
            "public_key": nz["public_key"],
            "retired_at": "2030-01-01T00:00:00+08:00",
        }
    ]
    nz["key_id"], nz["public_key"] = "k-new", signer.public_key_text
    assert svc.set_registry(msgspec.json.encode(doc), author="test", reason="rotate") > v0
    fresh = dict(meter, key_id="k-new", seq=meter["seq"] + 10_000)
    fresh.pop("sig")
    fresh["sig"] = base64.b64encode(signer.sign(canonical_of_dict(fresh))).decode()
    r = svc.ingest("S0001", [msgspec.json.encode(meter), msgspec.json.encode(fresh)], source="test")
    assert [x.status for x in r.results] == ["accepted", "accepted"]
    restarted = IngestService(svc.store)  # the rotation survives a restart (checkpoint + registry)
    assert restarted.registry_version == svc.registry_version
    assert "k-new" in {n.key_id for n in restarted.registry.nozzles}


def test_a_failing_engine_step_after_the_commit_is_recovered_from_the_ledger(
    city: Path, batch_alarm_ids: set[str], tmp_path
) -> None:
    svc = _service(str(tmp_path / "db.sqlite"), city)
    batches = uploads(arrival_lines(city), "S0001")
    _feed(svc, batches[:10])

    def boom(*_a, **_k):
        raise RuntimeError("engine fault")

    svc.engine.feed = boom  # the next upload commits to the ledger, then the engine fails
    r = svc.ingest(*batches[10], source="test")
    assert r.accepted > 0 and svc.ready and svc.engine.feed is not boom
    assert svc.last_ledger_id == svc.store.ledger_max_id()  # the committed rows were replayed into the engine
    _feed(svc, batches[11:])
    assert _alarm_ids(svc.store) == batch_alarm_ids
