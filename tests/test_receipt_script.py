"""The receipt page's script (static/receipt.js) against the platform's own code, in Debian's
chromium through Playwright: its canonical bytes, SM3 and signature verdicts against the
published test vectors (docs/vectors/vectors.json) and random signatures (SM2 by the
shipped verifier, Ed25519 by Web Crypto), and its findings against anxin.receipt.check's
on the same evidence — the honest bundle and each way of breaking it, 1000 bundles damaged
at random, 400 freshly signed sales drawn around an honest one."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from pathlib import Path

import httpx2
import msgspec
import pytest

pytest.register_assert_rewrite("receipt_pages")  # its asserts explain themselves, as a test's do
from receipt_pages import own_verdict  # noqa: E402

from anxin import sdk
from anxin.crypto.schemes import load_verifier
from anxin.receipt.check import check
from anxin.receipt.digest import Receipt, parse_receipt_url, public_sale, receipt_of, sale_day

pytest_plugins = ["demo_city", "receipt_pages"]  # the demo city and its receipts
pytestmark = pytest.mark.xdist_group("demo-city")  # in the worker that built it

ROOT = Path(__file__).resolve().parents[1]


def test_the_page_script_agrees_with_the_published_vectors(browser, demo_city, receipts):
    """Canonical bytes (contract v1.1 §E) for every vector, SM3's standard example, and every
    signature vector's verdict — SM2 by the shipped verifier, Ed25519 by Web Crypto."""
    doc = json.loads((ROOT / "docs/vectors/vectors.json").read_text(encoding="utf-8"))
    keys = {k["name"]: k for k in doc["keys"]}
    cases = [
        {
            "name": v["name"],
            "record": {k: x for k, x in v["record"].items() if k != "sig"},
            "canonical_hex": v["canonical_hex"],
            "signature_hex": v["signature_hex"],
            "alg": v["alg"],
            "public_key": keys[v["verify_with"]]["public_key"],
            "expect": v["expect"],
        }
        for v in doc["vectors"]
    ]
    assert {c["alg"] for c in cases} == {"ed25519", "sm2"} and len(cases) >= 30
    page = browser.new_page()
    try:
        page.goto(demo_city.base + receipts["printed"])
        own_verdict(page)
        got = page.evaluate(
            """async (cases) => {
              const R = window.anxinReceipt, hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
              const out = {sm3: hex(R.sm3(new TextEncoder().encode("abc"))), cases: []};
              for (const c of cases) {
                const canonical = hex(new TextEncoder().encode(R.canonical(c.record)));
                const verdict = await R.verifySig(c.alg, c.public_key, R.fromHex(c.canonical_hex), R.fromHex(c.signature_hex));
                out.cases.push({name: c.name, canonical, verdict});
              }
              return out;
            }""",
            cases,
        )
    finally:
        page.close()
    assert got["sm3"] == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 A.1
    by_name = {c["name"]: c for c in got["cases"]}
    for c in cases:
        js = by_name[c["name"]]
        assert js["canonical"] == c["canonical_hex"], c["name"]
        assert (js["verdict"] == "ok") == (c["expect"] == "valid"), (c["name"], js["verdict"])


def _variants(doc: dict) -> dict[str, dict]:
    """The bundle, and changed copies of it: each a different check's failure."""

    def changed(fn) -> dict:
        d = copy.deepcopy(doc)
        fn(d)
        return d

    def canon(item: dict, old: str, new: str) -> None:
        assert old in item["canonical"]
        item["canonical"] = item["canonical"].replace(old, new, 1)

    rec = json.loads(doc["metering"]["canonical"])
    return {
        "honest": doc,
        "metering byte": changed(
            lambda d: canon(d["metering"], f'"volume_ml":{rec["volume_ml"]}', f'"volume_ml":{rec["volume_ml"] + 1}')
        ),
        "sale amount": changed(lambda d: d["sale"].update(amount_fen=d["sale"]["amount_fen"] + 1)),
        "no record": changed(lambda d: d.update(metering=None)),
        "wrong key": changed(lambda d: d["metering"].update(public_key=d["previous"]["public_key"][:-4] + "AAA=")),
        "slow limit": changed(lambda d: d.update(max_flow_ml_per_min=1000)),
        "no limit": changed(lambda d: d.update(max_flow_ml_per_min=None)),
        "first": changed(lambda d: d.update(previous=None, between=[])),
        "previous forged": changed(lambda d: canon(d["previous"], '"totalizer_end_ml":', '"totalizer_end_ml":1')),
        "not canonical": changed(lambda d: canon(d["metering"], '{"', '{ "')),
        "sig not strict base64": changed(
            lambda d: d["metering"].update(sig=d["metering"]["sig"][:8] + "\n" + d["metering"]["sig"][8:])
        ),
        "no key": changed(lambda d: d["metering"].update(public_key=None)),
    }


