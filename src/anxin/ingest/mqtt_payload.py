"""What the MQTT bridge does to one message before and after ``IngestService.ingest``:
the broker URL, the topic, the station token, the kind check, the result document.

Pure functions (no network, no store), so that the bridge itself stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec

from anxin.ingest.service import Result, UploadResult

KINDS = ("metering", "settlement", "event", "tank_reading", "delivery", "verification")
RESULTS = "results"  # anxin/{station_id}/results: where the bridge answers


@dataclass(frozen=True)
class BrokerURL:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    options: dict[str, str]  # ?client_id=…&prefix=… (the last value of each key)


def parse_url(url: str) -> BrokerURL:
    """``mqtt://[user[:password]@]host[:port][?client_id=…&prefix=…]`` or ``mqtts://…`` (TLS)."""
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT broker URL {url!r}: the scheme must be mqtt:// or mqtts://")
    if not u.hostname:
        raise ValueError(f"MQTT broker URL {url!r} names no host")
    tls = u.scheme in ("mqtts", "ssl")
    options = {k: v[-1] for k, v in parse_qs(u.query).items()}
    return BrokerURL(
        host=u.hostname,
        port=u.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password else None,
        options=options,
    )


def split_topic(topic: str, prefix: str) -> tuple[str, str] | None:
    """``{prefix}/{station_id}/{kind}`` → (station_id, kind); None for any other shape."""
    parts = topic.split("/")
    want = prefix.split("/")
    if len(parts) != len(want) + 2 or parts[: len(want)] != want or not parts[-2] or not parts[-1]:
        return None
    return parts[-2], parts[-1]


class _TokenLine(msgspec.Struct, forbid_unknown_fields=True):
    token: str


class _KindOnly(msgspec.Struct):
    kind: str | None = None


_token_line = msgspec.json.Decoder(_TokenLine)
_kind_only = msgspec.json.Decoder(_KindOnly)


def take_token(lines: list[bytes]) -> str | None:
    """The token of a first payload line ``{"token": "…"}`` (MQTT 3.1.1 clients), blanking
    that line in place so that it is not taken for a record; None when there is none."""
    if not lines:
        return None
    first = lines[0].strip()
    if not first.startswith(b"{") or b'"token"' not in first:
        return None
    try:
        token = _token_line.decode(first).token
    except (msgspec.DecodeError, RecursionError):  # (nested too deep: the ingest path rejects it)
        return None
    lines[0] = b""
    return token


def _is_token_line(raw: bytes) -> bool:
    try:
        _token_line.decode(raw)
        return True
    except (msgspec.DecodeError, RecursionError):  # (nested too deep: the ingest path rejects it)
        return False


def sort_kinds(lines: list[bytes], topic_kind: str, topic: str) -> list[Result]:
    """Blank (in place) every line whose ``kind`` is not the topic's, and every token
    line after the first (a secret: not for the rejects table), and return their
    rejects. A line that is not JSON, or has no string kind, is left for the ingest path
    to reject with its own reason. Blanked lines keep their number: ingest skips blank
    lines but counts them, so every result's ``line`` is the line of the payload."""
    wrong: list[Result] = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            kind = _kind_only.decode(raw).kind
        except (msgspec.DecodeError, RecursionError):  # (nested too deep: the ingest path rejects it)
            continue
        if kind is None and b'"token"' in raw and _is_token_line(raw):  # never into the rejects table
            wrong.append(Result(line=n, status="rejected", reason="a token line must be the first line"))
            lines[n - 1] = b""
        elif kind is not None and kind != topic_kind:
            reason = f"record of kind {kind!r} on topic {topic!r}, whose kind is {topic_kind!r}"
            wrong.append(Result(line=n, status="rejected", reason=reason, kind=kind))
            lines[n - 1] = b""
    return wrong


def merge(result: UploadResult | None, wrong: list[Result]) -> UploadResult:
    """The ingest result with the bridge's kind rejects added, in line order."""
    if result is None:
        result = UploadResult(accepted=0, duplicate=0, quarantined=0, rejected=0, results=[])
    if wrong:
        result.results = sorted([*result.results, *wrong], key=lambda r: r.line)
        result.rejected += len(wrong)
    return result


def correlation_text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.hex()


def result_document(outcome: UploadResult | str, *, topic: str, mid: int, correlation: bytes | None) -> bytes:
    """The JSON published on ``…/results``: the UploadResult (or ``{"error": …}``) with
    the topic, the bridge's message id and the MQTT 5 correlation data when there is one."""
    doc: dict[str, object] = {"error": outcome} if isinstance(outcome, str) else msgspec.to_builtins(outcome)
    doc["topic"] = topic
    doc["mid"] = mid
    text = correlation_text(correlation)
    if text is not None:
        doc["correlation"] = text
    return msgspec.json.encode(doc)
