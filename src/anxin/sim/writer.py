"""``simulate``: write a city's data directory and, beside it, its truth directory.

Stations are processed in groups of ≤ 50 (one upload source per record kind per
group, e.g. ``g001.metering.jsonl``). Each group is planned and rendered by one
worker process, day by day, and streamed to its own files in arrival order, so
memory stays bounded and the bytes do not depend on the number of workers.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from anxin.sim.city import City
from anxin.sim.model import DAY
from anxin.sim.render import Item, render_group_day
from anxin.sim.scenarios import ScenarioSet
from anxin.sim.specs import GROUP_SIZE, CityConfig, StationSpec, group_name
from anxin.sim.station import plan_station
from anxin.sim.truth import RejectTruth, encode_line, encode_pretty, truth_dir_for
from anxin.sim.world import World

KINDS = ("metering", "settlement", "event", "tank_reading", "delivery", "verification")
OUR_FILE = re.compile(r"^g\d{3}\.[a-z_]+\.jsonl$")


class SimSummary(msgspec.Struct, kw_only=True):
    data_dir: str
    truth_dir: str
    stations: int
    days: int
    seed: int
    start: str
    scenarios: str
    groups: int
    files: int
    nozzles: int
    tanks: int
    sm2_nozzles: int
    legacy_nozzles: int
    legacy_pos_stations: int
    records: dict[str, int]  # lines per kind, without resends and malformed lines
    sales: int
    resends: int
    malformed: int
    faults: dict[str, int]  # per scenario
    elapsed_s: float = 0.0
    bytes_written: int = 0


class GroupResult(msgspec.Struct, kw_only=True):
    group: int
    stations: int
    faults: bytes
    meters: bytes
    tanks: bytes
    charts: bytes  # TankWorldTruth lines (empty in the default world)
    rejects: list[RejectTruth]
    records: dict[str, int]
    resends: int
    malformed: int
    bytes_written: int


class GroupWriter:
    """Streams items to the group's files in arrival order, a day at a time."""

    def __init__(self, out_dir: Path, group: int) -> None:
        self.out_dir = out_dir
        self.files: dict[str, BinaryIO] = {}
        self.lines: dict[str, int] = {}
        self.pending: list[Item] = []
        self.rejects: list[RejectTruth] = []
        self.records: dict[str, int] = {k: 0 for k in KINDS}
        self.resends = 0
        self.bytes = 0
        for kind in KINDS:
            self._file(f"{group_name(group)}.{kind}.jsonl")

    def _file(self, name: str) -> BinaryIO:
        f = self.files.get(name)
        if f is None:
            # Kept open across days and closed in close(); hence no context manager.
            f = open(self.out_dir / name, "wb", buffering=1 << 20)  # noqa: SIM115
            self.files[name] = f
            self.lines[name] = 0
        return f

    def push(self, items: list[Item], cutoff: int | None) -> None:
        """Add a day's items; write everything that arrived before ``cutoff`` (None: all)."""
        pending = self.pending
        pending.extend(items)
        pending.sort(key=lambda it: it[:4])
        n = len(pending)
        if cutoff is not None:
            n = next((i for i, it in enumerate(pending) if it[0] >= cutoff), len(pending))
        for it in pending[:n]:
            name, line, tag = it[4], it[5], it[6]
            f = self._file(name)
            f.write(line)
            f.write(b"\n")
            self.bytes += len(line) + 1
            self.lines[name] += 1
            if not tag:
                kind = name.split(".")[1]
                self.records[kind] = self.records.get(kind, 0) + 1
            elif tag == "resend":
                self.resends += 1
            else:
                self.rejects.append(RejectTruth(file=name, line=self.lines[name], mode=tag[4:]))
        self.pending = pending[n:]

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def run_group(args: tuple[CityConfig, list[StationSpec], int, str]) -> GroupResult:
    """Plan, render and write one group of stations (runs in a worker process)."""
    cfg, stations, group, out = args
    plans = [plan_station(st, cfg) for st in stations]
    writer = GroupWriter(Path(out), group)
    try:
        for day in range(cfg.days):
            items = render_group_day(plans, group, day, cfg)
            last = day == cfg.days - 1
            writer.push(items, None if last else cfg.t0_us + (day + 1) * DAY)
    finally:
        writer.close()
    return GroupResult(
        group=group,
        stations=len(stations),
        faults=b"".join(encode_line(f) for p in plans for f in p.faults),
        meters=b"".join(encode_line(m) for p in plans for m in p.meters),
        tanks=b"".join(encode_line(t) for p in plans for t in p.tanks),
        charts=b"".join(encode_line(t) for p in plans for t in p.tank_worlds),
        rejects=writer.rejects,
        records=writer.records,
        resends=writer.resends,
        malformed=len(writer.rejects),
        bytes_written=writer.bytes,
    )


