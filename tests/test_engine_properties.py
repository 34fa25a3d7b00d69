"""Engine invariants (hypothesis): the alarms depend on the records, not on how
they were delivered — arrival order within the horizon, resends, batch vs
record by record, one file vs many."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
from factory import run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scenario import build, event_time, shuffled_within

from anxin.check.book import AlarmBook
from anxin.check.run import run_check
from anxin.contract.alarm import LIVE_ONLY_RULES
from anxin.contract.parse import parse_line
from anxin.contract.times import US_PER_H, US_PER_MIN, format_ts
from anxin.crypto.keys import KeyRing, authenticate
from anxin.engine import Engine, EngineSettings
from anxin.engine.clock import Tick

SEEDS = st.integers(min_value=0, max_value=10_000)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fingerprint(book) -> list[tuple]:
    return sorted(
        (a.alarm_id, a.rule, a.station_id, a.nozzle_id, a.seq, a.order_id, a.ts, a.message)
        for a in book.alarms.values()
    )


@SETTINGS
@given(seed=SEEDS, shuffle_seed=SEEDS)
def test_arrival_order_within_the_horizon_changes_no_alarm(seed: int, shuffle_seed: int) -> None:
    city, recs = build(seed)
    reg = city.registry()
    base = fingerprint(run(reg, recs))
    shuffled = shuffled_within(recs[:-2], random.Random(shuffle_seed), 20 * US_PER_MIN) + recs[-2:]
    assert fingerprint(run(reg, shuffled)) == base


@SETTINGS
@given(seed=SEEDS, resend_seed=SEEDS)
def test_identical_resends_change_nothing(seed: int, resend_seed: int) -> None:
    city, recs = build(seed)
    reg = city.registry()
    base = fingerprint(run(reg, recs))
    rnd = random.Random(resend_seed)
    noisy = list(recs[:-2])
    for _ in range(rnd.randint(1, 20)):
        i = rnd.randrange(len(noisy))
        noisy.insert(rnd.randint(i, min(len(noisy), i + 10)), noisy[i])
    assert fingerprint(run(reg, noisy + recs[-2:])) == base


def write_files(data_dir: Path, reg_dict: dict, parts: list[list[dict]]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "registry.json").write_bytes(msgspec.json.encode(reg_dict))
    for i, part in enumerate(parts):
        (data_dir / f"part{i:02d}.jsonl").write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in part))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(seed=SEEDS, n_files=st.integers(min_value=2, max_value=5), split_seed=SEEDS)
@example(seed=7837, n_files=5, split_seed=0)  # two versions of one seq at the same event time
def test_batch_equals_record_by_record_and_split_files_change_nothing(
    tmp_path_factory, seed: int, n_files: int, split_seed: int
) -> None:
    city, recs = build(seed)
    base = fingerprint(run(city.registry(), recs))
    root = tmp_path_factory.mktemp("split")
    write_files(root / "one", city.registry_dict(), [recs])
    rnd = random.Random(split_seed)
    parts: list[list[dict]] = [[] for _ in range(n_files)]
    for r in recs:  # each file keeps its records in arrival order
        parts[rnd.randrange(n_files)].append(r)
    write_files(root / "many", city.registry_dict(), parts)
    outputs = []
    for name in ("one", "many"):
        run_check(root / name, root / f"{name}.out", workers=0)
        outputs.append((root / f"{name}.out" / "alarms.jsonl").read_bytes())
    assert outputs[0] == outputs[1]
    batch = sorted(
        (a["alarm_id"], a["rule"], a["station_id"], a["nozzle_id"], a["seq"], a["order_id"], a["ts"], a["message"])
        for a in map(msgspec.json.decode, outputs[0].splitlines())
    )
    assert batch == base


# ------------------------------------------------------------------ the platform's clock
def _feed_received(reg, recs: list[dict], received: list[int], ticks: dict[int, list] | None = None, settings=None):
    """Feed ``recs`` with their receipt times (and ``ticks`` before record i); the book."""
    engine = Engine(reg, settings) if settings else Engine(reg)
    ring = KeyRing.from_registry(reg)
    book = AlarmBook()
    for i, (r, rx) in enumerate(zip(recs, received, strict=True)):
        for tick in (ticks or {}).get(i, ()):
            book.add(engine.tick(tick))
        p = parse_line(msgspec.json.encode(r))
        book.add(engine.feed(p, authenticate(p, ring), received_us=rx))  # type: ignore[arg-type]
    book.engine = engine  # type: ignore[attr-defined]
    return book


def _not_live_only(fp: list[tuple]) -> list[tuple]:
    return [x for x in fp if x[1] not in LIVE_ONLY_RULES]


def _receipts(recs: list[dict], rnd: random.Random) -> list[int]:
    """Receipt times as an edge agent gives them: the newest event time uploaded so far,
    give or take a few minutes of clock skew (within the CLOCK_AHEAD tolerance)."""
    out, newest = [], -(1 << 62)
    for r in recs:
        newest = max(newest, event_time(r))
        out.append(newest + rnd.randint(-4 * 60, 3 * 60) * 1_000_000)
    return out


@SETTINGS
@given(seed=SEEDS, shuffle_seed=SEEDS)
def test_receipt_times_within_the_tolerance_change_no_alarm(seed: int, shuffle_seed: int) -> None:
    city, recs = build(seed)
    reg = city.registry()
    base = fingerprint(run(reg, recs))
    rnd = random.Random(shuffle_seed)
    arrived = shuffled_within(recs[:-2], rnd, 20 * US_PER_MIN) + recs[-2:]
    book = _feed_received(reg, arrived, _receipts(arrived, rnd))
    assert _not_live_only(fingerprint(book)) == base
    assert book.engine.counts["clock_ahead"] == 0  # type: ignore[attr-defined]


@SETTINGS
@given(seed=SEEDS, tick_seed=SEEDS)
def test_a_tick_moves_the_watermark_like_a_record_and_nothing_else(seed: int, tick_seed: int) -> None:
    city, recs = build(seed)
    recs = recs[:-2]  # no late dispensing: the day's decisions wait on the watermark
    reg = city.registry()
    quiet = EngineSettings(witness_enabled=False)
    rnd = random.Random(tick_seed)
    received = _receipts(recs, rnd)
    base = fingerprint(_feed_received(reg, recs, received, settings=quiet))
    # Ticks at or behind the watermark, anywhere: nothing changes.
    stale: dict[int, list] = {}
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(1, len(recs))
        until = max(event_time(r) for r in recs[:i]) - rnd.randint(0, 3600) * 1_000_000
        stale.setdefault(i, []).append(Tick(received_us=received[i - 1], station_id="S1", until_us=until))
    assert fingerprint(_feed_received(reg, recs, received, stale, settings=quiet)) == base
    # A tick a day ahead decides what a record of that time decides, no more.
    until = max(event_time(r) for r in recs) + 24 * US_PER_H
    end = max(received) + 24 * US_PER_H
    ticked = _feed_received(reg, recs, received, settings=quiet)
    ticked.add(ticked.engine.tick(Tick(received_us=end, station_id="S1", until_us=until)))  # type: ignore[attr-defined]
    reading = {
        "kind": "tank_reading",
        "station_id": "S1",
        "tank_id": "S1-T1",
        "ts": format_ts(until),
        "level_um": 1_000_000,
        "water_um": 0,
        "temp_mc": 20_000,
    }
    recorded = _feed_received(reg, [*recs, reading], [*received, end], settings=quiet)
    assert fingerprint(ticked) == fingerprint(recorded)
    assert ticked.engine.pending() == recorded.engine.pending() == {}  # type: ignore[attr-defined]
