"""Retention and the purge (docs/privacy.md): the purge keeps a case's evidence and
removes what is past its period; it never takes a row an engine's restore needs (its
newest checkpoint and the rows after it, per scale-out partition); complainants' contacts
go a period after their complaint closes; every purge is audited. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from anxin.audit.queries import verify
from anxin.ingest.service import IngestService
from anxin.retention.periods import DAY_US, Retention
from anxin.retention.service import RetentionError, purge
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import complaints as CP
from anxin.supervision.bundle.queries import bundle_rows
from anxin.workflow import Acknowledge, Confirm, Dispatch, Report, apply

HOUR = 3_600_000_000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LATER = 4 * 365 * DAY_US  # past every default period


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("retention") / "city"
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


def _feed(store: Store, city: Path, *, checkpoint_after: float = 1.0) -> IngestService:
    """The city's uploads; a checkpoint after that share of them (the rest after it)."""
    svc = IngestService(store, checkpoint_every=10**9)
    svc.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    ups = list(uploads(arrival_lines(city), "S0001"))
    cut = int(len(ups) * checkpoint_after)
    for sid, lines in ups[:cut]:
        svc.ingest(sid, lines, source="t")
    svc.checkpoint()
    for sid, lines in ups[cut:]:
        svc.ingest(sid, lines, source="t")
    return svc


def _count(store: Store, table) -> int:
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())


def _ids(store: Store) -> set[int]:
    with store.engine.connect() as c:
        return {int(i) for i in c.execute(select(T.ledger.c.id)).scalars()}


def _alarm_ids(store: Store) -> set[str]:
    with store.engine.connect() as c:
        return set(c.execute(select(T.alarms.c.alarm_id)).scalars())


def _open_case(store: Store, now: int) -> tuple[int, str]:
    a = T.alarms.c
    with store.engine.connect() as c:
        aid, station = c.execute(
            select(a.alarm_id, a.station_id).where(a.nozzle_id.is_not(None)).order_by(a.ord).limit(1)
        ).one()
    apply(store, aid, Acknowledge(), actor="wang.fang", reason="", now_us=now + 1)
    apply(
        store, aid, Dispatch(inspector="li.wei", due_us=now + 48 * HOUR), actor="wang.fang", reason="", now_us=now + 2
    )
    apply(store, aid, Report(result="收银金额高于计量"), actor="li.wei", reason="", now_us=now + 3)
    s = apply(store, aid, Confirm(summary="多收油款"), actor="zhao.min", reason="现场核实", now_us=now + 4)
    return int(s.case_id), station


def test_the_purge_keeps_a_cases_evidence_and_removes_what_is_past_its_period(store: Store, city: Path) -> None:
    now = time.time_ns() // 1000
    svc = _feed(store, city)
    case_id, station = _open_case(store, now)
    evidence = bundle_rows(store, case_id, station_id=station, now_us=now)
    held_rows = {int(r.id) for r in evidence.ledger}
    held_alarms = {a.alarm_id for a in evidence.alarms} | set(evidence.source_alarms)
    svc.ingest(station, [b"{not json"], source="t")  # a reject
    rows, alarms = _ids(store), _alarm_ids(store)
    assert held_rows and held_rows < rows and held_alarms < alarms

    # within the periods: nothing of the ledger, the alarms or the rejects goes
    soon = purge(store, Retention(), now_us=now + DAY_US, reason="test")
    assert soon.purged["ledger"] == soon.purged["alarms"] == soon.purged["rejects"] == 0
    assert _ids(store) == rows

    # a dry run past the periods counts and changes nothing
    dry = purge(store, Retention(), now_us=now + LATER, dry_run=True, reason="test")
    assert dry.purged["ledger"] == len(rows - held_rows) and dry.held["ledger"] == len(held_rows)
    assert dry.purged["alarms"] == len(alarms - held_alarms) and dry.purged["rejects"] == 1
    assert _ids(store) == rows and _alarm_ids(store) == alarms and _count(store, T.rejects) == 1
    audited = _count(store, T.audit_log)

    report = purge(store, Retention(), now_us=now + LATER, reason="test")
    assert report.purged == dry.purged and report.open_cases == [case_id]
    assert _ids(store) == held_rows  # the case's evidence, and nothing else
    assert _alarm_ids(store) == held_alarms
    assert _count(store, T.rejects) == 0
    after = bundle_rows(store, case_id, station_id=station, now_us=now)
    assert [tuple(r) for r in after.ledger] == [tuple(r) for r in evidence.ledger]
    assert [r.alarm_id for r in after.alarms] == [r.alarm_id for r in evidence.alarms]
    # the purge is one audit entry, and the chain still holds
    au = T.audit_log.c
    with store.engine.connect() as c:
        entries = c.execute(select(au.action, au.actor, au.data).where(au.seq > 0).order_by(au.seq)).all()
    assert len(entries) == audited + 1
    assert entries[-1].action == "retention.purge" and entries[-1].data["purged"]["ledger"] == len(rows - held_rows)
    assert verify(store).ok


