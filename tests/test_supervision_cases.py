"""Cases (案件) and their evidence bundles (证据包), against real databases (SQLite and
PostgreSQL): a confirmed alarm through parties, penalty and closure with audit entries;
idempotent opening; the bundle verifies offline and names what was altered or forged;
``anxin bundle verify``."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from anxin.engine.clock import Tick
from anxin.ingest.replay import tick_row
from anxin.ingest.service import IngestService
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import bundle as B
from anxin.supervision import cases as C
from anxin.supervision.cli import register
from anxin.supervision.signing import platform_key
from anxin.workflow import Acknowledge, Confirm, Dispatch, Report, apply

NOW = 1_772_400_000_000_000
HOUR = 3_600_000_000


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("supervision-cases")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sup") / "city"
    simulate(
        out,
        stations=3,
        days=1,
        seed=21,
        scenarios=ScenarioSet.parse("honest,amount_fraud=0.02"),
        workers=1,
        group_size=3,
    )
    return out


@pytest.fixture
def fed(store: Store, city: Path) -> Store:
    svc = IngestService(store)
    svc.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    for sid, lines in uploads(arrival_lines(city), "S0001"):
        svc.ingest(sid, lines, source="t")
    return store


def _an_alarm(store: Store) -> tuple[str, str, str]:
    a = T.alarms.c
    with store.engine.connect() as c:
        row = c.execute(
            select(a.alarm_id, a.station_id, a.nozzle_id).where(a.nozzle_id.is_not(None)).order_by(a.ord).limit(1)
        ).one()
    return row.alarm_id, row.station_id, row.nozzle_id


def _confirmed_case(store: Store) -> tuple[int, str, str]:
    aid, station, _ = _an_alarm(store)
    apply(store, aid, Acknowledge(), actor="wang.fang", reason="", now_us=NOW + 1)
    apply(
        store, aid, Dispatch(inspector="li.wei", due_us=NOW + 48 * HOUR), actor="wang.fang", reason="", now_us=NOW + 2
    )
    apply(store, aid, Report(result="收银金额高于计量"), actor="li.wei", reason="", now_us=NOW + 3)
    s = apply(store, aid, Confirm(summary="多收油款"), actor="zhao.min", reason="现场核实", now_us=NOW + 4)
    return int(s.case_id), aid, station


def _audit(store: Store, subject: str) -> list[tuple[str, dict]]:
    au = T.audit_log.c
    with store.engine.connect() as c:
        rows = c.execute(select(au.action, au.data).where(au.subject == subject).order_by(au.seq)).all()
    return [(r.action, r.data) for r in rows]


def test_case_from_a_confirmed_alarm_to_closure(fed: Store) -> None:
    store = fed
    case_id, aid, station = _confirmed_case(store)
    # Opening again for the same source is idempotent: the workflow's case.
    assert (
        C.open_case(store, station_id=station, source=f"alarm:{aid}", summary="again", actor="x", now_us=NOW) == case_id
    )
    case = C.get(store, case_id)
    assert (case.status, case.source, case.station_id, case.parties, case.violations) == (
        "open",
        f"alarm:{aid}",
        station,
        [],
        [],
    )
    with pytest.raises(C.CaseError):
        C.close(store, case_id, reason="too early", actor="zhao.min", now_us=NOW + 5)
    parties = [{"name": "某某石化有限公司", "role": "经营者", "id_no": "91110000MA00000000"}]
    case = C.update(store, case_id, parties=parties, actor="zhao.min", reason="询问笔录", now_us=NOW + 10)
    assert case.status == "investigating" and case.parties[0].name == "某某石化有限公司"
    case = C.update(
        store,
        case_id,
        violations=[{"code": "《计量法》第二十六条", "text": "使用不合格计量器具"}],
        actor="zhao.min",
        now_us=NOW + 11,
    )
    assert case.violations[0].code == "《计量法》第二十六条" and case.parties[0].role == "经营者"
    with pytest.raises(C.CaseError):
        C.penalize(store, case_id, penalty_fen=-1, decision="x", actor="zhao.min", now_us=NOW + 12)
    case = C.penalize(
        store,
        case_id,
        penalty_fen=2_000_000,
        boards_confiscated=2,
        decision="罚款两万元，没收主板两块",
        actor="zhao.min",
        reason="集体讨论",
        now_us=NOW + 20,
    )
    assert (case.status, case.penalty_fen, case.boards_confiscated) == ("decided", 2_000_000, 2)
    with pytest.raises(C.CaseError):
        C.update(store, case_id, parties=[], actor="zhao.min", now_us=NOW + 21)
    case = C.close(store, case_id, reason="罚款已缴纳", actor="zhao.min", now_us=NOW + 30)
    assert (case.status, case.closed_us) == ("closed", NOW + 30)
    with pytest.raises(C.CaseError):
        C.close(store, case_id, reason="twice", actor="zhao.min", now_us=NOW + 31)
    log = _audit(store, f"case:{case_id}")
    # 立案 is in the case's own history, as for a case opened from a complaint
    assert [a for a, _ in log] == ["case.open", "case.update", "case.update", "case.penalize", "case.close"]
    assert [(d["before"], d["after"]) for _, d in log[1:]] == [
        ("open", "investigating"),
        ("investigating", "investigating"),
        ("investigating", "decided"),
        ("decided", "closed"),
    ]
    assert log[3][1]["penalty_fen"] == 2_000_000
    assert [c.id for c in C.listing(store, station_ids=[station], status="closed")] == [case_id]
    assert C.listing(store, station_ids=["nowhere"]) == [] and C.listing(store, station_ids=[]) == []
    with pytest.raises(C.UnknownCase):
        C.get(store, 999_999)


def test_open_case_is_idempotent_and_checks_its_source(fed: Store) -> None:
    store = fed
    with store.engine.begin() as c:
        cid = c.execute(
            T.complaints.insert().values(received_us=NOW, station_id="S0002", text="少加油", status="received")
        ).inserted_primary_key[0]
    a = C.open_case(
        store, station_id="S0002", source=f"complaint:{cid}", summary="投诉查实", actor="zhao.min", now_us=NOW
    )
    b = C.open_case(store, station_id="S0002", source=f"complaint:{cid}", summary="again", actor="zhao.min", now_us=NOW)
    assert a == b and C.get(store, a).summary == "投诉查实"
    assert [x for x, _ in _audit(store, f"case:{a}")] == ["case.open"]
    for bad in (
        dict(station_id="S0001", source=f"complaint:{cid}"),
        dict(station_id="S0002", source="complaint:424242"),
        dict(station_id="S0002", source="order:1"),
        dict(station_id="S0002", source="alarm:nope"),
    ):
        with pytest.raises(C.CaseError):
            C.open_case(store, summary="x", actor="zhao.min", now_us=NOW, **bad)
    with pytest.raises(C.CaseError):
        C.open_case(store, station_id="S0002", source=f"complaint:{cid}", summary=" ", actor="zhao.min", now_us=NOW)


# ------------------------------------------------------------------ bundles
def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(files: dict[str, bytes], *, fix_manifest: bool) -> bytes:
    files = dict(files)
    if fix_manifest:
        names = [n for n in files if n != B.MANIFEST]
        files[B.MANIFEST] = json.dumps(
            {"algorithm": "sha256", "files": {n: hashlib.sha256(files[n]).hexdigest() for n in names}}
        ).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return buf.getvalue()


def _replace_line(files: dict[str, bytes], n: int, line: bytes) -> dict[str, bytes]:
    lines = files["records.jsonl"].splitlines()
    lines[n - 1] = line
    return {**files, "records.jsonl": b"".join(x + b"\n" for x in lines)}


def _en(found: list) -> list[str]:
    """A report's problems or notes, worded in English."""
    return [m.text("en") for m in found]


