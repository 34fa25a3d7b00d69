"""Structured logs: one JSON object per line on stderr (level from ANXIN_LOG, default warning),
anxin's own and, through :func:`uvicorn_log_config`, uvicorn's server and access logs."""

from __future__ import annotations

import logging
import os
import sys
import time

import msgspec

_enc = msgspec.json.Encoder()
# (color_message: uvicorn's ANSI-coloured copy of the message)
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _enc.encode(self.fields(record)).decode()

    def fields(self, record: logging.LogRecord) -> dict:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        data.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return data


class AccessFormatter(JsonFormatter):
    """uvicorn's access log (``uvicorn.access``: the arguments client address, method,
    path with query, HTTP version, status) as fields of their own."""

    def fields(self, record: logging.LogRecord) -> dict:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 5):
            return super().fields(record)
        client, method, path, http, status = args
        data = super().fields(record)
        data.update(event="request", client=client, method=method, path=path, http=http, status=status)
        return data


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


def uvicorn_log_config(level: str | None = None) -> dict:
    """uvicorn's ``log_config``: its server log (``uvicorn``, ``uvicorn.error``) and its
    access log (``uvicorn.access``) as JSON lines on stderr like anxin's own, at
    ``level`` (default: the ``anxin`` loggers' — ``anxin --log info`` shows the
    requests, the default warning does not)."""
    level = (level or logging.getLevelName(logging.getLogger("anxin").getEffectiveLevel())).upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}, "access": {"()": AccessFormatter}},
        "handlers": {
            "json": {"()": StderrHandler, "formatter": "json"},
            "access": {"()": StderrHandler, "formatter": "access"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
    }


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"anxin.{name}")
