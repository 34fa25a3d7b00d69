"""Where ``anxin check`` spends its time, per stage, against the signature-verification
floor measured in the same run (issue 14: profile first, then cut).

    .venv/bin/python bench/profile_check.py [--stations 30] [--days 7] [--data DIR] [--no-witness]
    .venv/bin/python bench/profile_check.py --pyspy PROFILE.txt   # a real run, sampled:
        py-spy record --subprocesses -r 100 -f raw -o PROFILE.txt -- .venv/bin/anxin check DIR --workers 1 …

The sharded pipeline of ``anxin check --workers 1`` runs in this one process: the main
process's reading and routing (``shards._feed``) and the shard's work
(``shards._shard_run``: parse, verify, merge, engine, tank witness) are the real
functions; only the process boundary is replaced by pickling each message both ways
as ``multiprocessing.Queue`` does (the pipe's system calls and the feeder thread are
not counted: compare the CPU time of a real ``--workers 1`` run under ``perf stat``).
The city is simulated into bench-data/ as ``check_throughput.py`` does, and reused.

Two passes over the same data, both printed, nothing asserted:

1. plain: light timers around the stages (a few ``perf_counter`` calls per line), the
   cost per record kind, the tank witness's looks and the garbage collector;
2. under cProfile: every function's own time grouped into stages by its module and
   name (a C function by its caller), including what inside a look costs most.
   cProfile inflates Python code more than C code (verification): read its
   proportions within a stage, the plain pass for the stages against each other.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pickle
import pstats
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_throughput import ensure_city  # noqa: E402

import anxin.check.pipeline as pipeline_mod  # noqa: E402
import anxin.check.run as run_mod  # noqa: E402
import anxin.check.shards as shards_mod  # noqa: E402
import anxin.engine.core as core_mod  # noqa: E402
import anxin.engine.stats.witness as stats_witness_mod  # noqa: E402
from anxin.engine import EngineSettings  # noqa: E402

AS_OF_US = 1_796_400_000_000_000  # --as-of 2026-12-05T00:00:00+08:00: after every simulated record


# ------------------------------------------------------------------ the in-process "shards"
class _Inbox:
    """A shard's inbox: the pickled messages, unpickled one by one as the queue does."""

    def __init__(self, blobs: list[bytes]) -> None:
        self._it: Iterator[bytes] = iter(blobs)

    def get(self) -> Any:
        return _ipc_receive(next(self._it))


class _Outbox:
    def __init__(self) -> None:
        self.got: Any = None

    def put(self, item: Any) -> None:
        self.got = _ipc_receive(_ipc_send(item))


def _ipc_send(item: Any) -> bytes:
    return bytes(ForkingPickler.dumps(item))


def _ipc_receive(blob: bytes) -> Any:
    return pickle.loads(blob)


class Timers:
    def __init__(self) -> None:
        self.s: defaultdict[str, float] = defaultdict(float)

    def add(self, name: str, dt: float) -> None:
        self.s[name] += dt


def _route(paths: list[Path], sink: list) -> None:
    shards_mod._feed(paths, [None], 1, lambda n: None, lambda q, item: sink.append(item))
    sink.append(None)


def inprocess_shards(timers: Timers) -> Callable[..., list]:
    """A stand-in for ``shards.run_shards`` with one shard, in this process."""

    def run(
        paths: list[Path],
        registry_file: Path,
        *,
        shards: int,
        registry: list | None = None,
        settings: EngineSettings | None = None,
        as_of_us: int | None = None,
        on_bytes: Callable[[int], None] = lambda n: None,
        **_: Any,
    ) -> list:
        msgs: list = []
        t = time.perf_counter()
        _route(paths, msgs)
        t1 = time.perf_counter()
        blobs = [_ipc_send(m) for m in msgs]
        del msgs
        t2 = time.perf_counter()
        inbox, outbox = _Inbox(blobs), _Outbox()
        reg = registry.pop() if registry else registry_file.read_bytes()  # (in this process: no copy)
        shards_mod._shard_run(inbox, outbox, reg, len(paths), settings, as_of_us)
        timers.add("read + route (main process)", t1 - t)
        timers.add("ipc: pickle the chunks", t2 - t1)
        timers.add("shard (all of _shard_run)", time.perf_counter() - t2)
        return [outbox.got]

    return run