def test_the_script_and_the_server_decide_alike(browser, demo_city, receipts):
    """The same findings (name and outcome, in order) from the page's script and from
    anxin.receipt.check, for the honest bundle and each way of breaking it."""
    path = receipts["printed"]
    doc = httpx2.get(demo_city.base + path + "/bundle.json", timeout=30).json()
    assert doc["previous"] is not None
    receipt = parse_receipt_url(path)
    variants = _variants(doc)
    page = browser.new_page()
    try:
        page.goto(demo_city.base + path)
        own_verdict(page)
        js = page.evaluate(
            """async ([variants, receipt]) => {
              const out = {};
              for (const [name, bundle] of Object.entries(variants)) {
                out[name] = (await window.anxinReceipt.check(bundle, receipt)).map((f) => [f.name, f.status]);
              }
              return out;
            }""",
            [variants, msgspec.to_builtins(receipt)],
        )
        days = [
            "2026-03-01T16:00:00Z",
            "2026-03-01T15:59:59.999999Z",
            "2026-03-01T23:59:59.999999+08:00",
            "2026-02-28T11:30:00.25-05:00",
            "2026-03-01 00:00:00+08:00",
        ]
        js_days = page.evaluate("(days) => days.map(window.anxinReceipt.localDay)", days)
    finally:
        page.close()
    assert js_days == [sale_day(d) for d in days]
    for name, bundle in variants.items():
        py = [[f.name, f.status] for f in check(bundle, receipt).findings]
        assert js[name] == py, name
        assert all(s in ("ok", "na") for _, s in py) == (name in ("honest", "no limit", "first")), name


def test_the_shipped_sm2_verifier_agrees_with_the_platforms(browser, demo_city, receipts):
    """Beyond the vectors: random messages signed by fresh keys, and each signature with a
    bit flipped in the message, in r, in s, r or s out of range, another key — the page's
    verdicts (SM2 in JavaScript, Ed25519 by Web Crypto) equal the platform's."""
    rng = random.Random(17)
    n = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
    cases = []
    for alg in ("sm2", "ed25519"):
        keys = [sdk.new_key(alg) for _ in range(3)]
        for i in range(12):
            key = keys[i % 3]
            message = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
            sig = key.signer.sign(message)
            flip = bytearray(sig)
            flip[rng.randrange(64)] ^= 1 << rng.randrange(8)
            variants = [(message, sig, key), (message + b"x", sig, key), (message, bytes(flip), key)]
            variants.append((message, sig, keys[(i + 1) % 3]))
            if alg == "sm2":
                variants.append((message, bytes(32) + sig[32:], key))  # r = 0
                variants.append((message, sig[:32] + n.to_bytes(32, "big"), key))  # s = n
            for m, s, k in variants:
                verdict = load_verifier(alg, k.public_key).verify(m, s)
                cases.append({"alg": alg, "pk": k.public_key, "m": m.hex(), "s": s.hex(), "expect": verdict})
    assert sum(c["expect"] for c in cases) == 24 and len(cases) > 100
    page = browser.new_page()
    try:
        page.goto(demo_city.base + receipts["printed"])
        own_verdict(page)
        got = page.evaluate(
            """async (cases) => {
              const R = window.anxinReceipt, out = [];
              for (const c of cases) { out.push(await R.verifySig(c.alg, c.pk, R.fromHex(c.m), R.fromHex(c.s))); }
              return out;
            }""",
            cases,
        )
    finally:
        page.close()
    assert [g == "ok" for g in got] == [c["expect"] for c in cases]


