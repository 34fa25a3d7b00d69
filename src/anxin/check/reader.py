"""Reading JSONL sources without trusting them: a line longer than the limit is
skipped in bounded chunks (never held whole), so a 10 GB line costs no memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from anxin.contract.parse import MAX_LINE_BYTES

SKIP_CHUNK = 1 << 20


def read_lines(f: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | int]]:
    """Yield (line number, line without newline) — or (line number, length) for a line over the limit."""
    n = 0
    while True:
        raw = f.readline(limit + 1)
        if not raw:
            return
        n += 1
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield n, raw.rstrip(b"\r\n")
            continue
        size = len(raw)
        while raw and not raw.endswith(b"\n"):
            raw = f.readline(SKIP_CHUNK)
            size += len(raw)
        yield n, size - (1 if raw.endswith(b"\n") else 0)


def data_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.glob("*.jsonl") if p.is_file())
