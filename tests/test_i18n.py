"""The console speaks Chinese first: every rule the engine raises has a Chinese rendering."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
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
def test_english_switch_keeps_the_stored_message(rule: str, monkeypatch) -> None:
    monkeypatch.setenv("ANXIN_LANG", "en")
    a = Alarm(alarm_id="x", rule=rule, severity="major", station_id="S1", ts="t", message="m", evidence={})
    assert alarm_text(a) == "m"
