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
from scenario import build, shuffled_within

from anxin.check.run import run_check
from anxin.contract.times import US_PER_MIN

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