def _prepare(out_dir: Path, truth: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    strangers = [p.name for p in out_dir.glob("*.jsonl") if not OUR_FILE.match(p.name)]
    if strangers:
        raise FileExistsError(f"{out_dir} already holds other data files ({', '.join(sorted(strangers)[:3])}…)")
    for p in out_dir.iterdir():
        if p.is_file() and (OUR_FILE.match(p.name) or p.name == "registry.json"):
            p.unlink()
    truth.mkdir(parents=True, exist_ok=True)
    for name in (
        "faults.jsonl",
        "meters.jsonl",
        "tanks.jsonl",
        "rejects.json",
        "summary.json",
        "scenarios.json",
        "world.json",
        "charts.jsonl",
    ):
        (truth / name).unlink(missing_ok=True)


def simulate(
    out_dir: Path,
    *,
    stations: int,
    days: int,
    seed: int,
    scenarios: ScenarioSet,
    start: dt.date = dt.date(2026, 3, 1),
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    group_size: int = GROUP_SIZE,
    world: World | None = None,
) -> SimSummary:
    """Write ``registry.json`` and the JSONL sources to ``out_dir`` and the truth to
    ``truth_dir_for(out_dir)``. ``progress(stations_done, stations_total)`` is called
    as groups complete. Same arguments → byte-identical files, whatever ``workers``.
    ``group_size`` (≤ 50 stations per upload source) exists for tests of small cities.
    ``world``: the tank physics (:mod:`anxin.sim.world`); in any but the default world the
    truth directory also holds ``world.json`` and ``charts.jsonl``."""
    began = time.perf_counter()
    out_dir = Path(out_dir)
    truth = truth_dir_for(out_dir)
    _prepare(out_dir, truth)
    city = City.build(
        stations=stations, seed=seed, start=start, scenarios=scenarios, days=days, group_size=group_size, world=world
    )
    (out_dir / "registry.json").write_bytes(city.registry_json())
    tasks = [(city.config, city.group_stations(g), g, str(out_dir)) for g in range(city.groups)]
    results: list[GroupResult] = []
    done = 0
    if progress:
        progress(0, stations)
    stream: Iterator[GroupResult]
    if workers <= 1 or len(tasks) == 1:
        stream = map(run_group, tasks)
        pool = None
    else:
        # fork: workers inherit the loaded modules and need no re-import of __main__
        # (so a caller's script needs no __main__ guard); spawn where fork does not exist.
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        pool = ctx.Pool(min(workers, len(tasks)))
        stream = pool.imap(run_group, tasks)
    try:
        for r in stream:
            results.append(r)
            done += r.stations
            if progress:
                progress(done, stations)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    faults_blob = b"".join(r.faults for r in results)
    (truth / "faults.jsonl").write_bytes(faults_blob)
    (truth / "meters.jsonl").write_bytes(b"".join(r.meters for r in results))
    (truth / "tanks.jsonl").write_bytes(b"".join(r.tanks for r in results))
    if not city.config.world.is_default:
        (truth / "world.json").write_bytes(encode_pretty(city.config.world))
        (truth / "charts.jsonl").write_bytes(b"".join(r.charts for r in results))
    rejects: dict[str, dict] = {}
    for r in results:
        for rj in r.rejects:
            entry = rejects.setdefault(rj.file, {"count": 0, "lines": [], "modes": []})
            entry["count"] += 1
            entry["lines"].append(rj.line)
            entry["modes"].append(rj.mode)
    total_rejects = sum(e["count"] for e in rejects.values())
    (truth / "rejects.json").write_bytes(
        encode_pretty({"total": total_rejects, "files": dict(sorted(rejects.items()))})
    )
    per_scenario: dict[str, int] = {}
    for line in faults_blob.splitlines():
        name = msgspec.json.decode(line)["scenario"]
        per_scenario[name] = per_scenario.get(name, 0) + 1
    records: dict[str, int] = {k: 0 for k in KINDS}
    for r in results:
        for k, v in r.records.items():
            records[k] = records.get(k, 0) + v
    nozzles = [n for st in city.stations for n in st.nozzles]
    summary = SimSummary(
        data_dir=str(out_dir),
        truth_dir=str(truth),
        stations=stations,
        days=days,
        seed=seed,
        start=start.isoformat(),
        scenarios=scenarios.describe(),
        groups=city.groups,
        files=len(list(out_dir.glob("*.jsonl"))),
        nozzles=len(nozzles),
        tanks=sum(len(st.tanks) for st in city.stations),
        sm2_nozzles=sum(n.key_alg == "sm2" for n in nozzles),
        legacy_nozzles=sum(not n.anti_cheat for n in nozzles),
        legacy_pos_stations=sum(st.legacy_pos for st in city.stations),
        records=records,
        sales=records["settlement"],
        resends=sum(r.resends for r in results),
        malformed=total_rejects,
        faults=dict(sorted(per_scenario.items())),
        bytes_written=sum(r.bytes_written for r in results),
    )
    (truth / "summary.json").write_bytes(encode_pretty(summary))
    (truth / "scenarios.json").write_bytes(
        encode_pretty(
            {"seed": seed, "stations": stations, "days": days, "start": start.isoformat(), "scenarios": scenarios}
        )
    )
    summary.elapsed_s = round(time.perf_counter() - began, 3)
    return summary
