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


def setup(level: str | None = None) -> None:
    root = logging.getLogger("anxin")
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("ANXIN_LOG", "warning")).upper())
    root.propagate = False


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"anxin.{name}")
