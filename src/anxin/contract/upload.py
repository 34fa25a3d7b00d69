"""The answer to an upload (``POST /v1/records``, the MQTT bridge's reply): each line's
outcome. One definition for the platform that writes it and the vendor SDK
(:mod:`anxin.sdk`) that reads it."""

from __future__ import annotations

import msgspec

STATUSES = ("accepted", "duplicate", "quarantined", "rejected")


class Result(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What happened to one line of an upload."""

    line: int  # 1-based, in the upload's body
    status: str  # accepted | duplicate | quarantined | rejected
    reason: str | None = None
    kind: str | None = None
    key: str | None = None  # the record's natural key


class UploadResult(msgspec.Struct, kw_only=True):
    accepted: int
    duplicate: int
    quarantined: int
    rejected: int
    results: list[Result]
