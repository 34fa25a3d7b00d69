"""Issue 13, item 2 (first part): an alarm's evidence as a regulator reads it — every
field under its Chinese name with its unit, the metering record and the settlement side
by side with the disagreeing field marked, fields no catalog names (a station may send
any) kept as they came in a list of their own, and no value a hostile record sends can
break the page."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from anxin.web.evidence import FIELDS, present, value

METERING = {
    "kind": "metering",
    "station_id": "S0001",
    "nozzle_id": "S0001-D1-N1",
    "seq": 812,
    "start": "2026-03-01T08:00:00.000+08:00",
    "end": "2026-03-01T08:01:40.000+08:00",
    "pulses": 40215,
    "k_pulses_per_m3": 1000000,
    "volume_ml": 40215,
    "totalizer_start_ml": 1000000,
    "totalizer_end_ml": 1040215,
    "key_id": "S0001-D1-N1-k1",
}
SETTLEMENT = {
    "station_id": "S0001",
    "order_id": "O-1",
    "nozzle_id": "S0001-D1-N1",
    "pump_seq": 812,
    "ts": "2026-03-01T08:01:41.000+08:00",
    "volume_ml": 41230,
    "unit_price_fen": 789,
    "amount_fen": 32530,
    "paid_fen": 32530,
    "payment": "unionpay",
}
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def _text(view) -> str:
    parts = [r["label"] + r["metering"] + r["settlement"] for r in view["records"]]
    parts += [f["label"] + f["value"] for f in view["fields"]]
    return " ".join(parts)


def test_the_records_side_by_side_in_chinese_with_units():
    ev = {"metering": METERING, "settlement": SETTLEMENT, "difference_ml": 1015, "tolerance_ml": 10}
    view = present(ev, "zh")
    rows = {r["label"]: r for r in view["records"]}
    assert (
        rows["体积"]["metering"] == "40.22 升" and rows["体积"]["settlement"] == "41.23 升" and rows["体积"]["differ"]
    )
    assert rows["单价"]["settlement"] == "7.89 元/升" and rows["实付金额"]["settlement"] == "325.30 元"
    assert rows["支付方式"]["settlement"] == "银联卡"
    assert rows["计量模块序号"]["metering"] == "812" == rows["计量模块序号"]["settlement"]
    assert rows["时间"]["metering"] == "2026-03-01 08:01:40"
    assert not rows["油枪"]["differ"]
    fields = {f["label"]: f["value"] for f in view["fields"]}
    assert fields == {"体积差（结算 − 计量）": "+1.02 升", "容差": "0.01 升"}
    assert not SNAKE.search(_text(view)) and view["unknown"] == []
    english = present(ev, "en")
    assert {r["label"] for r in english["records"]} >= {"Volume", "Unit price", "Payment"}
    assert "UnionPay card" in _text(english)


def test_a_field_no_catalog_names_is_kept_as_it_came():
    view = present({"metering": METERING, "vendor_note": {"x": 1}, "error_permille": 4.567}, "zh")
    assert view["unknown"] == [{"label": "vendor_note", "value": '{"x":1}'}]
    assert {"label": "计量误差", "value": "+4.57‰"} in view["fields"]


def test_the_witness_evidence_reads_in_chinese():
    ev = {
        "error_permille": 44.95,
        "ci95_permille": [43.1, 46.8],
        "window_start": "2026-02-01T00:00:00.000+08:00",
        "scale_anchored": True,
        "method": "witness.method.anchored",
        "deliveries_used": 5,
        "deliveries_declared": 6,
    }
    text = _text(present(ev, "zh"))
    assert "+44.95‰" in text and "+43.10…+46.80‰" in text and "是" in text and "进油单锚定" in text
    assert not SNAKE.search(text)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)


@given(st.sampled_from(sorted(FIELDS)), JSONISH)
@example(key="seq", v=float("inf"))
@example(key="ts", v=2**62)
@example(key="volume_ml", v=10**400)
@example(key="payment", v=["cash"])
def test_any_value_in_any_field_is_shown_not_raised(key, v):
    """A record's fields are the station's: whatever it sends under a known name is shown
    (as it came when it is not what the field holds) and never stops the page."""
    for lang in ("zh", "en"):
        assert isinstance(value(key, v, lang), str)


@given(st.dictionaries(st.text(max_size=12), JSONISH, max_size=6), JSONISH, JSONISH)
def test_any_evidence_is_presented(ev, metering, settlement):
    for lang in ("zh", "en"):
        view = present({**ev, "metering": metering, "settlement": settlement}, lang)
        assert isinstance(view["records"], list) and isinstance(view["unknown"], list)


def test_every_lifecycle_state_has_its_words():
    """The states the lifecycles define are all in the catalog (a raw "received" or
    "decided" on a Chinese page was issue 13's finding); one it lacks is a dash in Chinese."""
    from anxin.register.queries import STATUSES as REGISTER
    from anxin.supervision.cases import STATUSES as CASES
    from anxin.supervision.complaints import STATUSES as COMPLAINTS
    from anxin.supervision.inspections import KINDS
    from anxin.supervision.inspections import STATUSES as INSPECTIONS
    from anxin.supervision.lifecycle import RECTIFICATION
    from anxin.web.texts import STATES, case_source, state_word

    for group, states in (
        ("complaint", COMPLAINTS),
        ("inspection", INSPECTIONS),
        ("inspection_kind", KINDS),
        ("case", CASES),
        ("register", REGISTER),
        ("rectification", RECTIFICATION.statuses),
    ):
        for s in states:
            zh, en = STATES[group][s]
            assert state_word(group, s, "zh") == zh and not re.search(r"[A-Za-z]", zh)
            assert state_word(group, s, "en") == en
    assert set(STATES["rectification"]) == set(RECTIFICATION.statuses)  # no word for a state nothing sets
    assert state_word("case", "no_such", "zh") == "—" and state_word("case", "no_such", "en") == "no_such"
    assert case_source("complaint:12", "zh") == "投诉 #12" and case_source("alarm:ab12", "en") == "alarm #ab12"
    assert case_source("odd", "zh") == "odd"


def test_module_events_and_the_seal_alarm_in_words():
    from anxin.i18n import alarm_message
    from anxin.web.evidence import event_name

    assert event_name("seal_open", "zh") == "铅封打开" and event_name("seal_open", "en") == "seal opened"
    assert event_name("vendor_thing", "zh") == "vendor_thing"  # the module's own word, kept as evidence
    msg = alarm_message(
        "SEAL_BREACH", {"event": {"event": "seal_open"}}, "seal_open with no verification", language="zh"
    )
    assert msg == "铅封打开：前后 2 小时内无检定"


def test_the_engines_reasons_read_in_chinese():
    """The engine writes its reasons in English into the evidence (stored as written); a
    Chinese reader gets them in Chinese, a rule code inside by its name."""
    from anxin.i18n import alarm_message, reason_text

    view = present(
        {
            "reason": "SEAL_BREACH (seq 812) since the last passing verification",
            "problems": ["negative volume or pulses"],
        },
        "zh",
    )
    fields = {f["label"]: f["value"] for f in view["fields"]}
    assert fields == {"原因": "上次合格检定后发生「铅封/防作弊破坏」（序号 812）", "问题": "体积或脉冲为负"}
    ev = {"reason": "key_id is not this nozzle's key", "record": {}, "quarantined": True}
    assert (
        alarm_message("UNKNOWN_DEVICE", ev, "x", language="zh")
        == "未登记设备或密钥，记录已隔离留证（签名密钥不属于该油枪）"
    )
    assert reason_text("seal breach (seq 3822498) since the last passing verification", "zh") == (
        "上次合格检定后发生「铅封破坏」（序号 3822498）"
    )
    assert reason_text("a reason no pattern knows", "zh") == "a reason no pattern knows"  # evidence, as written
    assert reason_text("verification expired", "en") == "verification expired"


def test_the_engines_reasons_name_a_rule_in_english_by_its_name():
    """Older evidence names the breach by its rule code ("SEAL_BREACH (seq 812) since…"):
    the English shows the rule's English name there, as the Chinese shows its Chinese one;
    the engine's own words, a number and a certificate stay as written."""
    from anxin.i18n import RULE_NAMES_EN, alarm_message, reason_text

    old = "SEAL_BREACH (seq 812) since the last passing verification"
    assert reason_text(old, "en") == "Seal or tamper breach (seq 812) since the last passing verification"
    assert RULE_NAMES_EN["SEAL_BREACH"] == "Seal or tamper breach"  # (the name, from the catalog)
    fields = {f["label"]: f["value"] for f in present({"reason": old}, "en")["fields"]}
    assert "SEAL_BREACH" not in str(fields) and "Seal or tamper breach (seq 812)" in str(fields), fields
    k = "K_FACTOR_CHANGE (seq 9) since the last passing verification"
    message = f"dispensing while {k}"  # the stored English quotes the reason
    assert alarm_message("NO_SUCH_RULE", {"reason": k}, message, language="en") == (
        "dispensing while K factor change (seq 9) since the last passing verification"
    )
    new = "seal breach (seq 3822498) since the last passing verification"
    assert reason_text(new, "en") == new
    assert reason_text("last verification failed (SEAL_BREACH-7)", "en") == "last verification failed (SEAL_BREACH-7)"


def test_the_audit_log_reads_in_words():
    """Audit actions and subjects ("login.success", "citizen_request:1") in words; an
    action no catalog names stays as the log wrote it."""
    from anxin.web.texts import AUDIT_ACTIONS, audit_action, audit_subject

    assert audit_action("login.success", "zh") == "登录" and audit_action("login.success", "en") == "signed in"
    assert audit_subject("citizen_request:1", "zh") == "你点我检申请 1"
    assert audit_subject("alarm:4ef2", "zh") == "报警 4ef2" and audit_subject("odd", "zh") == "odd"
    assert audit_action("something.new", "zh") == "something.new"
    assert all(not re.search(r"[A-Za-z]", zh) for zh, _ in AUDIT_ACTIONS.values())


def test_a_k_factor_changes_data_reads_in_words():
    from anxin.web.evidence import event_data

    assert event_data("k_factor_change", {"old": 1000000, "new": 1002000}, "zh") == "K 系数 1000000 → 1002000"
    assert event_data("k_factor_change", {"old": 1}, "zh") == '{"old":1}'  # not what the contract says: as sent
    assert event_data("seal_open", None, "zh") == ""
