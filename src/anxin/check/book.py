"""Collects what the engine returns during a batch run, so the output files are
ordered the same way whatever the arrival order (sorted by time, rule and key),
and notes on earlier alarms (late partners) land in those alarms' evidence."""

from __future__ import annotations

from collections import Counter
from typing import Any

from anxin.contract.alarm import Alarm
from anxin.engine.clock import WatchStart
from anxin.engine.outputs import AlarmNote
from anxin.engine.witness import WitnessLook


class AlarmBook:
    def __init__(self) -> None:
        self.alarms: dict[str, Alarm] = {}
        self.verifications: list[Any] = []
        self.by_rule: Counter[str] = Counter()
        self.looks = 0

    def add(self, outputs: list) -> None:
        for o in outputs:
            if isinstance(o, Alarm):
                if o.alarm_id not in self.alarms:
                    self.alarms[o.alarm_id] = o
                    self.by_rule[o.rule] += 1
            elif isinstance(o, AlarmNote):
                a = self.alarms.get(o.alarm_id)
                if a is not None:
                    a.evidence.setdefault(o.key, o.value)
            elif isinstance(o, WitnessLook):
                self.looks += 1  # a batch keeps the final estimates (meters.jsonl)
            elif isinstance(o, WatchStart):
                pass  # the live service's monitoring start (online rate)
            else:
                self.verifications.append(o)

    def sorted_alarms(self) -> list[Alarm]:
        return sorted(
            self.alarms.values(),
            key=lambda a: (a.ts, a.station_id, a.rule, a.nozzle_id or "", a.seq or 0, a.order_id or "", a.alarm_id),
        )

    def sorted_verifications(self) -> list[Any]:
        return sorted(self.verifications, key=lambda v: (v.ts, v.nozzle_id, v.certificate_no))
