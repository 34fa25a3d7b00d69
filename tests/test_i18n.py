"""The console speaks Chinese first: every rule the engine raises has a Chinese rendering."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scenario import build

from anxin.check.run import run_check
from anxin.contract.alarm import Alarm
from anxin.i18n import RULE_NAMES_ZH, alarm_text


def test_every_alarm_of_a_scenario_city_has_a_chinese_message(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ANXIN_LANG", "zh")
    seen = set()
    for seed in range(12):
        city, recs = build(seed)
        d = tmp_path / str(seed)
        d.mkdir()
        (d / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
        (d / "a.jsonl").write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in recs))
        run_check(d, d / "out", workers=0)
        for line in (d / "out" / "alarms.jsonl").read_bytes().splitlines():
            a = Alarm(**msgspec.json.decode(line))
            text = alarm_text(a)
            assert text != a.message and any("\u4e00" <= ch <= "\u9fff" for ch in text), (a.rule, text)
            seen.add(a.rule)
    assert len(seen) >= 10


@pytest.mark.parametrize("rule", sorted(RULE_NAMES_ZH))
def test_english_without_the_evidence_it_needs_keeps_the_stored_message(rule: str, monkeypatch) -> None:
    """English is rendered from the evidence as Chinese is; a sentence that needs no
    evidence is said as it is, and one whose evidence is missing falls back to the
    engine's stored message (the contract's English), never to a rule code."""
    from anxin.i18n.po import table

    monkeypatch.setenv("ANXIN_LANG", "en")
    a = Alarm(alarm_id="x", rule=rule, severity="major", station_id="S1", ts="t", message="m", evidence={})
    # sentences without parameters (a breach whose event is unnamed is "a module event")
    plain = {"BAD_SIGNATURE", "K_FACTOR_CHANGE", "STATION_BIAS", "SEAL_BREACH"}
    said = table("alarm")[rule][1].format(event="a module event") if rule in plain else "m"
    assert alarm_text(a) == said


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
plausible = st.fixed_dictionaries(
    {},
    optional={
        "settlement": st.dictionaries(st.sampled_from(["volume_ml", "amount_fen", "unit_price_fen"]), json_values),
        "metering": st.dictionaries(st.sampled_from(["volume_ml"]), json_values),
        "difference_ml": json_values,
        "expected_amount_fen": json_values,
        "ci95_permille": json_values,
        "error_permille": json_values,
        "level": json_values,
        "problems": json_values,
        "event": json_values,
        "reason": json_values,
    },
)


@given(rule=st.sampled_from(sorted(RULE_NAMES_ZH)), ev=plausible | st.dictionaries(st.text(max_size=8), json_values))
def test_any_evidence_gives_a_headline_in_either_language(rule: str, ev: dict) -> None:
    """A hostile record's evidence (wrong types, NaN, huge numbers, missing parts) never
    breaks an alarm list: Chinese is Chinese (or the rule's name), English is a sentence
    or the engine's stored message."""
    from anxin.i18n import alarm_message

    zh = alarm_message(rule, ev, "stored", language="zh")
    en = alarm_message(rule, ev, "stored", language="en")
    assert re.search(r"[\u4e00-\u9fff]", zh) and isinstance(en, str) and en
