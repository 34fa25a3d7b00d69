"""Parts of the edge agent that need no platform: URL parsing, Retry-After, line
splitting, the tailer's offsets and its cut of an endless line."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import httpx2
import pytest

from anxin.edge.outbox import Outbox
from anxin.edge.sources import FileTailer, MqttUrl, split_lines
from anxin.edge.uploader import _retry_after


def test_mqtt_url() -> None:
    assert MqttUrl.parse("mqtt://127.0.0.1:1883/pos/records") == MqttUrl("127.0.0.1", 1883, "pos/records")
    assert MqttUrl.parse("mqtt://u:p%40ss@broker/s/+/#") == MqttUrl("broker", 1883, "s/+/#", "u", "p@ss")
    for bad in ("http://h/t", "mqtt://h:1883", "mqtt://h:x/t", "mqtt:///t"):
        with pytest.raises(ValueError):
            MqttUrl.parse(bad)


def test_retry_after_seconds_and_date() -> None:
    assert _retry_after(httpx2.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert _retry_after(httpx2.Response(429)) is None
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < _retry_after(httpx2.Response(503, headers={"Retry-After": when})) <= 31  # type: ignore[operator]
    assert _retry_after(httpx2.Response(503, headers={"Retry-After": "soon"})) is None


def test_split_lines_numbers_and_blanks() -> None:
    assert split_lines(b'{"a":1}\r\n\n  \n{"b":2}\n', 7) == ([(7, b'{"a":1}'), (10, b'{"b":2}')], 4)


def test_tailer_offsets_partial_line_and_an_overlong_line(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    f = tmp_path / "a.jsonl"
    f.write_bytes(b"one\ntwo\nthr")
    tailer = FileTailer(box, [str(tmp_path / "*.jsonl")], chunk=4, max_line=16)
    assert tailer.poll() == (2, 8)
    assert [p.body for p in box.peek(10)] == [b"one", b"two"]
    f.write_bytes(b"one\ntwo\nthree\n" + b"x" * 40)  # an overlong line, not complete yet
    assert tailer.poll() == (1, 6)
    with open(f, "ab") as out:
        out.write(b"x" * 10 + b"\nfour\n")
    assert tailer.poll() == (1, 56)  # four; the 50-byte line is set aside, its first 16 bytes kept
    assert [p.body for p in box.peek(10)][2:] == [b"three", b"four"]
    (aside,) = box.rejected()
    assert aside["status"] == "too_large" and aside["body"] == b"x" * 16 and aside["line"] == 4
    assert "50 bytes" in aside["reason"]
    again = FileTailer(box, [str(tmp_path / "*.jsonl")])  # a restart: offsets from the outbox
    assert again.poll() == (0, 0)
    st = box.status()
    assert st["backlog"] == 4 and st["sources"][0]["pos"] == f.stat().st_size
    box.close()


def test_the_status_view_of_an_outbox_cannot_write(tmp_path: Path) -> None:
    import sqlite3

    Outbox(tmp_path / "outbox.sqlite").close()
    box = Outbox(tmp_path / "outbox.sqlite", create=False)
    assert box.status()["backlog"] == 0
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        box.db.execute("DELETE FROM state")
    box.close()
