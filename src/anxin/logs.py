"""Structured logs: one JSON object per line on stderr (level from ANXIN_LOG, default warning)."""

from __future__ import annotations

import logging
import os
import sys
import time

import msgspec

_enc = msgspec.json.Encoder()
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        data.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return _enc.encode(data).decode()


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not to the stream of
    the moment it was set up (a test runner, a daemon, may have replaced it since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup(level: str | None = None) -> None:
    """JSON lines on stderr for the ``anxin`` loggers, at ``level`` (else ANXIN_LOG, else
    warning); calling it again changes the level and adds no second handler. Records still
    propagate, so whatever the host process collects (a test's caplog) sees them too."""
    root = logging.getLogger("anxin")
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel((level or os.environ.get("ANXIN_LOG", "warning")).upper())


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"anxin.{name}")