def test_the_purge_leaves_what_a_restore_needs(store: Store, city: Path) -> None:
    now = time.time_ns() // 1000
    svc = _feed(store, city, checkpoint_after=0.5)
    cp = store.checkpoint_latest()
    assert cp is not None
    bound = cp[0]
    rows = _ids(store)
    assert min(rows) <= bound < max(rows)
    purge(store, Retention(), now_us=now + LATER, reason="test")
    assert _ids(store) == {i for i in rows if i > bound}  # the rows after the checkpoint stay
    # a restart restores from the checkpoint and the rows after it: the same engine
    again = IngestService(store, checkpoint_every=10**9)
    assert again.last_ledger_id == svc.last_ledger_id == max(rows)
    assert again.engine is not None and svc.engine is not None
    assert dict(again.engine.counts) == dict(svc.engine.counts)
    assert again.engine.pending() == svc.engine.pending()


def test_each_partition_is_purged_up_to_its_own_checkpoint(store: Store, city: Path) -> None:
    now = time.time_ns() // 1000
    _feed(store, city)
    rows = sorted(_ids(store))
    mid = rows[len(rows) // 2]
    L = T.ledger.c
    with store.engine.begin() as c:  # as the scale-out's workers write them: a partition per row
        c.execute(update(T.ledger).values(part=L.id % 2))
    store.checkpoint_save(mid, 1, b"partition 0's engine", part=0)  # partition 1 has none yet
    purge(store, Retention(), now_us=now + LATER, reason="test")
    assert _ids(store) == {i for i in rows if i % 2 == 1 or i > mid}


def test_a_complainants_contact_goes_a_period_after_the_complaint_closes(store: Store, city: Path) -> None:
    now = time.time_ns() // 1000
    svc = _feed(store, city)
    assert svc.registry is not None
    station = next(iter(svc.registry.station_by_id))
    cid = CP.submit(
        store,
        svc.registry,
        station_id=station,
        text="加油量不足，请回电 13812345678",
        contact="13812345678",
        channel="qr",
        attachments=[("receipt.png", "image/png", PNG)],
        now_us=now,
    )
    L = T.ledger.c
    with store.engine.connect() as c:  # a sale of the station's: the open complaint is about its day
        when = int(c.execute(select(func.min(L.event_time_us)).where(L.station_id == station)).scalar_one())
    open_cid = CP.submit(
        store,
        svc.registry,
        station_id=station,
        text="还没处理",
        contact="13900000000",
        channel="qr",
        attachments=[("photo.png", "image/png", PNG)],
        event_ts_us=when,
        now_us=now,
    )
    CP.assign(store, cid, assignee="li.wei", actor="wang.fang", now_us=now + 1)
    CP.investigate(store, cid, note="核查", actor="li.wei", now_us=now + 2)
    CP.reply(store, cid, text="已核实", actor="li.wei", now_us=now + 3)
    CP.close(store, cid, outcome="unsubstantiated", reason="计量正常", actor="wang.fang", now_us=now + 4)
    co = T.complaints.c
    purge(store, Retention(), now_us=now + 200 * DAY_US, reason="test")  # within a year: kept
    with store.engine.connect() as c:
        assert c.execute(select(co.contact).where(co.id == cid)).scalar_one() == "13812345678"
    report = purge(store, Retention(), now_us=now + LATER, reason="test")
    with store.engine.connect() as c:
        closed = c.execute(select(co.contact, co.text).where(co.id == cid)).one()
        still = c.execute(select(co.contact).where(co.id == open_cid)).scalar_one()
    assert closed.contact is None and closed.text == "加油量不足，请回电 [mobile]"
    assert still == "13900000000"  # its complaint is open
    with store.engine.connect() as c:
        owners = set(c.execute(select(T.attachments.c.owner)).scalars())
    assert owners == {f"complaint:{open_cid}"} and report.purged["complaint_files"] == 1
    assert report.open_complaints == [open_cid] and report.held["ledger"] > 0  # its station's day is held
    with store.engine.connect() as c:
        kept = {r.station_id for r in c.execute(select(L.station_id)).all()}
    assert kept == {station}


def test_a_period_below_the_floor_is_refused_and_nothing_goes(store: Store, city: Path) -> None:
    _feed(store, city)
    rows = _ids(store)
    with pytest.raises(RetentionError) as err:
        purge(store, Retention(ledger=30, rejects=7), now_us=time.time_ns() // 1000 + LATER, reason="test")
    assert {p[0] for p in err.value.problems} == {"ledger", "rejects"}
    assert _ids(store) == rows


def test_anxin_purge_dry_run_from_the_command_line(tmp_path: Path, city: Path) -> None:
    from anxin.cli import app

    db = tmp_path / "db.sqlite"
    store = Store(str(db))
    _feed(store, city)
    rows = _ids(store)
    store.close()
    runner = CliRunner()
    got = runner.invoke(app, ["purge", "--dry-run", "--as-of", "2099-01-01T00:00:00+08:00", "--db", str(db)])
    assert got.exit_code == 0, got.output
    assert "原始记录" in got.output and f"{len(rows):,}" in got.output
    refused = runner.invoke(app, ["purge", "--as-of", "2099-01-01T00:00:00+08:00", "--db", str(db)])
    assert refused.exit_code == 2 and "--dry-run" in refused.output
    done = runner.invoke(app, ["purge", "--db", str(db)])
    assert done.exit_code == 0, done.output
    store = Store(str(db))
    assert _ids(store) == rows  # nothing is past its period yet
    store.close()


def test_anxin_serve_purges_on_its_schedule(store: Store, city: Path, monkeypatch) -> None:
    import types

    import anxin.serve.jobs as jobs

    now = time.time_ns() // 1000
    svc = _feed(store, city)
    job = jobs.purge_job(svc, Retention(), every_s=0)
    assert job.run_once() == {}  # nothing past its period today: nothing done, nothing audited
    monkeypatch.setattr(jobs, "time", types.SimpleNamespace(time_ns=lambda: (now + LATER) * 1000))
    done = job.run_once()
    assert isinstance(done, dict) and done["ledger"] > 0 and _ids(store) == set()  # (no case holds anything)
    au = T.audit_log.c
    with store.engine.connect() as c:
        last = c.execute(select(au.actor, au.action).order_by(au.seq.desc()).limit(1)).one()
    assert (last.actor, last.action) == ("system", "retention.purge")


def test_a_configured_period_below_its_floor_is_a_configuration_error(tmp_path: Path) -> None:
    from anxin.serve.config import ConfigError, load_config

    toml = tmp_path / "serve.toml"
    toml.write_text("[retention]\nrejects = 30\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(toml)
    assert "retention.rejects" in str(err.value) and "183" in str(err.value)
    toml.write_text("[retention]\nledger = 2000\n", encoding="utf-8")
    assert load_config(toml).retention.ledger == 2000
