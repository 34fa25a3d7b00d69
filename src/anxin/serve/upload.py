"""The upload of contract-v1 records (POST /v1/records), one handler for ``anxin serve``
and the scale-out receivers (``anxin serve --role receiver``): what a station is told
about its upload does not depend on which process took it."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from anxin.ingest.principals import Principal
from anxin.ingest.screen import UploadResult
from anxin.ingest.service import NoRegistry, NotHere
from anxin.serve.config import ServeConfig
from anxin.serve.limits import RateLimiter

log = logging.getLogger("anxin.serve")
_enc = msgspec.json.Encoder()
NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-seq", "text/plain")

UPLOAD_ROUTE: dict[str, Any] = dict(
    tags=["devices"],
    summary="Upload contract-v1 records (NDJSON, one record per line)",
    openapi_extra={
        "requestBody": {
            "required": True,
            # bytes: UTF-8 lines, each read on its own (a line that is not JSON is one rejected line)
            "content": {"application/x-ndjson": {"schema": {"type": "string", "format": "binary"}}},
            "description": "Records of any kinds, one JSON object per line: a station's own records, or an "
            "institute's verification records. Also taken as application/jsonl, application/json-seq, text/plain.",
        },
        "parameters": [
            {
                "name": "X-Anxin-Edge-Backlog",
                "in": "header",
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
                "description": "records still waiting in the edge agent's outbox (a station's, for the operators)",
            },
        ],
        "security": [{"station": []}, {"institute": []}],  # the schemes: anxin.serve.bearer
    },
    responses={
        200: {"description": "every line accepted or a duplicate"},
        207: {"description": "some lines rejected or quarantined"},
        400: {"description": "no record in the body"},
        401: {"description": "missing or unknown station or institute token"},
        409: {"description": "every record already received"},
        413: {"description": "body or line count over the limit"},
        415: {"description": "not NDJSON"},
        422: {"description": "nothing accepted"},
        429: {"description": "over the station's upload rate"},
        421: {"description": "this process takes no uploads (the scale-out's read side: upload to a receiver)"},
        503: {"description": "not ready"},
    },
)


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def error(code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=code, headers=headers)


async def take_upload(
    request: Request,
    *,
    tokens: Any,
    limiter: RateLimiter,
    config: ServeConfig,
    ingest: Callable[[str | None, list[bytes], str, Principal], Awaitable[UploadResult]],
    backlog: dict[str, int],
) -> Response:
    """POST /v1/records of ``anxin serve`` and of a scale-out receiver: the token, the
    cheap refusals, the rate, the body's limits, then ``ingest`` (station or None,
    lines, source, principal) and the status code from its outcomes. ``backlog``: the
    edge agents' outboxes as they report them (X-Anxin-Edge-Backlog)."""
    token = bearer(request.headers.get("authorization"))
    try:
        principal = await run_in_threadpool(tokens.principal, token) if token else None
    except Exception as exc:  # the database is away: the token cannot be checked now
        log.exception("token lookup failed")
        return error(503, f"temporarily unavailable ({type(exc).__name__}); retry later", {"Retry-After": "5"})
    if principal is None:
        return error(
            401,
            "a station API token is required (Authorization: Bearer …)"
            if token is None
            else "unknown station API token",
            {"WWW-Authenticate": "Bearer"},
        )
    # A station uploads its own records; an institute its verifications, of any station.
    station_id = principal.id if principal.role == "station" else None
    bucket = principal.id if station_id is not None else f"institute:{principal.id}"
    if station_id is not None:  # the edge agent's outbox; also while refused: the backlog is news then
        reported = request.headers.get("x-anxin-edge-backlog")
        if reported is not None and reported.isdigit():
            backlog[station_id] = int(reported)
    ctype = request.headers.get("content-type", "application/x-ndjson").split(";")[0].strip().lower()
    if ctype not in NDJSON:
        return error(415, f"content type {ctype!r} is not NDJSON (application/x-ndjson: one record per line)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
        return error(413, f"body of {declared} bytes exceeds the {config.max_body_bytes}-byte limit")
    wait = limiter.take(bucket)  # after the cheap refusals: they cost no upload budget
    if wait > 0:
        return error(
            429,
            f"{'station ' + station_id if station_id else 'institute ' + principal.id} "
            f"is over {config.rate_per_station:g} uploads/s",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > config.max_body_bytes:
            return error(413, f"body exceeds the {config.max_body_bytes}-byte limit")
    lines = bytes(body).split(b"\n")
    records = len(lines) - (1 if not lines[-1] else 0)  # a final newline ends the last line, adds none
    if records > config.max_lines:
        return error(413, f"{records} lines exceed the {config.max_lines}-line limit of one upload")
    if not any(line.strip() for line in lines):
        return error(400, "the body holds no record (NDJSON: one JSON record per line)")
    source = principal.source("http")
    try:
        result = await ingest(station_id, lines, source, principal)
    except NoRegistry as exc:
        return error(503, str(exc))
    except NotHere as exc:  # the scale-out's read side: the receivers take uploads
        return error(421, str(exc))
    except Exception as exc:  # the store is down, or recovery failed: a retry is safe (duplicates)
        log.exception("upload failed")
        return error(503, f"temporarily unavailable ({type(exc).__name__}); retry later", {"Retry-After": "5"})
    good = result.accepted + result.duplicate
    bad = result.rejected + result.quarantined
    if result.accepted == 0 and result.duplicate > 0 and bad == 0:
        code = 409
    elif good == 0:
        code = 422
    elif bad:
        code = 207
    else:
        code = 200
    return Response(_enc.encode(result), status_code=code, media_type="application/json")
