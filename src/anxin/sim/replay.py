"""A simulated city's lines as stations would upload them: per station, in the order
the batch check feeds them (its sources merged by event time). Used by the live
service's tests and load bench."""

from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path

import msgspec

from anxin.check.pipeline import REJECT_T
from anxin.check.reader import data_files
from anxin.contract.parse import Parsed, parse_line


def arrival_items(data_dir: Path) -> list[tuple[int, str | None, bytes]]:
    """(event time or REJECT_T, station_id or None, line) of every non-blank line,
    merged by event time as ``anxin check`` merges its sources."""
    per_file = []
    for fi, path in enumerate(data_files(data_dir)):
        items = []
        for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
            if not raw.strip():
                continue
            p = parse_line(raw)
            items.append((p.t if isinstance(p, Parsed) else REJECT_T, fi, n, raw))
        per_file.append(items)
    out = []
    for t, _fi, _n, raw in heapq.merge(*per_file):
        try:
            sid = msgspec.json.decode(raw).get("station_id")
        except (msgspec.DecodeError, RecursionError, AttributeError):
            sid = None
        out.append((t, sid if isinstance(sid, str) else None, raw))
    return out


def arrival_lines(data_dir: Path) -> list[tuple[str | None, bytes]]:
    """(station_id or None, line) in ``arrival_items`` order."""
    return [(sid, raw) for _t, sid, raw in arrival_items(data_dir)]


def station_lines(lines: list[tuple[str | None, bytes]], default_station: str) -> dict[str, list[bytes]]:
    """Per station, its lines in order; lines of no station go with ``default_station``."""
    per: dict[str, list[bytes]] = defaultdict(list)
    for sid, raw in lines:
        per[sid or default_station].append(raw)
    return dict(per)


def uploads(
    lines: list[tuple[str | None, bytes]], default_station: str, size: int = 500
) -> list[tuple[str, list[bytes]]]:
    """Per station, its lines cut into uploads of ``size``."""
    out: list[tuple[str, list[bytes]]] = []
    for sid, rows in station_lines(lines, default_station).items():
        out.extend((sid, rows[i : i + size]) for i in range(0, len(rows), size))
    return out


class _Kind(msgspec.Struct):
    kind: str = ""


def by_sender(batches: list[tuple[str, list[bytes]]]) -> list[tuple[str, list[bytes], str]]:
    """The uploads cut where the sender changes (contract v1.1 §C): runs of
    ``verification`` lines go as the institute's (``"institute"``), the rest as the
    station's (``"station"``), in the same order — what a city's stations and its
    verification institute would upload, each with its own token."""
    out: list[tuple[str, list[bytes], str]] = []
    for sid, lines in batches:
        run: list[bytes] = []
        role = ""
        for raw in lines:
            try:
                kind = msgspec.json.decode(raw, type=_Kind).kind
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                kind = ""
            who = "institute" if kind == "verification" else "station"
            if run and who != role:
                out.append((sid, run, role))
                run = []
            role = who
            run.append(raw)
        if run:
            out.append((sid, run, role))
    return out