# ------------------------------------------------------------------ plain pass: light timers
def _patch(obj: Any, name: str, new: Any, undo: list) -> None:
    undo.append((obj, name, getattr(obj, name)))
    setattr(obj, name, new)


def plain_pass(data_dir: Path, out_dir: Path, witness: bool) -> tuple[Timers, Counter[str], Any, float]:
    """The run with timers around the stages; returns timers, line counts per kind, the
    summary and the whole run's CPU time."""
    tm = Timers()
    kinds: Counter[str] = Counter()
    looks = {"depth": 0, "t": 0.0}
    undo: list = []
    orig_pv, orig_auth, orig_authv = (
        pipeline_mod.parse_verified,
        pipeline_mod.authenticate,
        pipeline_mod.authenticate_verification,
    )
    orig_feed, orig_sched, orig_final = core_mod.Engine.feed, core_mod.scheduled_looks, core_mod.final_look
    orig_est = stats_witness_mod.estimate_tank
    clock = time.perf_counter

    def parse_verified(raw: Any, ring: Any) -> Any:
        t = clock()
        v0 = tm.s["verify"]
        p, verdict = orig_pv(raw, ring)
        kind = type(p.rec).__name__ if hasattr(p, "rec") else "reject"
        kinds[kind] += 1
        tm.add(f"parse/{kind}", clock() - t - (tm.s["verify"] - v0))
        return p, verdict

    def authenticate(p: Any, ring: Any) -> Any:
        t = clock()
        v = orig_auth(p, ring)
        tm.add("verify", clock() - t)
        return v

    def authenticate_verification(raw: Any, p: Any, ring: Any) -> Any:
        t = clock()
        v = orig_authv(raw, p, ring)
        tm.add("verify", clock() - t)
        return v

    def feed(self: Any, p: Any, verdict: Any = None, *, received_us: int | None = None) -> Any:
        t = clock()
        l0 = looks["t"]
        out = orig_feed(self, p, verdict, received_us=received_us)
        tm.add(f"engine/{type(p.rec).__name__}", clock() - t - (looks["t"] - l0))
        return out

    def scheduled_looks(*a: Any) -> None:
        t = clock()
        orig_sched(*a)
        dt = clock() - t
        looks["t"] += dt
        tm.add("witness: scheduled looks", dt)

    def final_look(*a: Any) -> Any:
        t = clock()
        res = orig_final(*a)
        tm.add("witness: final look", clock() - t)
        return res

    def estimate_tank(*a: Any, **k: Any) -> Any:
        t = clock()
        res = orig_est(*a, **k)
        tm.add("witness: estimate_tank (inside the looks)", clock() - t)
        tm.s["#tank estimates"] += 1
        return res

    gc_t = {"start": 0.0}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_t["start"] = clock()
        else:
            tm.add("gc (inside the other stages)", clock() - gc_t["start"])

    _patch(pipeline_mod, "parse_verified", parse_verified, undo)  # (shards call it through parse_private)
    _patch(pipeline_mod, "authenticate", authenticate, undo)
    _patch(pipeline_mod, "authenticate_verification", authenticate_verification, undo)
    _patch(core_mod.Engine, "feed", feed, undo)
    _patch(core_mod, "scheduled_looks", scheduled_looks, undo)
    _patch(core_mod, "final_look", final_look, undo)
    _patch(stats_witness_mod, "estimate_tank", estimate_tank, undo)
    _patch(run_mod, "run_shards", inprocess_shards(tm), undo)
    gc.callbacks.append(on_gc)
    try:
        c0, t0 = time.process_time(), clock()
        summary = run_mod.run_check(
            data_dir, out_dir, workers=1, settings=EngineSettings(witness_enabled=witness), as_of_us=AS_OF_US
        )
        tm.add("total (wall)", clock() - t0)
        cpu = time.process_time() - c0
    finally:
        gc.callbacks.remove(on_gc)
        for obj, name, old in reversed(undo):
            setattr(obj, name, old)
    return tm, kinds, summary, cpu


