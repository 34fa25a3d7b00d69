"""A flood of tank readings (hostile or a faulty gauge) costs the platform nothing that
grows with it: a reading closer than the minimum gap to one the tank already has is not
taken, in any arrival order; a gauge reading every few minutes loses nothing; resends are
still told apart."""

from __future__ import annotations

from factory import T0, City, run
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.contract.times import US_PER_MIN, format_ts
from anxin.engine import EngineSettings
from anxin.engine.gauge import TankReadings, place

GAP = EngineSettings().reading_min_gap_us


def _reading(t_us: int, level_um: int = 1_500_000, station: str = "S1") -> dict:
    return {
        "kind": "tank_reading",
        "station_id": station,
        "tank_id": f"{station}-T1",
        "ts": format_ts(t_us),
        "level_um": level_um,
        "water_um": 0,
        "temp_mc": 18_000,
    }


def _take(idx: TankReadings, t: int, digest: bytes, gap_us: int) -> bytes | bool:
    """The engine's use of its index: the digest already at ``t`` (a resend), False for a
    neighbour closer than the gap, else True (taken)."""
    if (prev := idx.find(t)) is not None:
        return prev
    i = place(idx.t, t, gap_us)
    if i is None:
        return False
    idx.add(i, t, digest)
    return True


def _witness_log(book):
    return book.engine.tanklogs.logs["S1-T1"]


def test_a_flood_of_readings_a_millisecond_apart_is_thinned_to_the_gap():
    flood = [_reading(T0 + i * 1_000) for i in range(5_000)]  # 5 s of readings, 1 ms apart
    flood += [_reading(T0 + 10 * US_PER_MIN + i * 7_000_000) for i in range(200)]  # 23 min at 7 s
    book = run(City().registry(), flood)
    counts = book.engine.counts
    taken = counts["tank_reading"]
    assert taken == 1 + 40  # the first of the burst; one in every 35 s of the 1 393 s of the second
    assert counts["readings_too_frequent"] == len(flood) - taken
    assert len(_witness_log(book).r_t) == taken
    assert len(book.engine.stations["S1"].readings["S1-T1"].t) == taken


def test_a_gauge_reading_every_minute_loses_nothing():
    recs = [_reading(T0 + i * US_PER_MIN) for i in range(600)]
    book = run(City().registry(), recs)
    assert book.engine.counts["tank_reading"] == 600
    assert "readings_too_frequent" not in book.engine.counts


def test_resends_are_still_resends_and_a_changed_one_conflicts():
    recs = [_reading(T0), _reading(T0 + US_PER_MIN), _reading(T0), _reading(T0, level_um=1_400_000)]
    counts = run(City().registry(), recs).engine.counts
    assert (counts["tank_reading"], counts["resends"], counts["conflicting_resends"]) == (2, 1, 1)


@settings(max_examples=200, deadline=None)
@given(times=st.lists(st.integers(min_value=0, max_value=10 * GAP), min_size=1, max_size=60))
def test_in_any_arrival_order_the_taken_readings_are_the_gap_apart(times):
    """The invariant that bounds the memory: whatever order readings come in, no two taken
    readings of a tank are closer than the gap, the first arrival is taken, and a reading is
    refused only for a taken neighbour closer than the gap."""
    idx = TankReadings()
    verdicts = [_take(idx, t, t.to_bytes(8, "big"), GAP) for t in times]
    assert verdicts[0] is True
    kept = list(idx.t)
    assert kept == sorted(kept) and all(b - a >= GAP for a, b in zip(kept, kept[1:]))
    for t, v in zip(times, verdicts):
        if v is False:
            assert any(0 < abs(t - k) < GAP for k in kept)
        elif v is not True:
            assert t in kept and v == t.to_bytes(8, "big")


def test_pruning_forgets_the_readings_before_the_retention():
    idx = TankReadings()
    for t in range(0, 10 * GAP, GAP):
        assert _take(idx, t, b"d", GAP) is True
    idx.prune(5 * GAP)
    assert list(idx.t) == list(range(5 * GAP, 10 * GAP, GAP)) and len(idx.digest) == 5
    assert _take(idx, 4 * GAP + GAP // 2, b"d", GAP) is False  # its neighbour after it is still held
    assert _take(idx, 2 * GAP, b"d", GAP) is True  # the forgotten ones no longer count


def test_anxin_check_counts_the_thinned_readings_in_its_summary(tmp_path):
    """The batch checker says how many readings it did not take (summary.json and the
    table), the same on one process and on shards."""
    import json

    import msgspec
    from typer.testing import CliRunner

    from anxin.check.run import run_check
    from anxin.cli import app

    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(msgspec.json.encode(City().registry_dict()))
    flood = [_reading(T0 + i * 5_000_000) for i in range(120)]  # 10 min of readings 5 s apart
    (data / "gauge.jsonl").write_bytes(b"\n".join(msgspec.json.encode(r) for r in flood) + b"\n")
    one = run_check(data, tmp_path / "one", workers=0, as_of_us=T0 + 3_600_000_000)
    two = run_check(data, tmp_path / "two", workers=2, as_of_us=T0 + 3_600_000_000)
    assert one.records["tank_reading"] == two.records["tank_reading"] == 20  # one each 30 s
    assert one.readings_too_frequent == two.readings_too_frequent == 100
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["readings_too_frequent"] == 100
    shown = CliRunner().invoke(app, ["check", str(data), "--out", str(tmp_path / "cli"), "--lang", "zh"])
    assert shown.exit_code == 0, shown.output
    assert "过密的液位读数" in shown.output


def test_readings_sent_again_after_the_engine_forgot_them_do_not_pile_up_in_the_window():
    """The engine's index of readings keeps its retention (here 1 h); the witness keeps a
    30-day window. Readings a second off ones the window holds, sent once the index has
    forgotten them, are refused by the window itself."""
    settings = EngineSettings(retention_us=60 * US_PER_MIN)
    honest = [_reading(T0 + i * 5 * US_PER_MIN) for i in range(72)]  # 6 h, every 5 min
    again = [_reading(T0 + i * 5 * US_PER_MIN + 1_000_000) for i in range(24)]  # the first 2 h, +1 s
    forgot = run(City().registry(), honest, settings=settings).engine.stations["S1"].readings["S1-T1"]
    assert forgot.t[0] > T0 + 2 * 60 * US_PER_MIN  # the index no longer holds the first 2 h
    book = run(City().registry(), honest + again, settings=settings)
    engine = book.engine
    assert engine.counts["tank_reading"] == 72
    assert engine.counts["readings_too_frequent"] == 24
    log = _witness_log(book)
    assert len(log.r_t) == 72 and list(log.r_t) == sorted(log.r_t)


def test_the_live_service_shows_the_readings_it_did_not_take_on_metrics(tmp_path):
    """An operator sees a station flooding its gauge: /metrics counts the refused readings."""
    import msgspec

    from anxin.ingest.service import IngestService
    from anxin.serve.metrics import render_metrics
    from anxin.store.database import Store

    city = City()
    svc = IngestService(Store(str(tmp_path / "db.sqlite")))
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
    flood = [msgspec.json.encode(_reading(T0 + i * 1_000)) for i in range(300)]  # 0.3 s of readings
    result = svc.ingest("S1", flood, source="test")
    assert result.accepted == 300  # each is stored as evidence; the engine takes one
    text, _ = render_metrics(svc)
    assert b"anxin_readings_too_frequent_total 299.0" in text