def test_the_script_and_the_server_decide_alike_on_random_damage(browser, demo_city, receipts):
    """1000 bundles damaged at random — a sale's field or the flow limit set to a value of
    another type or size, a character of a signed record's text changed, a record dropped —
    get the same findings from the page's script as from anxin.receipt.check."""
    path = receipts["printed"]
    doc = httpx2.get(demo_city.base + path + "/bundle.json", timeout=30).json()
    receipt = parse_receipt_url(path)
    rng = random.Random(29)
    pool = [None, True, False, 0, -1, 1, 2**53 - 1, -(2**53 - 1), 1.5, "", "x", "wechat", [], {}, [1], {"a": 1}]
    bundles = []
    for _ in range(1000):
        d = copy.deepcopy(doc)
        for _ in range(rng.randrange(1, 3)):
            what = rng.randrange(5)
            if what == 0:
                d["sale"][rng.choice(sorted(d["sale"]))] = rng.choice(pool)
            elif what == 1:
                d["max_flow_ml_per_min"] = rng.choice(pool)
            elif what in (2, 3):
                item = d[rng.choice(["metering", "previous"])]
                text = item.get("canonical") if isinstance(item, dict) else None
                if text:
                    i = rng.randrange(len(text))
                    item["canonical"] = text[:i] + rng.choice('0123456789"{}[],:ax\\\\ ') + text[i + 1 :]
            else:
                d[rng.choice(["metering", "previous", "between"])] = rng.choice([None, [], {}, "x"])
        bundles.append(d)
    page = browser.new_page()
    try:
        page.goto(demo_city.base + path)
        own_verdict(page)
        js = page.evaluate(
            """async ([bundles, receipt]) => {
              const out = [];
              for (const b of bundles) {
                try { out.push((await window.anxinReceipt.check(b, receipt)).map((f) => [f.name, f.status])); }
                catch (err) { out.push(String(err)); }
              }
              return out;
            }""",
            [bundles, msgspec.to_builtins(receipt)],
        )
    finally:
        page.close()
    py = [[[f.name, f.status] for f in check(b, receipt).findings] for b in bundles]
    differ = [(i, js[i], py[i]) for i in range(len(bundles)) if js[i] != py[i]]
    assert not differ, differ[:3]
    assert sum(all(s != "fail" for _, s in p) for p in py) < len(py)  # (the damage does fail checks)


def _signed_item(record: dict, key) -> dict:
    signed = sdk.sign(record, key)
    return {
        "canonical": sdk.canonical_bytes(signed).decode(),
        "sig": signed["sig"],
        "key_id": record["key_id"],
        "alg": key.alg,
        "public_key": key.public_key,
    }