# ------------------------------------------------------------------ the verify-only floor
def verify_floor(data_dir: Path) -> tuple[int, float]:
    """Every signature of the city, extracted untimed, then only verified (s)."""
    from anxin.check.reader import data_files, read_lines
    from anxin.contract.parse import Parsed, parse_line
    from anxin.contract.registry import load_registry
    from anxin.crypto.schemes import load_verifier

    reg = load_registry(data_dir / "registry.json")
    keys = {n.nozzle_id: (n.key_alg, n.public_key) for n in reg.nozzles}
    tasks = []
    for path in data_files(data_dir):
        if not any(k in path.name for k in ("metering", "event")):
            continue
        with path.open("rb") as f:
            for _, raw in read_lines(f):
                if isinstance(raw, bytes):
                    p = parse_line(raw)
                    nozzle = getattr(p.rec, "nozzle_id", None) if isinstance(p, Parsed) else None
                    if isinstance(p, Parsed) and p.canonical is not None and nozzle in keys:
                        tasks.append((*keys[nozzle], p.canonical, p.sig))
    cache: dict = {}
    t = time.perf_counter()  # wall, like the stages (on a loaded machine: compare CPU totals too)
    for alg, key, msg, sig in tasks:
        v = cache.get(key) or cache.setdefault(key, load_verifier(alg, key))
        v.verify(msg, sig)
    return len(tasks), time.perf_counter() - t


