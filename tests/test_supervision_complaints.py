"""Complaints (投诉举报) on real databases: validation, automatic linking to the sale, its
metering record and alarms, the handling to closure, overdue, and the audit trail."""

from __future__ import annotations

import hashlib
import re

import msgspec
import pytest
from sqlalchemy import func, select
from wording import CJK

from anxin.audit import entries, verify
from anxin.contract.registry import parse_registry
from anxin.contract.times import US_PER_DAY, US_PER_H, US_PER_MIN
from anxin.ingest.service import IngestService
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads
from anxin.store import schema as T
from anxin.supervision import Attachment, SupervisionError, complaints, parts

STATION = "S0001"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"  # the first bytes of a JPEG, a PNG: what the type check reads
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("complaints") / "city"
    simulate(out, stations=1, days=1, seed=31, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    doc = (out / "registry.json").read_bytes()
    return out, doc, parse_registry(doc)


@pytest.fixture
def loaded(store, city):
    out, doc, reg = city
    svc = IngestService(store)
    svc.set_registry(doc, author="t", reason="t")
    for sid, lines in uploads(arrival_lines(out), STATION):
        svc.ingest(sid, lines, source="t")
    return store, reg


def _sales(store) -> list[dict]:
    L = T.ledger.c
    with store.engine.connect() as c:
        rows = c.execute(select(L.event_time_us, L.body).where(L.kind == "settlement").order_by(L.event_time_us))
        return [{"t": int(r.event_time_us), **msgspec.json.decode(r.body)} for r in rows]


def _alarm(store, alarm_id: str, *, nozzle_id: str | None, ts_us: int, rule: str = "VOLUME_MISMATCH") -> None:
    with store.engine.begin() as c:
        c.execute(
            T.alarms.insert().values(
                alarm_id=alarm_id,
                rule=rule,
                severity="high",
                station_id=STATION,
                nozzle_id=nozzle_id,
                ts="x",
                ts_us=ts_us,
                message="m",
                evidence={},
                raised_us=ts_us,
            )
        )


def _audit_count(store) -> int:
    with store.engine.connect() as c:
        return c.execute(select(func.count()).select_from(T.audit_log)).scalar_one()


def _kinds(links: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for x in links:
        out.setdefault(x["kind"], set()).add(x["ref"])
    return out


NOW = 1_800_000_000_000_000


def test_submit_validation_errors_are_named(store, city) -> None:
    _, _, reg = city
    nozzle = reg.nozzles[0].nozzle_id
    ok = dict(station_id=STATION, nozzle_id=nozzle, text="加油量不足", channel="qr", now_us=NOW)
    cases = [
        ({"station_id": "NOPE"}, "unknown_station", "station_id"),
        ({"nozzle_id": "NOPE"}, "unknown_nozzle", "nozzle_id"),
        ({"text": "   "}, "empty", "text"),
        ({"text": "多" * 2001}, "too_long", "text"),
        ({"channel": "fax"}, "bad_channel", "channel"),
        ({"event_ts_us": NOW + US_PER_H}, "event_in_future", "event_ts_us"),
        (
            {"attachments": [("a.jpg", "image/jpeg", JPEG + b"x" * (5 * 1024 * 1024))]},
            "attachment_too_large",
            "attachments[0].data",
        ),
        ({"attachments": [("a.jpg", "image/jpeg", JPEG)] * 6}, "too_many_attachments", "attachments"),
        ({"attachments": [("a.exe", "application/x-msdownload", b"MZ")]}, "bad_attachment_type", "attachments[0].data"),
        # the type is the content's, not the declared one (issue 11)
        ({"attachments": [("a.jpg", "image/jpeg", b"\x00" * 1000)]}, "bad_attachment_type", "attachments[0].data"),
        ({"attachments": [("a.txt", "text/plain", b"hello")]}, "bad_attachment_type", "attachments[0].data"),
        (
            {"attachments": [("a.jpg", "image/jpeg", JPEG + b"x" * (4 * 1024 * 1024))] * 3},
            "attachments_too_large",
            "attachments",
        ),
        ({"attachments": [("a.jpg", "image/jpeg", b"")]}, "empty_attachment", "attachments[0].data"),
    ]
    for change, code, field in cases:
        with pytest.raises(SupervisionError) as e:
            complaints.submit(store, reg, **{**ok, **change})
        assert (e.value.code, e.value.field) == (code, field), change
    assert complaints.listing(store) == [] and _audit_count(store) == 0  # nothing written
    # the limits themselves are accepted
    big = Attachment("小票.jpg", "image/jpeg", JPEG + b"\xff" * (5 * 1024 * 1024 - len(JPEG)))
    cid = complaints.submit(
        store,
        reg,
        **{**ok, "text": "多" * 2000, "attachments": [big] + [("b.png", "application/octet-stream", PNG)] * 4},
    )
    got = complaints.get(store, cid)
    assert got["status"] == "received" and got["deadline_us"] == NOW + 15 * US_PER_DAY
    assert [a["size"] for a in got["attachments"]] == [5 * 1024 * 1024] + [len(PNG)] * 4
    assert [a["mime"] for a in got["attachments"]] == ["image/jpeg"] + ["image/png"] * 4  # found, not declared
    assert got["attachments"][0]["sha256"] == hashlib.sha256(big.data).hexdigest()
    assert complaints.attachment(store, cid, got["attachments"][0]["id"]).data == big.data
    [entry] = entries(store, subject=f"complaint:{cid}")
    assert entry.actor == "public" and entry.action == "complaint.submit"


def test_link_by_order_number_finds_sale_metering_and_alarms(loaded) -> None:
    store, reg = loaded
    sales = _sales(store)
    sale = sales[len(sales) // 3]
    nozzle = sale["nozzle_id"]
    other = next(n.nozzle_id for n in reg.nozzles if n.nozzle_id != nozzle)
    _alarm(store, "a-near", nozzle_id=nozzle, ts_us=sale["t"] + 30 * US_PER_MIN)
    _alarm(store, "a-station", nozzle_id=None, ts_us=sale["t"] - US_PER_H)
    _alarm(store, "a-other-nozzle", nozzle_id=other, ts_us=sale["t"])
    _alarm(store, "a-late", nozzle_id=nozzle, ts_us=sale["t"] + 3 * US_PER_H)
    cid = complaints.submit(
        store,
        reg,
        station_id=STATION,
        text="油量不足",
        order_ref=sale["order_id"],
        channel="web",
        now_us=sale["t"] + US_PER_DAY,
    )
    got = complaints.get(store, cid)
    k = _kinds(got["links"])
    assert k["settlement"] == {f"{STATION}/{sale['order_id']}"}  # the order, and no other sale
    assert f"{nozzle}/{sale['pump_seq']}" in k["metering"]  # its metering record
    assert all(ref.startswith(f"{nozzle}/") for ref in k["metering"])  # the order told the nozzle
    assert k["alarm"] == {"a-near", "a-station"}
    why = {(x["kind"], x["ref"]): x["why"] for x in got["links"]}
    assert "订单号" in why[("settlement", f"{STATION}/{sale['order_id']}")]
    assert "配对" in why[("metering", f"{nozzle}/{sale['pump_seq']}")]
    assert [x[1] for x in msgspec.json.decode(msgspec.json.encode(got["history"][0]["data"]["links"]))] != []

    # re-linking after a late alarm adds only it, audited as "system"
    _alarm(store, "a-later", nozzle_id=nozzle, ts_us=sale["t"] + 10 * US_PER_MIN)
    links = complaints.link(store, cid, now_us=sale["t"] + 2 * US_PER_DAY)
    assert _kinds(links)["alarm"] == {"a-near", "a-station", "a-later"}
    e = entries(store, subject=f"complaint:{cid}")[0]
    assert (e.actor, e.action, e.data["added"]) == ("system", "complaint.link", [["alarm", "a-later"]])
    n = _audit_count(store)
    complaints.link(store, cid, now_us=sale["t"] + 2 * US_PER_DAY)  # nothing new: no entry
    assert _audit_count(store) == n


def test_link_reasons_are_stored_as_parts_and_worded_when_read(loaded) -> None:
    """Issue 13: why a record is linked is stored as parts (no words, in no language) and
    worded when read — in Chinese by default, in English for an English reader; a link
    stored before as a Chinese sentence (an existing database's) is shown as written."""
    from anxin.web.composed import link_why

    store, reg = loaded
    sale = _sales(store)[3]
    nozzle = sale["nozzle_id"]
    event = sale["t"] + 65_000_000  # the sale is 1 min 05 s before the time given
    _alarm(store, "a-parts", nozzle_id=nozzle, ts_us=event + 120_000_000, rule="VOLUME_MISMATCH")
    cid = complaints.submit(
        store, reg, station_id=STATION, nozzle_id=nozzle, text="x", channel="qr", event_ts_us=event, now_us=event
    )
    with store.engine.connect() as c:
        stored = dict(
            c.execute(
                select(T.complaint_links.c.ref, T.complaint_links.c.why).where(T.complaint_links.c.complaint_id == cid)
            ).all()
        )
    assert stored and not any(CJK.search(why) for why in stored.values())  # parts: codes, no words
    links = {(x["kind"], x["ref"]): x for x in complaints.get(store, cid)["links"]}
    alarm = links[("alarm", "a-parts")]
    assert (alarm["why_key"], alarm["why_params"]) == (
        "alarm",
        {"basis": "event", "dt_us": 120_000_000, "rule": "VOLUME_MISMATCH", "same_nozzle": True},
    )
    assert alarm["why"] == "同一油枪发生时间前后 +2分00秒 的报警「油量不符」"
    assert link_why(alarm, "zh") == alarm["why"]
    assert link_why(alarm, "en") == "a “Volume mismatch” alarm of the same nozzle +2 min 00 s from the time given"
    sold = links[("settlement", f"{STATION}/{sale['order_id']}")]
    assert sold["why"] == "发生时间前后 −1分05秒 的销售"
    assert link_why(sold, "en") == "a sale −1 min 05 s from the time given"
    paired = links[("metering", f"{nozzle}/{sale['pump_seq']}")]
    assert paired["why"] == f"与销售 {STATION}/{sale['order_id']} 配对的计量记录"
    assert link_why(paired, "en") == f"the metering record paired with sale {STATION}/{sale['order_id']}"
    for link in links.values():  # every reason: Chinese in Chinese, English in English
        zh, en = link_why(link, "zh"), link_why(link, "en")
        assert CJK.search(zh) and not re.search(r"[A-Za-z]{3,}", zh.replace(STATION, "")), zh
        assert not CJK.search(en), en

    # a link written before its reason was stored as parts: shown as written, in either language
    legacy = "本站发生时间前后 +0分30秒 的报警「油量不符」"
    with store.engine.begin() as c:
        c.execute(T.complaint_links.insert().values(complaint_id=cid, kind="alarm", ref="a-legacy", why=legacy))
    old = {x["ref"]: x for x in complaints.get(store, cid)["links"]}["a-legacy"]
    assert (old["why"], old["why_key"], old["why_params"]) == (legacy, None, None)
    assert link_why(old, "zh") == legacy and link_why(old, "en") == legacy
    assert complaints.link_reason(legacy, "en") == legacy


def test_link_by_time_window(loaded) -> None:
    store, reg = loaded
    sales = _sales(store)
    sale = sales[len(sales) // 2]
    nozzle = sale["nozzle_id"]
    cid = complaints.submit(
        store,
        reg,
        station_id=STATION,
        nozzle_id=nozzle,
        text="金额不对",
        channel="qr",
        event_ts_us=sale["t"] + 90_000_000,
        now_us=sale["t"] + US_PER_H,
    )
    k = _kinds(complaints.get(store, cid)["links"])
    in_window = {
        f"{STATION}/{s['order_id']}"
        for s in sales
        if s["nozzle_id"] == nozzle and abs(s["t"] - sale["t"] - 90_000_000) <= 2 * US_PER_H
    }
    assert f"{STATION}/{sale['order_id']}" in k["settlement"]
    assert k["settlement"] <= in_window and len(k["settlement"]) == min(20, len(in_window))
    assert f"{nozzle}/{sale['pump_seq']}" in k["metering"]
    assert all(ref.startswith(f"{nozzle}/") for ref in k["metering"])
    assert "alarm" not in k
    # an unknown order number falls back to the time window
    cid2 = complaints.submit(
        store,
        reg,
        station_id=STATION,
        nozzle_id=nozzle,
        text="x",
        channel="api",
        order_ref="NO-SUCH-ORDER",
        event_ts_us=sale["t"],
        now_us=sale["t"],
    )
    assert f"{STATION}/{sale['order_id']}" in _kinds(complaints.get(store, cid2)["links"])["settlement"]


def test_lifecycle_to_closure_and_forbidden_steps(store, city) -> None:
    _, _, reg = city
    cid = complaints.submit(
        store, reg, station_id=STATION, text="加油机跳字快", contact="138****0000", channel="qr", now_us=NOW
    )
    for step in (
        lambda: complaints.close(store, cid, outcome="unsubstantiated", reason="r", actor="li", now_us=NOW + 1),
        lambda: complaints.reply(store, cid, text="已核查", actor="li", now_us=NOW + 1),
        lambda: complaints.investigate(store, cid, note="n", actor="li", now_us=NOW + 1),
    ):
        with pytest.raises(SupervisionError) as e:
            step()
        assert e.value.code == "forbidden_step" and "已受理" in e.value.message
    assert complaints.assign(store, cid, assignee="li", actor="zhang", now_us=NOW + 10) == "assigned"
    assert complaints.assign(store, cid, assignee="wang", actor="zhang", now_us=NOW + 11) == "assigned"
    with pytest.raises(SupervisionError, match="forbidden_step"):
        complaints.reply(store, cid, text="x", actor="wang", now_us=NOW + 12)
    assert complaints.investigate(store, cid, note="调取交易记录", actor="wang", now_us=NOW + 20) == "investigating"
    assert complaints.investigate(store, cid, note="现场测试加油", actor="wang", now_us=NOW + 21) == "investigating"
    assert complaints.reply(store, cid, text="经核查计量合格", actor="wang", now_us=NOW + 30) == "replied"
    assert complaints.reply(store, cid, text="经核查计量合格，误差 +0.8‰", actor="wang", now_us=NOW + 31) == "replied"
    with pytest.raises(SupervisionError) as e:
        complaints.close(store, cid, outcome="dunno", reason="r", actor="wang", now_us=NOW + 40)
    assert e.value.field == "outcome"
    with pytest.raises(SupervisionError) as e:
        complaints.close(store, cid, outcome="unsubstantiated", reason=" ", actor="wang", now_us=NOW + 40)
    assert e.value.field == "reason"
    assert (
        complaints.close(store, cid, outcome="unsubstantiated", reason="测试加油合格", actor="wang", now_us=NOW + 40)
        == "closed"
    )
    got = complaints.get(store, cid)
    assert (got["status"], got["outcome"], got["closed_us"], got["assignee"]) == (
        "closed",
        "unsubstantiated",
        NOW + 40,
        "wang",
    )
    assert got["reply"] == "经核查计量合格，误差 +0.8‰"
    for step in (
        lambda: complaints.assign(store, cid, assignee="li", actor="zhang", now_us=NOW + 50),
        lambda: complaints.reply(store, cid, text="x", actor="wang", now_us=NOW + 50),
        lambda: complaints.close(store, cid, outcome="withdrawn", reason="r", actor="wang", now_us=NOW + 50),
    ):
        with pytest.raises(SupervisionError, match="forbidden_step"):
            step()
    with pytest.raises(SupervisionError, match="unknown_complaint"):
        complaints.assign(store, 999_999, assignee="li", actor="zhang", now_us=NOW)
    # one audit entry per change, in order, and the chain holds
    h = got["history"]
    assert [x["action"] for x in h] == [
        "complaint.submit",
        "complaint.assign",
        "complaint.assign",
        "complaint.investigate",
        "complaint.investigate",
        "complaint.reply",
        "complaint.reply",
        "complaint.close",
    ]
    assert [x["actor"] for x in h][:2] == ["public", "zhang"]
    assert h[3]["reason"] == "调取交易记录" and h[-1]["data"] == {
        "before": "replied",
        "after": "closed",
        "outcome": "unsubstantiated",
    }
    assert _audit_count(store) == 8 and verify(store).ok


def test_overdue_and_listing(store, city) -> None:
    _, _, reg = city
    a = complaints.submit(store, reg, station_id=STATION, text="一", channel="phone", now_us=NOW)
    b = complaints.submit(store, reg, station_id=STATION, text="二", channel="phone", now_us=NOW + US_PER_DAY)
    c = complaints.submit(store, reg, station_id=STATION, text="三", channel="phone", now_us=NOW)
    complaints.assign(store, c, assignee="li", actor="zhang", now_us=NOW + 1)
    complaints.investigate(store, c, note="n", actor="li", now_us=NOW + 2)
    complaints.reply(store, c, text="r", actor="li", now_us=NOW + 3)
    complaints.close(store, c, outcome="withdrawn", reason="投诉人撤回", actor="li", now_us=NOW + 4)
    assert complaints.overdue(store, now_us=NOW + 15 * US_PER_DAY) == []  # exactly at the deadline: not yet
    assert [x["id"] for x in complaints.overdue(store, now_us=NOW + 15 * US_PER_DAY + 1)] == [a]
    late = complaints.overdue(store, now_us=NOW + 17 * US_PER_DAY)
    assert [x["id"] for x in late] == [a, b] and all(x["overdue"] for x in late)
    assert [x["id"] for x in complaints.listing(store)] == [b, c, a]
    assert [x["id"] for x in complaints.listing(store, status="closed")] == [c]
    assert complaints.listing(store, station_ids=["S9999"]) == []
    assert [x["id"] for x in complaints.listing(store, overdue_at_us=NOW + 17 * US_PER_DAY, limit=1)] == [b]
    assert complaints.get(store, a, now_us=NOW + 16 * US_PER_DAY)["overdue"] is True
    assert complaints.get(store, c, now_us=NOW + 16 * US_PER_DAY)["overdue"] is False
    assert complaints.counts(store) == {"received": 2, "assigned": 0, "investigating": 0, "replied": 0, "closed": 1}
    assert complaints.get(store, 123_456) is None


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_an_existing_databases_links_keep_their_sentences_through_the_upgrade(dialect, tmp_path) -> None:
    """Migration 0013 widens a link's ``why`` for its parts (a sale's key whole); a reason
    an existing database stored as a sentence comes through the upgrade as written and is
    shown as written."""
    import contextlib

    from alembic import command
    from services import fresh_pg_database

    from anxin.store.database import Store, migrations_config

    legacy = "同一油枪发生时间前后 +1分05秒 的报警「油量不符」"
    with contextlib.ExitStack() as stack:
        url = str(tmp_path / "db.sqlite") if dialect == "sqlite" else stack.enter_context(fresh_pg_database())
        old = Store(url, migrate=False)
        cfg = migrations_config()
        with old.engine.begin() as c:
            cfg.attributes["connection"] = c
            command.upgrade(cfg, "0012")
            values = dict(received_us=NOW, station_id=STATION, text="x", status="received", channel="qr")
            cid = c.execute(T.complaints.insert().values(**values, deadline_us=NOW)).inserted_primary_key[0]
            c.execute(T.complaint_links.insert().values(complaint_id=cid, kind="alarm", ref="a1", why=legacy))
        old.close()
        store = Store(url)  # brought to the newest migration
        try:
            [link] = complaints.get(store, int(cid))["links"]
            assert (link["why"], link["why_key"]) == (legacy, None)
            sale = f"{STATION}/" + "o" * 294  # a natural key at its longest (300): kept whole in the parts
            with store.engine.begin() as c:
                c.execute(
                    T.complaint_links.insert().values(
                        complaint_id=cid, kind="metering", ref="m", why=parts.dump("paired", sale=sale)
                    )
                )
            stored = {x["ref"]: x for x in complaints.get(store, int(cid))["links"]}["m"]
            assert (stored["why_key"], stored["why"]) == ("paired", f"与销售 {sale} 配对的计量记录")
        finally:
            store.close()