def _random_case(rng: random.Random, keys: list) -> tuple[dict, dict]:
    """(a bundle of records signed by ``keys``, the receipt of its sale), with values drawn
    around an honest sale so that every check passes or fails by a little."""
    key = rng.choice(keys)
    k = rng.choice([100_000, 998_700, 1_000_000])
    volume = rng.randrange(0, 120_000)
    pulses = (volume * k + 500_000) // 1_000_000 + rng.choice([0, 0, 0, 1, -1, 5])
    t0 = rng.randrange(3_000_000)
    duration_ms = (
        rng.choice([0, -1000, rng.randrange(1, 600_000)]) if rng.random() < 0.2 else rng.randrange(20_000, 600_000)
    )
    frac = rng.choice(["", ".5", ".123456", ".999"])
    off = rng.choice(["+08:00", "Z", "-05:00"])

    def ts(ms: int) -> str:
        t = dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
        zone = {"+08:00": dt.timedelta(hours=8), "Z": dt.timedelta(0), "-05:00": dt.timedelta(hours=-5)}[off]
        local = t.astimezone(dt.timezone(zone)).replace(tzinfo=None).isoformat(timespec="seconds")
        return local + frac + off

    seq = rng.randrange(1, 2**40)
    total0 = rng.randrange(10**9)
    meter = {
        "kind": "metering",
        "station_id": "S1",
        "nozzle_id": "N1",
        "seq": seq,
        "start": ts(t0),
        "end": ts(t0 + duration_ms),
        "pulses": pulses,
        "k_pulses_per_m3": k,
        "volume_ml": volume,
        "totalizer_start_ml": total0,
        "totalizer_end_ml": total0 + volume + rng.choice([0, 0, 0, 10]),
        "key_id": "K1",
    }
    if rng.random() < 0.1:
        meter[rng.choice(["station_id", "nozzle_id", "kind"])] = "other"
    sold = 10 * ((volume + 5) // 10) + rng.choice([0, 0, 0, 10, -20, 30])
    price = rng.choice([785, 790, 1, 99_999])
    amount = (2 * sold * price + 1000) // 2000 + rng.choice([0, 0, 1, -2, 3])
    legacy = rng.random() < 0.2
    sale = {
        "station_id": "S1",
        "order_id": f"O{rng.randrange(10**6)}",
        "nozzle_id": "N1",
        "pump_seq": None if legacy else seq + rng.choice([0, 0, 0, 0, 1]),
        "ts": ts(t0 + duration_ms + rng.choice([0, 30_000, 14 * 60_000, 16 * 60_000, -1])),
        "volume_ml": sold,
        "unit_price_fen": price,
        "amount_fen": amount,
        "payment": rng.choice(["cash", "x"]),
    }
    sale = public_sale(sale)
    bundle: dict = {"sale": sale, "metering": _signed_item(meter, key), "previous": None, "between": []}
    bundle["max_flow_ml_per_min"] = rng.choice([None, 60_000, 10_000, 1])
    if rng.random() < 0.8:
        gap = rng.choice([1, 1, 1, 2, 3])
        prev = {
            **meter,
            "seq": seq - gap,
            "totalizer_end_ml": total0 - rng.choice([0, 0, 0, 10]),
            "end": ts(t0 - 60_000),
        }
        bundle["previous"] = _signed_item(prev, key)
        for s in range(seq - gap + 1, seq):
            if rng.random() < 0.8:
                event = {
                    "kind": "event",
                    "station_id": "S1",
                    "nozzle_id": "N1",
                    "seq": s,
                    "ts": ts(t0 - 1000),
                    "event": "power_on",
                    "data": {},
                    "key_id": "K1",
                }
                bundle["between"].append(_signed_item(event, key))
    receipt = receipt_of(sale)
    if rng.random() < 0.05:
        receipt = msgspec.structs.replace(receipt, digest="a" * 16)
    return bundle, msgspec.to_builtins(receipt)


def test_the_script_and_the_server_decide_alike_on_random_signed_sales(browser, demo_city, receipts):
    """400 sales and their records, freshly signed (Ed25519 and SM2), drawn around an
    honest sale so that every check — pairing, volume, amount, arithmetic, flow (times in
    three offsets, fractions of a second), continuity, sequence — passes or fails by a
    little: the page's script and anxin.receipt.check give the same findings."""
    rng = random.Random(31)
    keys = [sdk.new_key("ed25519"), sdk.new_key("sm2")]
    cases = [_random_case(rng, keys) for _ in range(400)]
    page = browser.new_page()
    try:
        page.goto(demo_city.base + receipts["printed"])
        own_verdict(page)
        js = page.evaluate(
            """async (cases) => {
              const out = [];
              for (const [b, r] of cases) { out.push((await window.anxinReceipt.check(b, r)).map((f) => [f.name, f.status])); }
              return out;
            }""",
            cases,
        )
    finally:
        page.close()
    py = [[[f.name, f.status] for f in check(b, Receipt(**r)).findings] for b, r in cases]
    differ = [(i, js[i], py[i]) for i in range(len(cases)) if js[i] != py[i]]
    assert not differ, differ[:2]
    verdicts = [all(s != "fail" for _, s in p) for p in py]
    assert 0 < sum(verdicts) < len(verdicts)
    failed = {name for p in py for name, s in p if s == "fail"}
    assert failed >= {"digest", "paired", "volume", "amount", "arithmetic", "flow", "continuity", "sequence"}