# ------------------------------------------------------------------ cProfile pass: stages
# (path fragment, function name or "*") → stage; the first match wins. A function that
# matches nothing (a C function, NumPy's Python code, a shared helper) takes its callers'
# stages, split by the time it spent under each.
RULES: list[tuple[str, str, str]] = [
    ("", "<module>", "setup (registry, keys, imports)"),
    ("profile_check.py", "_ipc_send", "ipc: pickle/unpickle"),
    ("profile_check.py", "_ipc_receive", "ipc: pickle/unpickle"),
    ("profile_check.py", "get", "ipc: pickle/unpickle"),
    ("profile_check.py", "put", "ipc: pickle/unpickle"),
    ("multiprocessing/queues.py", "*", "ipc: pickle/unpickle"),  # (a real run, under py-spy)
    ("multiprocessing/connection.py", "*", "ipc: pickle/unpickle"),
    ("multiprocessing/reduction.py", "*", "ipc: pickle/unpickle"),
    ("check/shards.py", "put", "ipc: pickle/unpickle"),
    ("check/shards.py", "run_shards", "setup (registry, keys, imports)"),
    ("check/reader.py", "read_lines", "read (main)"),
    ("check/shards.py", "shard_of", "route: station decode + crc (main)"),
    ("check/shards.py", "_feed", "route: chunking loop (main)"),
    ("contract/parse.py", "_times", "parse: RFC 3339 → µs"),
    ("contract/times.py", "*", "parse: RFC 3339 → µs"),
    ("contract/canonical.py", "*", "parse: canonical bytes"),
    ("contract/parse.py", "_digest", "parse: digest (blake2b)"),
    ("contract/parse.py", "parse_line", "parse: msgspec decode + rest of parse_line"),
    ("contract/parse.py", "*", "parse: careful path (rejects)"),
    ("check/pipeline.py", "parse_verified", "parse: parse_verified (Parsed rebuilt)"),
    ("crypto/", "*", "verify"),
    ("cryptography/", "*", "verify"),
    ("tongsuopy/", "*", "verify"),
    ("check/shards.py", "add", "merge (heap by event time)"),
    ("check/shards.py", "advance", "merge (heap by event time)"),
    ("check/shards.py", "pop_ready", "merge (heap by event time)"),
    ("check/shards.py", "_shard_run", "shard loop (per line, per chunk)"),
    ("engine/tanklog.py", "tank_data", "look: window data (tank_data, span)"),
    ("engine/tanklog.py", "span", "look: window data (tank_data, span)"),
    ("engine/tanklog.py", "_verified", "look: window data (tank_data, span)"),
    ("engine/tanklog.py", "*", "witness: collecting history"),
    ("engine/stats/smooth.py", "*", "look: temperature smoother (local quadratic, its memo)"),
    ("engine/stats/readings.py", "rolling_median", "look: running median (jumps)"),
    ("engine/stats/readings.py", "cumulative", "look: cumulative metered volumes"),
    ("engine/stats/prepare.py", "*", "look: prepare, the rest (validate, water, segments)"),
    ("engine/stats/readings.py", "*", "look: prepare, the rest (validate, water, segments)"),
    ("engine/stats/chart.py", "*", "look: chart model (incl. strapping)"),
    ("engine/stats/witness.py", "_transients", "look: transient columns"),
    ("engine/stats/witness.py", "_step_cuts", "look: step cuts"),
    ("engine/stats/fit.py", "free_fit", "look: free fits"),
    ("engine/stats/fit.py", "group_evidence", "look: loss fit (mixing time, type-II ML grid)"),
    ("engine/stats/witness.py", "_loss_fit", "look: loss fit (mixing time, type-II ML grid)"),
    ("engine/stats/fit.py", "analyse_anchors", "look: anchored fit + delivery notes"),
    ("engine/stats/fit.py", "anchored_fit", "look: anchored fit + delivery notes"),
    ("engine/stats/register.py", "*", "look: register grid"),
    ("engine/stats/fit.py", "*", ""),  # its helpers (_solve, _inverse, …): the fit that called them
    ("engine/stats/dist.py", "*", "look: t and normal quantiles"),
    ("engine/stats/", "*", "look: estimate, bias, other"),
    ("engine/witness.py", "*", "look: decisions, rows"),
    ("engine/looks.py", "*", "look: decisions, rows"),
    ("engine/core.py", "_metering", "engine: pairing, sales, rules"),
    ("engine/core.py", "_settlement", "engine: pairing, sales, rules"),
    ("engine/core.py", "_pair", "engine: pairing, sales, rules"),
    ("engine/core.py", "_legacy_partner", "engine: pairing, sales, rules"),
    ("engine/core.py", "_decide_sale", "engine: pairing, sales, rules"),
    ("engine/rules.py", "*", "engine: pairing, sales, rules"),
    ("engine/outputs.py", "*", "engine: pairing, sales, rules"),
    ("contract/alarm.py", "*", "engine: pairing, sales, rules"),
    ("contract/registry.py", "posted_price", "engine: pairing, sales, rules"),
    ("engine/core.py", "_module_record", "engine: chains (seq, totalizer)"),
    ("engine/core.py", "_track_seq", "engine: chains (seq, totalizer)"),
    ("engine/core.py", "_totalizer_chain", "engine: chains (seq, totalizer)"),
    ("engine/core.py", "_totalizer_back", "engine: chains (seq, totalizer)"),
    ("engine/core.py", "_decide_gap", "engine: chains (seq, totalizer)"),
    ("engine/core.py", "_move", "engine: watermark, decisions (heap)"),
    ("engine/core.py", "_decide", "engine: watermark, decisions (heap)"),
    ("engine/core.py", "_use_check", "engine: watermark, decisions (heap)"),
    ("engine/nozzle.py", "prune", "engine: prune"),
    ("engine/nozzle.py", "*", "engine: nozzle state (K, verification)"),
    ("engine/core.py", "_tank_record", "engine: tank records"),
    ("engine/core.py", "_prune", "engine: prune"),
    ("engine/clock.py", "*", "engine: clock (receipts, silence)"),
    ("engine/core.py", "*", "engine: feed, dispatch, other"),
    ("check/book.py", "add", "output: AlarmBook.add (per line)"),
    ("check/book.py", "*", "output: collect, sort, write"),
    ("check/run.py", "*", "output: collect, sort, write"),
    ("check/shards.py", "collect", "output: collect, sort, write"),
    ("contract/registry.py", "*", "setup (registry, keys, imports)"),
    ("<frozen", "*", "setup (registry, keys, imports)"),
]
# C functions whose stage is their own whatever calls them
C_RULES: list[tuple[str, str, str]] = [
    ("", "<module>", "setup (registry, keys, imports)"),
    ("heappush", "engine:", "engine: heap push/pop"),
    ("heappop", "engine:", "engine: heap push/pop"),
    ("msgspec.msgpack", "", "output: collect, sort, write"),
]


