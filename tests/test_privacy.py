"""Privacy at ingest (docs/privacy.md): personal data in a record's unknown fields (or a
settlement's payment) refused or tokenised — the same lines in ``anxin check`` and live;
nothing honest refused; the contract's own fields never looked at."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from anxin.check.run import run_check
from anxin.contract.parse import Parsed, Reject, parse_line
from anxin.ingest.service import IngestService
from anxin.privacy.detect import find, id_card_ok, luhn_ok
from anxin.privacy.policy import Privacy, judge
from anxin.sim import ScenarioSet, simulate
from anxin.store import schema as T
from anxin.store.database import Store
from tests.factory import T0, City, line

KEY = b"k" * 32


def _luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def _id_complete(first17: str) -> str:
    return next(first17 + c for c in "0123456789X" if id_card_ok(first17 + c))


CARD = _luhn_complete("6222021", 19)  # UnionPay, 19 digits
VISA = _luhn_complete("4111", 16)
ID_NO = _id_complete("33010619850312001")


@pytest.mark.parametrize(
    ("text", "key", "kind"),
    [
        (CARD, "", "card"),
        (f"卡号 {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}", "", "card"),
        (VISA, "", "card"),
        ("13812345678", "", "mobile"),
        ("+86 138-1234-5678", "", "mobile"),
        ("会员 19912345678 积分", "", "mobile"),
        ("浙A12345", "", "plate"),
        ("浙A·D12345", "", "plate"),  # new energy, small car
        ("粤B12345F", "", "plate"),  # new energy, large vehicle
        ("沪AB1234挂", "", "plate"),
        (ID_NO, "", "id_card"),
        ("6214830012345678", "bankAccount", "bank_account"),
        ("1202 0012 3456 789", "收款账号", "bank_account"),
        ("0571-88886666", "contact_tel", "phone"),
    ],
)
def test_each_kind_is_found(text: str, key: str, kind: str) -> None:
    assert [f.kind for f in find(text, key=key)] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "O000123",
        "ORD-20260301-000123",
        "20260301081502250",  # a timestamp as digits
        "5000000",  # a totalizer
        "123456789012",  # 12 digits: no card, no mobile
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits starting like a mobile
        _luhn_complete("1234", 16),  # Luhn holds, but no card scheme starts with 1
        CARD[:-1] + str((int(CARD[-1]) + 1) % 10),  # a card number with the wrong check digit
        ID_NO[:-1] + ("0" if ID_NO[-1] != "0" else "1"),  # an ID number whose check fails
        "110101199013374477",  # month 13
        "a3f9c0e1b2d4a5f6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0",  # a SHA-256
        "浙I12345",  # no I on a plate
        "wechat",
        "微信支付",
        "12.5",
        "S0001-N01",
    ],
)
def test_what_is_not_personal_data_is_not_found(text: str) -> None:
    assert find(text) == []
    assert find(text, key="order_id") == []


def _sale(city: City, **extra: object) -> dict:
    return city.sale(city.metering("S1-N1", T0), **extra)


def test_tokenised_settlement_keeps_the_sale_and_no_number() -> None:
    city = City()
    rec = _sale(city, member={"phone": "13812345678", "car": "浙AD12345"}, card_no=CARD)
    raw = line(rec)
    p = parse_line(raw)
    assert isinstance(p, Parsed)
    j = judge(raw, p, Privacy(mode="tokenise", key=KEY))
    assert isinstance(j.p, Parsed) and set(j.found) == {"mobile", "plate", "card"}
    body = j.body.decode()
    for secret in ("13812345678", "浙AD12345", CARD, CARD[-8:]):
        assert secret not in body
    stored = json.loads(body)
    assert stored["member"]["phone"].startswith("[mobile:") and stored["card_no"].startswith("[card:")
    assert {k: stored[k] for k in rec if k not in ("member", "card_no")} == {
        k: v for k, v in rec.items() if k not in ("member", "card_no")
    }
    # the same number gives the same token (a resend is a duplicate), another key another
    assert judge(raw, p, Privacy(mode="tokenise", key=KEY)).body == j.body
    assert judge(raw, p, Privacy(mode="tokenise", key=b"x" * 32)).body != j.body
    # refuse: a reject naming the kinds and the fields; its excerpt is redacted
    r = judge(raw, p, Privacy(mode="refuse"))
    assert isinstance(r.p, Reject)
    assert "mobile" in r.p.reason and "`$.member.phone`" in r.p.reason and "`$.card_no`" in r.p.reason
    assert "13812345678" not in r.body.decode() and CARD not in r.body.decode()
    assert judge(raw, p, Privacy(mode="keep")).body is raw


def test_a_signed_record_with_personal_data_is_refused_not_altered() -> None:
    city = City()
    m = city.metering("S1-N1", T0, customer_phone="13812345678")  # signed with it
    raw = line(m)
    p = parse_line(raw)
    assert isinstance(p, Parsed)
    for mode in ("tokenise", "refuse"):
        j = judge(raw, p, Privacy(mode=mode, key=KEY))  # type: ignore[arg-type]
        assert isinstance(j.p, Reject)
        assert "signed record" in j.p.reason and "`$.customer_phone`" in j.p.reason
    assert judge(raw, p, Privacy(mode="keep")).p is p


def test_a_settlements_payment_holding_a_card_number_is_tokenised() -> None:
    city = City()
    raw = line(_sale(city, payment=f"银联 {CARD}"))
    p = parse_line(raw)
    assert isinstance(p, Parsed)
    j = judge(raw, p, Privacy(mode="tokenise", key=KEY))
    assert isinstance(j.p, Parsed) and j.p.rec.payment.startswith("银联 [card:")  # type: ignore[union-attr]


# ------------------------------------------------------------------ hypothesis
_ids = st.from_regex(r"[0-9]{6,19}", fullmatch=True)  # the contract's own fields, as digits (cards among them)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=_ids, seq=st.integers(0, 2**53 - 1), tot=st.integers(0, 2**53 - 1))
def test_the_contracts_own_fields_are_never_looked_at(order: str, seq: int, tot: int) -> None:
    city = City()
    m = city.metering("S1-N1", T0, seq=seq % 10**12, totalizer_start_ml=tot, totalizer_end_ml=tot)
    s = city.sale(m, order_id=order)
    for rec in (m, s):
        raw = line(rec)
        p = parse_line(raw)
        assert isinstance(p, Parsed)
        assert judge(raw, p, Privacy(mode="refuse")).p is p


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_secret = st.sampled_from(["13812345678", CARD, VISA, "浙A12345", "京AD12345", ID_NO])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=_json, secret=_secret, before=st.text(max_size=10), after=st.text(max_size=10))
def test_hostile_unknown_fields_never_crash_and_a_number_never_reaches_the_ledger(
    extra: object, secret: str, before: str, after: str
) -> None:
    city = City()
    # (a text that ends or starts with a digit or letter would make the number longer)
    before = before + " " if before else ""
    after = " " + after if after else ""
    rec = _sale(city, x_extra=extra, x_note=f"{before}{secret}{after}")
    raw = msgspec.json.encode(rec)
    p = parse_line(raw)
    if isinstance(p, Reject):  # (a hostile value may break the bounds: that reject is the parser's)
        return
    j = judge(raw, p, Privacy(mode="tokenise", key=KEY))
    assert isinstance(j.p, Parsed)
    assert secret not in j.body.decode()
    r = judge(raw, p, Privacy(mode="refuse"))
    assert isinstance(r.p, Reject) and secret not in r.body.decode()
    assert judge(raw, p, Privacy(mode="refuse")) == r  # decided by the line alone


# ------------------------------------------------------------------ honest data, batch and live
@pytest.fixture(scope="module")
def honest_city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("privacy") / "city"
    simulate(out, stations=3, days=1, seed=5, scenarios=ScenarioSet.parse("honest"), workers=1, group_size=3)
    return out


def test_nothing_honest_is_refused_in_batch(honest_city: Path, tmp_path: Path) -> None:
    kept = run_check(honest_city, tmp_path / "keep", workers=0, privacy=Privacy(mode="keep"))
    refused = run_check(honest_city, tmp_path / "refuse", workers=0, privacy=Privacy(mode="refuse"))
    assert refused.rejects == kept.rejects
    for name in ("alarms.jsonl", "rejects.jsonl", "meters.jsonl"):
        assert (tmp_path / "refuse" / name).read_bytes() == (tmp_path / "keep" / name).read_bytes()


def test_nothing_honest_is_refused_live(honest_city: Path, store: Store) -> None:
    from anxin.sim.replay import arrival_lines, uploads

    svc = IngestService(store, privacy=Privacy(mode="refuse"))
    svc.set_registry((honest_city / "registry.json").read_bytes(), author="test", reason="test city")
    results = [
        r
        for sid, lines in uploads(arrival_lines(honest_city), "S0001")
        for r in svc.ingest(sid, lines, source="t").results
    ]
    assert results and not [r for r in results if r.reason and "personal data" in r.reason]


def test_live_and_batch_agree_line_by_line(store: Store, tmp_path: Path) -> None:
    city = City()
    m1 = city.metering("S1-N1", T0)
    m2 = city.metering("S1-N1", T0 + 600_000_000, customer_phone="13812345678")  # signed with it
    lines = [
        line(m1),
        line(city.sale(m1, member_card=CARD)),
        line(m2),
        line(city.sale(m2)),
    ]
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    (data / "s1.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    for mode in ("refuse", "tokenise"):
        out = tmp_path / mode
        run_check(data, out, workers=0 if mode == "refuse" else 2, privacy=Privacy(mode=mode))  # type: ignore[arg-type]
        batch = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
        svc = IngestService(store, privacy=Privacy(mode=mode, key=KEY), clock=lambda: T0 + 3_600_000_000)  # type: ignore[arg-type]
        if svc.registry is None:
            svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
        res = svc.ingest("S1", lines, source="t").results
        live = [(r.line, r.reason) for r in res if r.status == "rejected"]
        assert live == [(b["line"], b["reason"]) for b in batch]
        assert [n for n, _ in live] == ([2, 3] if mode == "refuse" else [3])
    # the rejects table keeps the lines redacted; the ledger keeps no number
    with store.engine.connect() as c:
        excerpts = b"".join(c.execute(select(T.rejects.c.excerpt)).scalars())
        bodies = b"".join(c.execute(select(T.ledger.c.body)).scalars())
    for secret in (b"13812345678", CARD.encode()):
        assert secret not in excerpts and secret not in bodies
    assert b"[card:" in bodies
    # a resend of the tokenised sale is a duplicate (the same token every time)
    again = svc.ingest("S1", [lines[1]], source="t").results[0]
    assert again.status == "duplicate"


def test_anxin_check_takes_the_privacy_mode_and_refuses_a_bad_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anxin.cli import app

    city = City()
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    (data / "s1.jsonl").write_bytes(line(_sale(city, member_phone="13812345678")) + b"\n")
    runner = CliRunner()
    for mode, rejects in (("refuse", 1), ("tokenise", 0), ("keep", 0)):
        got = runner.invoke(
            app, ["check", str(data), "--out", str(tmp_path / mode), "--workers", "0", "--privacy", mode]
        )
        assert got.exit_code == 0, got.output
        assert len((tmp_path / mode / "rejects.jsonl").read_text().splitlines()) == rejects
        assert json.loads((tmp_path / mode / "summary.json").read_text())["privacy"] == mode  # (the run repeats)
    bad = runner.invoke(app, ["check", str(data), "--out", str(tmp_path / "x"), "--privacy", "forget"])
    assert bad.exit_code == 2 and "forget" in bad.output and "tokenise" in bad.output


def test_a_forgery_with_a_phone_is_still_quarantined_and_alarmed(store: Store, tmp_path: Path) -> None:
    """A signature that does not hold has no bytes to keep: the forgery is tokenised and
    quarantined as BAD_SIGNATURE — adding a phone number never turns it into a silent
    refusal. Live and batch alike."""
    city = City()
    m = city.metering("S1-N1", T0)
    forged = dict(m, volume_ml=m["volume_ml"] + 500, customer_phone="13812345678")  # after signing
    lines = [line(forged)]
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    (data / "s1.jsonl").write_bytes(lines[0] + b"\n")
    run_check(data, tmp_path / "out", workers=0)
    batch = [json.loads(x)["rule"] for x in (tmp_path / "out" / "alarms.jsonl").read_text().splitlines()]
    assert batch == ["BAD_SIGNATURE"]
    svc = IngestService(store, privacy=Privacy(mode="tokenise", key=KEY), clock=lambda: T0 + 3_600_000_000)
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
    res = svc.ingest("S1", lines, source="t").results[0]
    assert res.status == "quarantined"
    with store.engine.connect() as c:
        body = bytes(c.execute(select(T.ledger.c.body)).scalar_one())
        rules = list(c.execute(select(T.alarms.c.rule)).scalars())
    assert b"13812345678" not in body and b"[mobile:" in body
    assert rules == ["BAD_SIGNATURE"]
    # refuse: the line is refused (a refused line is one not sent: the station gains nothing)
    r = judge(lines[0], parse_line(lines[0]), Privacy(mode="refuse"), verdict=None)  # type: ignore[arg-type]
    assert isinstance(r.p, Reject)


@pytest.mark.parametrize(("mode", "status"), [(None, "accepted"), ("refuse", "rejected"), ("keep", "accepted")])
def test_anxin_serve_takes_its_privacy_setting(tmp_path: Path, monkeypatch, mode: str | None, status: str) -> None:
    """The upload API as a station's POS meets it, the setting from the environment."""
    from fastapi.testclient import TestClient

    from anxin.serve.runtime import build

    if mode is not None:
        monkeypatch.setenv("ANXIN_PRIVACY", mode)
    city = City()
    reg = tmp_path / "registry.json"
    reg.write_bytes(msgspec.json.encode(city.registry_dict()))
    admin = "admin-token-0123456789-abc"
    _, service, app = build(db=str(tmp_path / "db.sqlite"), registry=reg, admin_token=admin)
    try:
        c = TestClient(app)
        token = c.post("/v1/stations/S1/token", headers={"Authorization": f"Bearer {admin}"}).json()["token"]
        sale = _sale(city, loyalty={"mobile": "13812345678"})
        r = c.post(
            "/v1/records",
            content=line(sale),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        )
        got = r.json()["results"][0]
        assert got["status"] == status, got
        with service.store.engine.connect() as conn:
            bodies = b"".join(bytes(b) for b in conn.execute(select(T.ledger.c.body)).scalars())
        assert (b"13812345678" in bodies) == (mode == "keep")
        if mode is None:
            assert "tokenised" in got["reason"] and b"[mobile:" in bodies
    finally:
        service.store.close()