def test_bundle_verifies_offline_and_names_what_was_altered(fed: Store, tmp_path: Path) -> None:
    store = fed
    case_id, aid, station = _confirmed_case(store)
    C.update(
        store, case_id, parties=[{"name": "某站", "role": "经营者", "id_no": ""}], actor="zhao.min", now_us=NOW + 9
    )
    data = B.export_bundle(store, case_id, now_us=NOW + 100)
    assert data == B.export_bundle(store, case_id, now_us=NOW + 100)  # deterministic
    files = _files(data)
    assert set(files) == {*B.FILES, B.MANIFEST, B.SIGNATURE}  # no timestamp: no TSA configured
    case_doc = json.loads(files["case.json"])
    assert case_doc["case"]["id"] == case_id and case_doc["case"]["parties"][0]["name"] == "某站"
    alarm = next(json.loads(x) for x in files["alarms.jsonl"].splitlines() if json.loads(x)["alarm_id"] == aid)
    assert alarm["source_of_case"] and alarm["status"] == "confirmed"
    records = [json.loads(x) for x in files["records.jsonl"].splitlines()]
    assert {r["kind"] for r in records} >= {"metering", "settlement"}
    assert {r["station_id"] for r in records} == {station}
    assert {r["nozzle_id"] for r in records} == {alarm["nozzle_id"]}
    assert alarm["evidence"]["settlement"]["order_id"] in {r.get("order_id") for r in records}  # the evidence's record
    audit = [json.loads(x) for x in files["audit.jsonl"].splitlines()]
    assert [e["action"] for e in audit] == [
        "alarm.acknowledge",
        "alarm.dispatch",
        "alarm.report",
        "alarm.confirm",
        "case.open",
        "case.update",
    ]
    assert "离线" in files["README.txt"].decode() and "offline" in files["README.txt"].decode()
    # The ledger lines exactly as received.
    L = T.ledger.c
    with store.engine.connect() as c:
        bodies = {bytes(b) for (b,) in c.execute(select(L.body).where(L.station_id == station)).all()}
    assert all(x in bodies for x in files["records.jsonl"].splitlines())

    report = B.verify_bundle(data)
    signed = sum(r["kind"] in ("metering", "event") for r in records)
    assert report.ok and report.files_ok and not report.problems, report.problems
    assert report.signed_by == platform_key(store).key_id and report.signer_trusted is None
    bad_sig = f"{B.SIGNATURE}: the signature does not verify"  # the problems, worded in English below
    assert report.signatures_checked == signed > 0 and report.signatures_bad == 0

    # A metering record altered: the manifest catches it, and so does its signature.
    n = next(i for i, r in enumerate(records, 1) if r["kind"] == "metering")
    altered = dict(records[n - 1], volume_ml=records[n - 1]["volume_ml"] + 1000)
    changed = _replace_line(files, n, json.dumps(altered).encode())
    r1 = B.verify_bundle(_zip(changed, fix_manifest=False))
    assert not r1.ok and not r1.files_ok
    assert any(p.startswith("records.jsonl: SHA-256") for p in _en(r1.problems))
    assert any(  # the record and its verdict as data, whatever the language
        p.key == "record_signature" and p.params["line"] == n and p.params["verdict"].key == "verdict.BAD_SIGNATURE"
        for p in r1.problems
    )
    # …even with the manifest recomputed: the signature names the record.
    r2 = B.verify_bundle(_zip(changed, fix_manifest=True))
    assert r2.files_ok and not r2.ok and r2.signatures_bad == 1
    assert _en(r2.problems)[0] == bad_sig  # …and the recomputed manifest is not the platform's
    assert _en(r2.problems)[1:] == [p for p in _en(r2.problems) if p.startswith(f"records.jsonl line {n} (metering ")]
    # A settlement (unsigned) altered: only the manifest shows it.
    k = next(i for i, r in enumerate(records, 1) if r["kind"] == "settlement")
    r3 = B.verify_bundle(
        _zip(_replace_line(files, k, json.dumps(dict(records[k - 1], amount_fen=1)).encode()), fix_manifest=False)
    )
    assert not r3.ok and _en(r3.problems) == ["records.jsonl: SHA-256 differs from MANIFEST.json (altered)"]
    # The manifest altered.
    manifest = json.loads(files[B.MANIFEST])
    manifest["files"]["case.json"] = "0" * 64
    r4 = B.verify_bundle(_zip({**files, B.MANIFEST: json.dumps(manifest).encode()}, fix_manifest=False))
    assert not r4.ok and _en(r4.problems) == ["case.json: SHA-256 differs from MANIFEST.json (altered)", bad_sig]
    # A file removed, a file added, an audit entry edited, garbage.
    r5 = B.verify_bundle(_zip({k_: v for k_, v in files.items() if k_ != "audit.jsonl"}, fix_manifest=False))
    assert not r5.ok and "audit.jsonl: listed in MANIFEST.json but missing" in _en(r5.problems)
    assert not B.verify_bundle(_zip({**files, "extra.txt": b"x"}, fix_manifest=False)).ok
    edited = files["audit.jsonl"].replace(b'"actor": "zhao.min"', b'"actor": "someone"')
    r6 = B.verify_bundle(_zip({**files, "audit.jsonl": edited}, fix_manifest=True))
    assert not r6.ok and any(p.startswith("audit.jsonl line 4:") for p in _en(r6.problems))
    assert not B.verify_bundle(b"not a zip").ok

    # A forged signature (well-formed, wrong) in records.jsonl is reported by line.
    forged = dict(records[n - 1], sig=base64.b64encode(bytes(64)).decode())
    r7 = B.verify_bundle(_zip(_replace_line(files, n, json.dumps(forged).encode()), fix_manifest=True))
    assert r7.files_ok and not r7.ok and r7.signatures_bad == 1
    assert len(r7.problems) == 2 and _en(r7.problems)[0] == bad_sig
    assert _en(r7.problems)[1].startswith(f"records.jsonl line {n} (metering ")

    # The CLI.
    app = typer.Typer()
    from rich.console import Console

    def fail(msg: str) -> None:
        raise typer.Exit(2)

    register(app, Console(width=200), fail)
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(data)
    bad.write_bytes(_zip(_replace_line(files, n, json.dumps(forged).encode()), fix_manifest=True))
    runner = CliRunner()
    trust = f"ed25519:{platform_key(store).public_key}"
    ok = runner.invoke(app, ["bundle", "verify", str(good), "--trust-key", trust])
    assert ok.exit_code == 0 and "通过" in ok.output, ok.output
    nok = runner.invoke(app, ["bundle", "verify", str(bad), "--trust-key", trust])
    assert nok.exit_code == 1 and f"records.jsonl 第 {n} 行（计量记录" in nok.output  # in the process's language
    assert runner.invoke(app, ["bundle", "verify", str(tmp_path / "missing.zip")]).exit_code == 2