def _rule(func: tuple[str, int, str]) -> str | None:
    path, _line, name = func
    if name.startswith("<") and name != "<module>":
        return None  # a comprehension or lambda: its enclosing function's stage
    for frag, fname, stage in RULES:
        if frag in path and (fname == "*" or fname == name):
            return stage or None  # "": by its callers
    return None


def stage_times(stats: dict) -> tuple[dict[str, float], dict]:
    """Each function's own time, into stages (the rules, else its callers' stages)."""
    out: dict[str, float] = defaultdict(float)
    memo: dict = {}

    def shares(func: tuple, depth: int) -> dict[str, float]:
        """How a unit of ``func``'s time splits over stages."""
        if func in memo:
            return memo[func]
        stage = _rule(func)
        if stage is not None:
            res = {stage: 1.0}
        elif depth > 12 or func not in stats:
            res = {"other": 1.0}
        else:
            callers = stats[func][4]
            total = sum(e[3] for e in callers.values()) or 1.0
            res = defaultdict(float)
            memo[func] = {"other": 1.0}  # (recursion: a cycle counts as other)
            for c, edge in callers.items():
                for s, w in shares(c, depth + 1).items():
                    res[s] += w * edge[3] / total
            if not callers:
                res = {"other": 1.0}
        memo[func] = dict(res)
        return memo[func]

    for func, (_cc, _nc, tt, _ct, callers) in stats.items():
        if func[0] == "~" and callers:  # a C function: by the caller, edge by edge
            for c, edge in callers.items():
                for s, w in shares(c, 0).items():
                    out[_c_stage(func[2], s)] += w * edge[2]
        else:
            for s, w in shares(func, 0).items():
                out[s] += w * tt
    return dict(out), memo


def _c_stage(name: str, caller_stage: str) -> str:
    for frag, under, stage in C_RULES:
        if frag in name and caller_stage.startswith(under):
            return stage
    return caller_stage


def profiled_pass(data_dir: Path, out_dir: Path, witness: bool) -> pstats.Stats:
    tm = Timers()
    undo: list = []
    _patch(run_mod, "run_shards", inprocess_shards(tm), undo)
    prof = cProfile.Profile()
    try:
        prof.enable()
        run_mod.run_check(
            data_dir, out_dir, workers=1, settings=EngineSettings(witness_enabled=witness), as_of_us=AS_OF_US
        )
        prof.disable()
    finally:
        for obj, name, old in reversed(undo):
            setattr(obj, name, old)
    return pstats.Stats(prof)


def _calls(stats: dict, path: str, name: str) -> tuple[int, float]:
    """(calls, cumulative s) of one function."""
    for (p, _l, n), (_cc, nc, _tt, ct, _callers) in stats.items():
        if path in p and n == name:
            return nc, ct
    return 0, 0.0


# ------------------------------------------------------------------ printing
def _row(name: str, secs: float, lines: int, floor: float, total: float) -> str:
    return f"| {name} | {secs:8.2f} | {secs / lines * 1e6:7.2f} | {secs / floor:6.3f} | {100 * secs / total:5.1f} % |"


def _header(title: str) -> None:
    print(f"\n{title}\n")
    print("| stage | s | µs/line | × verify | share |")
    print("|---|---:|---:|---:|---:|")


