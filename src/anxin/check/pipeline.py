"""Reading, parsing and verifying sources, and merging them by event time.

Each file is one source in arrival order; sources are merged by (event time,
file, line), so the order is deterministic and splitting or joining files changes
nothing for records in event-time order. This in-process stream serves
``anxin check --workers 0`` and the live demo; ``shards.py`` runs the same steps
sharded by station over several processes.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from anxin.check.reader import read_lines
from anxin.contract.parse import MAX_LINE_BYTES, Parsed, Reject, parse_line
from anxin.contract.registry import Registry
from anxin.crypto.keys import KeyRing, KeyVerdict, authenticate, authenticate_verification
from anxin.privacy.policy import KEEP, Privacy, judge

REJECT_T = -(1 << 62)  # rejects carry no event time: they sort first

# An item of a source: (t, file index, line number, Parsed | Reject, verdict)
Item = tuple[int, int, int, Parsed | Reject, KeyVerdict | None]


def parse_verified(raw: bytes | int, ring: KeyRing) -> tuple[Parsed | Reject, KeyVerdict | None]:
    """One line: parsed, its signature checked against the key ring (signed kinds, and
    verifications where the registry lists institutes)."""
    if isinstance(raw, int):  # (the reader skipped it unread): parse_line's own reason for it
        return Reject(f"line of {raw} bytes exceeds the {MAX_LINE_BYTES}-byte limit"), None
    p = parse_line(raw)
    if isinstance(p, Reject):
        return p, None
    if p.canonical is None:  # unsigned kinds; a verification is signed where the registry lists institutes
        return p, authenticate_verification(raw, p, ring) if ring.institutes else None
    verdict = authenticate(p, ring)
    return Parsed(p.rec, p.t, p.t0, p.digest), verdict  # the signed bytes are not needed any more


def parse_private(
    raw: bytes | int, ring: KeyRing, privacy: Privacy
) -> tuple[Parsed | Reject, KeyVerdict | None, bytes | None]:
    """``parse_verified``, then the privacy policy (:mod:`anxin.privacy.policy`): the
    record, its verdict and the bytes to store — the line, tokenised where personal data
    was found (a reject: the line redacted; None: not read). The one step of ``anxin
    check`` and of every live ingest path, so batch and live refuse the same lines."""
    p, verdict = parse_verified(raw, ring)
    if isinstance(raw, int):
        return p, verdict, None
    if isinstance(p, Reject) or privacy.mode == "keep":
        return p, verdict, raw
    j = judge(raw, p, privacy, verdict)
    got = j.p
    if isinstance(got, Parsed) and got.canonical is not None:  # (a tokenised forgery: as parse_verified leaves it)
        got = Parsed(got.rec, got.t, got.t0, got.digest)
    return got, (None if isinstance(got, Reject) else verdict), j.body


def source_items(
    index: int, path: Path, ring: KeyRing, on_bytes: Callable[[int], None], privacy: Privacy = KEEP
) -> Iterator[Item]:
    with path.open("rb") as f:
        pos = 0
        for n, raw in read_lines(f):
            if isinstance(raw, bytes) and not raw.strip():
                continue
            p, verdict, _ = parse_private(raw, ring, privacy)
            yield (p.t if isinstance(p, Parsed) else REJECT_T, index, n, p, verdict)
            if n % 1000 == 0:
                on_bytes(f.tell() - pos)
                pos = f.tell()
        on_bytes(f.tell() - pos)


def merged(
    paths: list[Path],
    registry: Registry,
    *,
    on_bytes: Callable[[int], None] = lambda n: None,
    privacy: Privacy = KEEP,
) -> Iterator[Item]:
    """All records of all sources, merged by event time, signatures verified, ``privacy``
    applied."""
    ring = KeyRing.from_registry(registry)
    # Items are (t, file, line, …): plain tuple order is (event time, file, line),
    # unique per item, so no key function is needed (it would cost a call per record).
    return heapq.merge(*(source_items(i, p, ring, on_bytes, privacy) for i, p in enumerate(paths)))


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
