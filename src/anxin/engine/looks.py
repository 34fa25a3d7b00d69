"""When the tank witness looks (油罐见证的时点): at each station, once per
``witness_every_us`` of event time (local midnights by default), over the window before
that instant, once the watermark is a horizon past it — by then everything of the
window has arrived, so batch and live take the same look — and once more at the end
of a batch with every test. Functions of the engine's state, kept apart from its
record-level core."""

from __future__ import annotations

from typing import Any

from anxin.contract.times import format_ts
from anxin.engine.witness import WitnessLook, WitnessResult, merge_results, witness_station


def scheduled_looks(engine: Any, st: Any, t: int, out: list) -> None:
    """The looks now due at station ``st`` (its watermark just moved to ``t``); only
    findings not yet alarmed are raised."""
    s = engine.s
    every, off = s.witness_every_us, s.local_offset_us
    if st.next_look is None:
        st.next_look = ((t + off) // every + 1) * every - off
    while st.watermark >= st.next_look + s.horizon_us:
        look = st.next_look
        st.next_look += every
        tanks = [x for x in engine.reg.tanks_of_station.get(st.station_id, ()) if x in engine.tanklogs.logs]
        if not tanks:
            continue
        tests = s.witness_tests_every_us > 0 and (look + off - s.witness_tests_phase_us) % s.witness_tests_every_us == 0
        res = witness_station(
            engine.tanklogs,
            st.station_id,
            tanks,
            s.witness,
            since=look - s.witness_window_us,
            until=look,
            tests=tests,
            ts_us=look,
        )
        for a in [*res.alarms, *confirmed(engine, st.station_id, res.candidates, look)]:
            if a.alarm_id not in engine.witness_raised:
                engine.witness_raised.add(a.alarm_id)
                out.append(a)
        if res.tanks:
            out.append(
                WitnessLook(
                    station_id=st.station_id, ts=format_ts(look), tests=tests, meters=res.meters, tanks=res.tanks
                )
            )


def confirmed(engine: Any, station_id: str, candidates: list, look: int | None) -> list:
    """The METER_DRIFT findings of this look that the station's previous look found too
    (two consecutive looks), each with both looks in its evidence; this look's findings
    wait for the next (``look`` None: the end of a batch, which confirms but does not
    wait)."""
    if not hasattr(engine, "witness_pending"):  # an engine checkpointed before this existed
        engine.witness_pending = {}
    pending = engine.witness_pending
    before = pending.get(station_id, {})
    out = []
    for a in candidates:
        prev = before.get(a.alarm_id)
        if prev is not None:
            a.evidence["looks"] = [format_ts(prev), a.evidence.get("window_end")]
            out.append(a)
    if look is not None:
        pending[station_id] = {a.alarm_id: look for a in candidates}
    return out


def final_look(engine: Any) -> WitnessResult:
    """Every station's window up to its watermark, with every test; its estimates also as
    one ``WitnessLook`` per station at its watermark (``looks``), which the live service
    stores like a scheduled look's (the demo's replay ends so: its data stops before the
    watermark passes the next midnight by the horizon, so without it a two-day city would
    never have an estimate stored)."""
    if engine.tanklogs is None:
        return WitnessResult(alarms=[], meters=[], tanks=[])
    results = []
    for st in sorted(engine.stations.values(), key=lambda x: x.station_id):
        tanks = [t for t in engine.reg.tanks_of_station.get(st.station_id, ()) if t in engine.tanklogs.logs]
        if tanks:
            since = st.watermark - engine.s.witness_window_us
            res = witness_station(engine.tanklogs, st.station_id, tanks, engine.s.witness, since=since)
            res.alarms += confirmed(engine, st.station_id, res.candidates, None)
            if res.tanks:
                res.looks.append(
                    WitnessLook(
                        station_id=st.station_id,
                        ts=format_ts(st.watermark),
                        tests=True,
                        meters=res.meters,
                        tanks=res.tanks,
                    )
                )
            results.append(res)
    return merge_results(results)
