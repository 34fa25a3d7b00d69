"""``anxin check DATA_DIR --out OUT_DIR`` (contract section 6): files in, alarms out."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from anxin.check.book import AlarmBook
from anxin.check.pipeline import default_workers, merged
from anxin.check.reader import data_files
from anxin.check.shards import ShardFailed, collect, run_shards
from anxin.contract.parse import Parsed
from anxin.contract.registry import RegistryError, load_registry
from anxin.contract.times import format_ts
from anxin.engine import Engine, EngineSettings
from anxin.logs import get
from anxin.privacy.policy import Privacy

log = get("check")

_enc = msgspec.json.Encoder()


class CheckError(Exception):
    """The run could not start; the message is a one-line reason."""


class Summary(msgspec.Struct, kw_only=True):
    data_dir: str
    as_of: str  # the receipt time played for every record (contract v1.1 §B, §G): --as-of repeats the run
    privacy: str = "tokenise"  # what was done with personal data in records (docs/privacy.md): --privacy repeats it
    files: int
    lines: int
    records: dict[str, int]
    rejects: int
    rejects_by_file: dict[str, int]
    quarantined: int
    clock_ahead: int  # of the quarantined: CLOCK_AHEAD (event time after as_of + tolerance)
    resends: int
    conflicting_resends: int
    readings_too_frequent: int = 0  # tank readings closer than the minimum gap to a taken one (engine/gauge.py)
    stale: int
    alarms: int
    alarms_by_rule: dict[str, int]
    verifications: int
    verifications_failed: int
    meters: dict[str, int]  # nozzles with a tank-witness estimate, by status
    pending: dict[str, int]
    workers: int
    wall_time_s: float


def _exact_ts(us: int) -> str:
    """RFC 3339 to the microsecond (format_ts writes milliseconds)."""
    text = format_ts(us)
    return f"{text[:23]}{us % 1000:03d}{text[23:]}"


def _write_jsonl(path: Path, items: list[Any]) -> None:
    with path.open("wb") as f:
        for it in items:
            f.write(_enc.encode(it))
            f.write(b"\n")


def run_check(
    data_dir: Path,
    out_dir: Path,
    *,
    workers: int | None = None,
    settings: EngineSettings | None = None,
    as_of_us: int | None = None,
    privacy: Privacy = Privacy(),
    on_total: Callable[[int], None] = lambda n: None,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> Summary:
    """``as_of_us``: the receipt time of every record (default: now, when the run starts).
    ``privacy``: what is done with personal data in a record (:mod:`anxin.privacy.policy`;
    the default, as ``anxin serve``'s: refused in a signed record, tokenised — here
    without a key, as ``[kind]`` — in an unsigned one)."""
    started = time.perf_counter()
    as_of = time.time_ns() // 1_000_000 * 1000 if as_of_us is None else as_of_us  # (whole ms: as written)
    if not data_dir.is_dir():
        raise CheckError(f"{data_dir} is not a readable directory")
    try:
        registry = load_registry(data_dir / "registry.json")
    except RegistryError as exc:
        raise CheckError(str(exc)) from None
    paths = data_files(data_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckError(f"cannot create {out_dir}: {exc.strerror}") from None
    on_total(sum(p.stat().st_size for p in paths))
    workers = default_workers() if workers is None else workers
    log.info("check started", extra={"data_dir": str(data_dir), "files": len(paths), "workers": workers})
    book = AlarmBook()
    rejects_by_file: Counter[str] = Counter()
    lines = 0
    names = [p.name for p in paths]
    if workers > 0:  # the engine sharded by station over the worker processes
        handed = [registry]  # run_shards lets it go once the shards have it
        del registry
        try:
            results = run_shards(
                paths,
                data_dir / "registry.json",
                registry=handed,
                shards=workers,
                settings=settings,
                as_of_us=as_of,
                privacy=privacy,
                on_bytes=on_bytes,
            )
        except ShardFailed as exc:  # a dead shard ends the run at once, with why
            raise CheckError(f"the check could not complete: {exc}") from None
        book, rejects, counts, pending, meters = collect(results)
        lines = sum(r.lines for r in results)
    else:
        engine = Engine(registry, settings) if settings else Engine(registry)
        rejects = []
        for _t, fi, n, p, verdict in merged(paths, registry, on_bytes=on_bytes, privacy=privacy):
            lines += 1
            if isinstance(p, Parsed):
                try:
                    book.add(engine.feed(p, verdict, received_us=as_of))
                except Exception as exc:  # a bug: the run cannot complete, and says where
                    why = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                    raise CheckError(
                        f"the check could not complete: the engine failed on {names[fi]} line {n}: {why}"
                    ) from exc
            else:
                rejects.append((fi, n, p.reason))
        rejects.sort()
        counts, pending = dict(engine.counts), engine.pending()
        witness = engine.witness()
        book.add(witness.alarms)
        meters = witness.meters
    reject_rows = [{"file": names[fi], "line": n, "reason": reason} for fi, n, reason in rejects]
    _write_jsonl(out_dir / "rejects.jsonl", reject_rows)
    rejects_by_file.update(names[fi] for fi, _n, _reason in rejects)
    alarms = book.sorted_alarms()
    verifications = book.sorted_verifications()
    _write_jsonl(out_dir / "alarms.jsonl", alarms)
    _write_jsonl(out_dir / "verifications.jsonl", verifications)
    _write_jsonl(out_dir / "meters.jsonl", meters)
    _write_jsonl(
        out_dir / "quarantine.jsonl",
        [
            {"alarm_id": a.alarm_id, "rule": a.rule, "reason": a.evidence["reason"], "record": a.evidence["record"]}
            for a in alarms
            if a.evidence.get("quarantined")
        ],
    )
    c = Counter(counts)
    kinds = ("metering", "event", "settlement", "tank_reading", "delivery", "verification")
    summary = Summary(
        data_dir=str(data_dir),
        as_of=format_ts(as_of) if as_of % 1000 == 0 else _exact_ts(as_of),
        privacy=privacy.mode,
        files=len(paths),
        lines=lines,
        records={k: c[k] for k in kinds},
        rejects=len(reject_rows),
        rejects_by_file=dict(sorted(rejects_by_file.items())),
        quarantined=c["quarantined"],
        clock_ahead=c["clock_ahead"],
        resends=c["resends"],
        conflicting_resends=c["conflicting_resends"],
        readings_too_frequent=c["readings_too_frequent"],
        stale=c["stale"],
        alarms=len(alarms),
        alarms_by_rule=dict(sorted(book.by_rule.items())),
        verifications=len(verifications),
        verifications_failed=sum(1 for v in verifications if not v.passed),
        meters=dict(sorted(Counter(m.status for m in meters).items())),
        pending=pending,
        workers=workers,
        wall_time_s=round(time.perf_counter() - started, 3),
    )
    log.info(
        "check finished",
        extra={"lines": lines, "alarms": len(alarms), "rejects": summary.rejects, "wall_time_s": summary.wall_time_s},
    )
    (out_dir / "summary.json").write_bytes(msgspec.json.format(_enc.encode(summary), indent=2) + b"\n")
    return summary
