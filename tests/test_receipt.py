"""Receipts anyone can verify (issue 17, item 1): the digest and the URL (the POS's
``sdk.receipt_url``), the checks on tampered evidence, the page and its bundle against a
real ledger — hostile URLs get a clear answer that reveals nothing — and ``anxin receipt
verify`` offline, agreeing with the server. The page's own script: test_receipt_browser.py."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from services import fresh_pg_database
from typer.testing import CliRunner

from anxin import sdk
from anxin.cli import _fail
from anxin.receipt.check import check, key_of
from anxin.receipt.cli import register
from anxin.receipt.digest import (
    ReceiptError,
    parse_receipt_url,
    public_sale,
    receipt_of,
    sale_digest,
)
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_items
from anxin.store import schema as T
from anxin.web import receipt as web_receipt

CARD = "6222020200112233445"  # a card number a POS put in a field of its own


def anxin(*args: str):
    """``anxin receipt …`` as the command line runs it (its words in the process's language,
    or ``--lang``)."""
    root = typer.Typer()
    root.callback()(lambda: None)
    register(root, Console(), _fail)
    lang = [] if "--lang" in args else ["--lang", "zh"]  # (a test before may have left the process in English)
    return CliRunner().invoke(root, [*args, *lang])


def sale(**over):
    base = {
        "kind": "settlement",
        "station_id": "S0001",
        "order_id": "O-1",
        "nozzle_id": "S0001-D1-N1",
        "pump_seq": 12,
        "ts": "2026-03-01T23:59:30.000+08:00",
        "volume_ml": 41230,
        "unit_price_fen": 785,
        "amount_fen": 32366,
        "paid_fen": 32000,
        "payment": "wechat",
    }
    return {**base, **over}


# ------------------------------------------------------------------ digest and URL
def test_digest_is_fixed_and_covers_only_public_fields():
    s = sale()
    url = sdk.receipt_url("https://anxin.example.gov.cn/", s)
    assert url == "https://anxin.example.gov.cn/r/S0001/O-1/20260301-" + sale_digest(public_sale(s))
    # The definition, independently (a printed receipt stays valid: the digest never changes).
    public = {k: v for k, v in s.items() if k not in ("kind", "paid_fen")}
    text = json.dumps(public, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(b"anxin-receipt-v1\n" + text.encode()).digest()[:10]
    assert sale_digest(public_sale(s)) == base64.b32encode(digest).decode().lower() == "w75ebie6yebohpko"
    # Neither the paid amount nor a field of the POS's own is in it (nor shown); the method is.
    assert receipt_of(sale(paid_fen=1, card_no=CARD)) == receipt_of(s)
    assert receipt_of(sale(payment="wechat pay 6222…")) == receipt_of(sale(payment="bank")), "not a method: other"
    assert receipt_of(sale(payment="alipay")) != receipt_of(s)
    assert receipt_of(sale(volume_ml=41240)) != receipt_of(s)
    # The nonce makes the digest unguessable from the sale; a malformed one is ignored.
    assert receipt_of(sale(receipt_nonce="Zk3-q9_xYw2")) != receipt_of(s)
    assert receipt_of(sale(receipt_nonce="short")) == receipt_of(s)
    # The day is the sale's local day (UTC+08:00), whatever offset the POS wrote.
    assert receipt_of(sale(ts="2026-03-01T16:00:00Z")).day == "20260302"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("https://x/p/S0001-D1-N1", "url_not_receipt"),
        ("https://x/r/S0001/O-1", "url_not_receipt"),
        ("https://x/r/S0001/O-1/20260301-2qrqtbzhugf2xpx", "url_bad_digest"),
        ("https://x/r/S0001/O-1/20260301-2QRQTBZHUGF2XPXB", "url_bad_digest"),
        ("https://x/r/S0001/O-1/20261301-2qrqtbzhugf2xpxb", "url_bad_day"),
        ("https://x/r/S0001/" + "O" * 129 + "/20260301-2qrqtbzhugf2xpxb", "url_bad_id"),
        ("https://x/r/S0001/O-1/20260301-2qrqtbzhugf2xpxb?" + "a" * 5000, "url_too_long"),
    ],
)
def test_hostile_urls_are_named(text, key):
    with pytest.raises(ReceiptError) as e:
        parse_receipt_url(text)
    assert e.value.key == key
    assert e.value.text("zh") and e.value.text("en") and key not in e.value.text("en")


def test_url_round_trip_with_escaped_ids():
    s = sale(station_id="S 01/东", order_id="订单#7?")
    r = parse_receipt_url(sdk.receipt_url("https://x", s))
    assert (r.station_id, r.order_id) == ("S 01/东", "订单#7?")
    assert r == receipt_of(s)


# ------------------------------------------------------------------ a ledger behind a server
# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("receipt")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    """A small honest city in the ledger behind the app — SQLite, and PostgreSQL (the
    lookups are the same SQL on both)."""
    root = tmp_path_factory.mktemp("receipt")
    simulate(root / "city", stations=2, days=1, seed=4, scenarios=ScenarioSet.honest(), workers=1, group_size=2)
    with contextlib.ExitStack() as stack:
        db = str(root / "db.sqlite") if request.param == "sqlite" else stack.enter_context(fresh_pg_database())
        _, service, app = build(db=db, registry=root / "city" / "registry.json", cookie_secure=False)
        stack.callback(service.store.close)
        waiting = defaultdict(list)
        for _, sid, raw in arrival_items(root / "city"):
            waiting[sid].append(raw)
        sales = [json.loads(x) for lines in waiting.values() for x in lines if b'"settlement"' in x]
        # A sale whose POS put a card number in a field of its own, and a nonce.
        extra = {**sales[3], "order_id": "CARD-1", "card_no": CARD, "receipt_nonce": "n0nce-Zk3q9xYw"}
        waiting[extra["station_id"]].append(json.dumps(extra, ensure_ascii=False).encode())
        odd = {**sales[4], "order_id": "班次2/订单#7?x=1"}  # an order id that must be escaped in a link
        waiting[odd["station_id"]].append(json.dumps(odd, ensure_ascii=False).encode())
        orphan = {**sales[5], "order_id": "ORPHAN-1", "pump_seq": 1}  # a sale no module record belongs to
        waiting[orphan["station_id"]].append(json.dumps(orphan, ensure_ascii=False).encode())
        for sid, lines in waiting.items():
            service.ingest(sid, lines, source=f"test:{sid}")
        yield root, service, app, sales, extra


@pytest.fixture()
def client(served):
    _, service, app, _, _ = served
    with service.store.engine.begin() as c:
        c.execute(T.throttle.delete())
    web_receipt.LIMITS = web_receipt.ReceiptLimits()
    return TestClient(app, client=("198.51.100.7", 40000))


def path_of(s: dict) -> str:
    return sdk.receipt_url("", s)


def server_verdict(html: str) -> str:
    return re.search(r'id="server-verdict".*?data-verdict="(\w+)"', html, re.S)[1]


def test_honest_sale_verifies_on_the_page_and_offline(served, client, tmp_path):
    root, _, _, sales, _ = served
    s = next(x for x in sales if x["pump_seq"] is not None and x["station_id"] == "S0001")
    r = client.get(path_of(s))
    assert r.status_code == 200
    assert server_verdict(r.text) == "verified"
    assert 'data-verdict="pending"' in r.text  # the browser's own box, for the script
    b = client.get(path_of(s) + "/bundle.json")
    assert b.status_code == 200 and b.json()["server"]["verdict"] == "verified"
    assert "attachment" in b.headers["content-disposition"]
    bundle = tmp_path / "receipt.json"
    bundle.write_bytes(b.content)
    reg = root / "city" / "registry.json"
    run = anxin(*["receipt", "verify", path_of(s), "--bundle", str(bundle), "--registry", str(reg)])
    assert run.exit_code == 0, run.output
    assert "已验证" in run.output
    run = anxin(
        *["receipt", "verify", path_of(s), "--records", str(root / "city"), "--registry", str(reg), "--lang", "en"]
    )
    assert run.exit_code == 0, run.output
    assert "Verified" in run.output and "✗" not in run.output


def test_no_personal_data_on_the_page_or_in_the_bundle(served, client):
    _, _, _, _, extra = served
    page = client.get(path_of(extra))
    assert page.status_code == 200 and server_verdict(page.text) == "verified"
    body = client.get(path_of(extra) + "/bundle.json").text
    for text in (page.text, body):
        assert CARD not in text and "card_no" not in text
        assert "paid_fen" not in text and str(extra["paid_fen"]) not in text.replace(str(extra["amount_fen"]), "")


def test_a_sale_without_its_record_is_not_verified(served, client):
    _, _, _, sales, _ = served
    page = client.get(path_of({**sales[5], "order_id": "ORPHAN-1", "pump_seq": 1}))
    assert page.status_code == 200 and server_verdict(page.text) == "not_verified"
    assert "没有计量记录" in page.text


def test_an_order_id_that_needs_escaping(served, client):
    _, _, _, sales, _ = served
    odd = {**sales[4], "order_id": "班次2/订单#7?x=1"}
    path = path_of(odd)
    assert "%2F" in path and "%23" in path and "%3F" in path
    page = client.get(path)
    assert page.status_code == 200 and server_verdict(page.text) == "verified"
    assert f'href="{path}/bundle.json"' in page.text
    assert f"testserver{path}'" in page.text  # the offline command's link, as the QR code carries it
    assert client.get(path + "/bundle.json").json()["sale"]["order_id"] == odd["order_id"]


def test_tampered_evidence_is_not_verified_offline(served, client, tmp_path):
    root, _, _, sales, _ = served
    s = next(x for x in sales[50:] if x["pump_seq"] is not None)  # not a nozzle's first: it has a previous
    doc = client.get(path_of(s) + "/bundle.json").json()
    assert doc["previous"] is not None
    receipt = parse_receipt_url(path_of(s))
    reg = root / "city" / "registry.json"
    from anxin.contract.registry import load_registry

    registry = load_registry(reg)

    def keys(n, k):
        return key_of(registry, n, k)

    assert check(doc, receipt, keys=keys).verified
    cases = {
        "metering byte": lambda d: d["metering"].update(
            canonical=re.sub(
                r'"volume_ml":(\d)', lambda m: f'"volume_ml":{(int(m[1]) + 1) % 10}', d["metering"]["canonical"]
            )
        ),
        "sale amount": lambda d: d["sale"].update(amount_fen=d["sale"]["amount_fen"] + 100),
        "previous totalizer": lambda d: d["previous"].update(
            canonical=d["previous"]["canonical"].replace('"totalizer_end_ml":', '"totalizer_end_ml":1')
        ),
        "no record": lambda d: d.update(metering=None),
        "server's key swapped in": lambda d: d["metering"].update(public_key=sdk.new_key("ed25519").public_key),
    }
    for name, change in cases.items():
        bad = copy.deepcopy(doc)
        change(bad)
        verdict = check(bad, receipt, keys=keys).verified
        if name == "server's key swapped in":
            assert verdict, "offline, the registry's key is used, never the bundle's"
            assert not check(bad, receipt).verified, "the page trusts the bundle's key: a wrong one fails"
            continue
        assert not verdict, name
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad), encoding="utf-8")
        run = anxin(*["receipt", "verify", path_of(s), "--bundle", str(path), "--registry", str(reg)])
        assert run.exit_code == 1, (name, run.output)
        assert "未通过验证" in run.output


def test_hostile_urls_reveal_nothing(served, client):
    _, _, _, sales, _ = served
    s = next(x for x in sales if x["station_id"] == "S0001" and x["pump_seq"] is not None)
    good = path_of(s)
    wrong_digest = good[:-4] + ("aaaa" if not good.endswith("aaaa") else "bbbb")
    unknown_order = path_of({**s, "order_id": "NO-SUCH-ORDER"})
    other_station = good.replace("/r/S0001/", "/r/S0002/", 1)  # another station's path, this order's digest
    unknown_station = good.replace("/r/S0001/", "/r/NOWHERE/", 1)
    answers = [client.get(p) for p in (wrong_digest, unknown_order, other_station, unknown_station)]
    assert {a.status_code for a in answers} == {404}
    messages = {re.search(r'<p[^>]*class="error"[^>]*>(.*?)</p>|<main.*?</main>', a.text, re.S)[0] for a in answers}
    assert len(messages) == 1, "the same answer, whatever is missing"
    assert "没有与此小票相符的销售记录" in answers[0].text
    assert s["nozzle_id"] not in answers[0].text and str(s["volume_ml"]) not in answers[0].text
    assert {client.get(p + "/bundle.json").json()["detail"] for p in (wrong_digest, other_station)} == {
        "没有与此小票相符的销售记录（链接可能有误，或记录尚未上传）。"
    }
    bad = client.get("/r/S0001/x/20260101-0000000000000000")  # 0, 1, 8, 9 are not base32
    assert bad.status_code == 400 and "摘要格式不对" in bad.text
    huge = client.get("/r/S0001/" + "x" * 5000 + "/20260101-" + "a" * 16)
    assert huge.status_code == 400 and "过长" in huge.text
    en = client.get("/r/S0001/x/2026-" + "a" * 16 + "?lang=en")
    assert en.status_code == 400 and "day is not valid" in en.text


def test_guessing_is_rate_limited(served, client):
    _, _, _, sales, _ = served
    s = next(x for x in sales if x["station_id"] == "S0001" and x["pump_seq"] is not None)
    web_receipt.LIMITS = web_receipt.ReceiptLimits(misses_per_address_hour=5)
    for i in range(5):
        assert client.get(path_of({**s, "order_id": f"GUESS-{i}"})).status_code == 404
    stop = client.get(path_of(s))  # even the right one, from this address, for the rest of the hour
    assert stop.status_code == 429 and int(stop.headers["Retry-After"]) > 0
    assert "查询过于频繁" in stop.text
    other = TestClient(client.app, client=("203.0.113.9", 40000))
    assert other.get(path_of(s)).status_code == 200, "another address is not held up"
    # Guesses about one station from many addresses: past the station's limit an address
    # that has missed is stopped, but a customer's first lookup is still answered (else
    # anyone — the station itself — could keep its customers from checking).
    with client.app.state.service.store.engine.begin() as c:
        c.execute(T.throttle.delete())
    web_receipt.LIMITS = web_receipt.ReceiptLimits(misses_per_station_hour=3)
    sprayers = [TestClient(client.app, client=(f"192.0.2.{i + 1}", 40000)) for i in range(3)]
    for i, c in enumerate(sprayers):
        assert c.get(path_of({**s, "order_id": f"SPRAY-{i}"})).status_code == 404
    assert sprayers[0].get(path_of(s)).status_code == 429, "an address that guessed is held up"
    customer = TestClient(client.app, client=("192.0.2.99", 40000))
    assert customer.get(path_of(s)).status_code == 200, "a customer's real receipt is answered"
    late = TestClient(client.app, client=("192.0.2.100", 40000))
    assert late.get(path_of({**s, "order_id": "SPRAY-late"})).status_code == 404  # one guess an hour
    assert late.get(path_of({**s, "order_id": "SPRAY-later"})).status_code == 429


def test_receipt_verify_says_what_is_missing(tmp_path):
    run = anxin(*["receipt", "verify", "https://x/r/S/O/20260301-" + "a" * 16, "--lang", "en"])
    assert run.exit_code == 2 and "--registry" in run.output
    run = anxin(*["receipt", "verify", "https://x/p/N1", "--key", "k", "--alg", "sm2", "--lang", "en"])
    assert run.exit_code == 2 and "not a receipt link" in run.output
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (5 * 1024 * 1024))
    run = anxin(
        *[
            "receipt",
            "verify",
            "https://x/r/S/O/20260301-" + "a" * 16,
            "--bundle",
            str(big),
            "--key",
            "k",
            "--alg",
            "sm2",
            "--lang",
            "en",
        ],
    )
    assert run.exit_code == 2 and "cannot be read" in run.output


def test_docs_mention_the_sdk_call():
    text = (Path(__file__).resolve().parents[1] / "docs/vendors.md").read_text(encoding="utf-8")
    assert "sdk.receipt_url(" in text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
bundle_parts = st.fixed_dictionaries(
    {},
    optional={
        "sale": st.one_of(
            json_values,
            st.builds(
                lambda extra: {**sale(), **extra},
                st.dictionaries(st.sampled_from(["ts", "volume_ml", "payment", "pump_seq", "amount_fen"]), json_values),
            ),
        ),
        "metering": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"canonical": st.text(max_size=200), "sig": json_values, "alg": json_values, "public_key": json_values}
            ),
        ),
        "previous": json_values,
        "between": json_values,
        "max_flow_ml_per_min": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(bundle_parts)
def test_any_bundle_gets_a_verdict_never_an_exception(doc):
    receipt = receipt_of(sale())
    report = check(doc, receipt)
    assert not report.verified
    assert report.findings and all(f.status in ("ok", "fail", "na") for f in report.findings)


def test_a_hostile_bundle_file_is_named(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    url = "https://x/r/S0001/O-1/20260301-" + "a" * 16
    run = anxin("receipt", "verify", url, "--bundle", str(deep), "--key", "k", "--alg", "sm2", "--lang", "en")
    assert run.exit_code == 2 and "cannot be read" in run.output
    nested = {
        "sale": public_sale(sale()),
        "metering": {"canonical": "[" * 5000 + "]" * 5000, "sig": "", "alg": "sm2", "public_key": "00"},
    }
    (tmp_path / "nested.json").write_text(json.dumps(nested))
    run = anxin(
        "receipt",
        "verify",
        sdk.receipt_url("https://x", sale()),
        "--bundle",
        str(tmp_path / "nested.json"),
        "--key",
        "00",
        "--alg",
        "sm2",
    )
    assert run.exit_code == 1 and "计量记录无法读取" in run.output