def print_plain(tm: Timers, kinds: Counter[str], lines: int, cpu: float, floor_s: float, n_sigs: int) -> None:
    s = tm.s
    verify = s["verify"]
    parse = sum(v for k, v in s.items() if k.startswith("parse/"))
    engine = sum(v for k, v in s.items() if k.startswith("engine/"))
    sched, final = s["witness: scheduled looks"], s["witness: final look"]
    shard = s["shard (all of _shard_run)"]
    route, ipc = s["read + route (main process)"], s["ipc: pickle the chunks"]
    merge = shard - parse - verify - engine - sched - final
    total = s["total (wall)"]
    output = total - route - ipc - shard
    _header(
        f"Plain pass (light timers, wall time): {lines:,} lines, {total:.1f} s wall, {cpu:.1f} s CPU"
        f" ({100 * cpu / total:.0f} % of one core: below 100 % the machine was busy)"
    )
    for name, v in (
        ("read + route (main process)", route),
        ("ipc: pickle the chunks both ways (not the pipe)", ipc),
        ("parse (decode, RFC 3339, canonical bytes, digest)", parse),
        ("**verify** (signatures, key ring)", verify),
        ("engine (record level, without the looks)", engine),
        ("witness: scheduled daily looks", sched),
        ("witness: final look", final),
        ("merge + shard loop (the rest of the shard)", merge),
        ("output (results, collect, sort, write), setup", output),
        ("**total**", total),
    ):
        print(_row(name, v, lines, verify, total))
    print(
        f"\nverify-only floor, this process, same signatures: {floor_s:.2f} s for {n_sigs:,} signatures"
        f" ({floor_s / n_sigs * 1e6:.1f} µs each); the run's verify stage / floor = {verify / floor_s:.2f};"
        f" total / floor = {total / floor_s:.2f}"
    )
    print(f"gc (inside the stages above): {s['gc (inside the other stages)']:.2f} s")
    n_est = int(s["#tank estimates"])
    if n_est:
        print(
            f"tank estimates: {n_est:,} (scheduled + final), {s['witness: estimate_tank (inside the looks)']:.2f} s,"
            f" {s['witness: estimate_tank (inside the looks)'] / n_est * 1e3:.0f} ms per tank and look"
        )
    print("\nPer record kind (µs per line of that kind; engine without the looks):\n")
    print("| kind | lines | parse | verify | engine | parse + engine, s |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, n in kinds.most_common():
        p, e = s[f"parse/{kind}"], s[f"engine/{kind}"]
        v = verify if kind in ("Metering", "Event") else 0.0
        per_v = v / (kinds["Metering"] + kinds["Event"]) if v else 0.0
        print(f"| {kind} | {n:,} | {p / n * 1e6:.2f} | {per_v * 1e6:.1f} | {e / n * 1e6:.2f} | {p + e:.2f} |")


def print_profile(stats: dict, lines: int, top: int) -> None:
    stages, _ = stage_times(stats)
    total = sum(stages.values())
    verify = stages.get("verify", 0.0) or 1e-9
    _header(f"cProfile pass: {total:.1f} s profiled (own time of every function, grouped)")
    for name, v in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(_row(name, v, lines, verify, total))
    groups: dict[str, float] = defaultdict(float)
    for name, v in stages.items():
        groups[name.split(":")[0].split(" ")[0]] += v
    print("\nBy group: " + ", ".join(f"{g} {v / verify:.2f}× verify" for g, v in sorted(groups.items())))
    n_looks, look_s = _calls(stats, "engine/witness.py", "witness_station")
    n_est, est_s = _calls(stats, "engine/stats/witness.py", "estimate_tank")
    n_data, data_s = _calls(stats, "engine/tanklog.py", "tank_data")
    if n_est:
        print(
            f"\nlooks: witness_station {n_looks:,} calls (stations × looks), {look_s:.1f} s; estimate_tank"
            f" {n_est:,} calls, {est_s:.1f} s = {est_s / n_est * 1e3:.0f} ms per tank and look (profiled);"
            f" tank_data {n_data:,} calls, {data_s / max(n_data, 1) * 1e3:.1f} ms each"
        )
        look_total = sum(v for k, v in stages.items() if k.startswith("look:"))
        print("\nInside the looks (ms per tank estimate, share of the looks):\n")
        print("| part of the look | ms per tank | share |")
        print("|---|---:|---:|")
        for name, v in sorted(stages.items(), key=lambda kv: -kv[1]):
            if name.startswith("look:"):
                print(f"| {name[6:]} | {v / n_est * 1e3:.1f} | {100 * v / look_total:.1f} % |")
    print(f"\nTop {top} functions by own time:\n")
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    for (path, line, name), (_cc, nc, tt, ct, _c) in rows:
        where = path.split("/site-packages/")[-1].split("/src/")[-1]
        print(f"  {tt:7.2f} s own  {ct:7.2f} s cum  {nc:>10,}×  {where}:{line} {name}")


_FRAME = re.compile(r"^(.*) \((.*):(\d+)\)$")


def pyspy_stages(path: Path) -> dict[str, Counter[str]]:
    """A py-spy profile of a real run (``py-spy record --subprocesses -f raw``) in the same
    stages: each sample to the stage of its innermost frame that a rule names; per
    process (the main process, the shards)."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        procs = sum(1 for f in frames if f.startswith("process "))
        who = "main process" if procs <= 1 else "shard(s)"
        stage = "other"
        for frame in reversed(frames):
            m = _FRAME.match(frame)
            if m is None:
                continue
            name, file = m.group(1).rsplit(".", 1)[-1], m.group(2)
            if (found := _rule((file, 0, name))) is not None:
                stage = found
                break
        out[who][stage] += int(count)
    return out


def print_pyspy(path: Path) -> None:
    by_proc = pyspy_stages(path)
    every: Counter[str] = Counter()
    for c in by_proc.values():
        every.update(c)
    total, verify = sum(every.values()), every["verify"] or 1
    print(f"py-spy samples of {path} (active only): {total:,}; ", end="")
    print(", ".join(f"{who} {sum(c.values()):,}" for who, c in sorted(by_proc.items())))
    print("\n| stage | main | shard(s) | × verify | share |")
    print("|---|---:|---:|---:|---:|")
    for stage, n in every.most_common():
        main_n, shard_n = by_proc["main process"][stage], by_proc["shard(s)"][stage]
        print(f"| {stage} | {main_n:,} | {shard_n:,} | {n / verify:.3f} | {100 * n / total:.1f} % |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=30)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--no-witness", action="store_true")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--skip-plain", action="store_true", help="only the cProfile pass")
    ap.add_argument("--skip-profile", action="store_true", help="only the plain pass")
    ap.add_argument("--pstats", type=Path, default=None, help="also save cProfile's stats here")
    ap.add_argument("--pyspy", type=Path, default=None, help="only group this py-spy raw profile of a real run")
    ap.add_argument("--load-pstats", type=Path, default=None, help="only group these saved cProfile stats")
    args = ap.parse_args()
    if args.pyspy:
        print_pyspy(args.pyspy)
        return
    if args.load_pstats:
        raw_stats: dict = pstats.Stats(str(args.load_pstats)).stats  # type: ignore[attr-defined]
        print_profile(raw_stats, int(_calls(raw_stats, "check/reader.py", "read_lines")[0]), args.top)
        return
    data_dir = args.data or ROOT / f"bench-data/city-{args.stations}x{args.days}"
    ensure_city(data_dir, args.stations, args.days, args.seed)
    witness = not args.no_witness
    n_sigs, floor_s = verify_floor(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        lines = 0
        if not args.skip_plain:
            tm, kinds, summary, cpu = plain_pass(data_dir, Path(tmp) / "plain", witness)
            lines = summary.lines
            print(f"data: {data_dir} ({lines:,} lines; witness {'on' if witness else 'off'})")
            print(f"alarms {summary.alarms:,}, rejects {summary.rejects:,}, meters {summary.meters}")
            print_plain(tm, kinds, lines, cpu, floor_s, n_sigs)
        if not args.skip_profile:
            st = profiled_pass(data_dir, Path(tmp) / "profiled", witness)
            if args.pstats:
                st.dump_stats(str(args.pstats))
            raw: dict = st.stats  # type: ignore[attr-defined]
            lines = lines or int(_calls(raw, "check/reader.py", "read_lines")[0])
            print_profile(raw, lines, args.top)


if __name__ == "__main__":
    main()