def test_bundle_of_a_complaint_case_holds_the_stations_day(fed: Store) -> None:
    store = fed
    with store.engine.connect() as c:
        t = c.execute(select(T.ledger.c.event_time_us).where(T.ledger.c.station_id == "S0003").limit(1)).scalar_one()
    with store.engine.begin() as c:
        cid = c.execute(
            T.complaints.insert().values(
                received_us=NOW, event_ts_us=t, station_id="S0003", text="少加油", status="received"
            )
        ).inserted_primary_key[0]
    tick = Tick(received_us=t + 25 * HOUR, station_id="S0003", until_us=t + 1)  # a tick inside the day
    store.append([tick_row(tick)], received_us=tick.received_us)
    case_id = C.open_case(store, station_id="S0003", source=f"complaint:{cid}", summary="投诉", actor="z", now_us=NOW)
    files = _files(data := B.export_bundle(store, case_id, now_us=NOW))
    kinds = {json.loads(x)["kind"] for x in files["records.jsonl"].splitlines()}
    assert {"metering", "settlement", "tank_reading"} <= kinds
    assert "tick" not in kinds  # the platform's clock ticks are in its ledger, not in what the station sent
    assert [json.loads(x)["action"] for x in files["audit.jsonl"].splitlines()] == ["case.open"]
    report = B.verify_bundle(data)
    assert report.ok and report.signatures_checked > 0, report.problems
