"""An upload's lines screened, before anything is stored (接入审查): shared by the one
ingest path of ``anxin serve`` and by the scale-out receivers, so a line gets the same
outcome whichever process takes it.

For each line: parse and authenticate (the batch checker's own step,
:func:`anxin.check.pipeline.parse_verified`), then the sender's rights: a kind its
principal may not send, a record of another station than the token's, a station the
registry does not know — each a reject naming the reason; personal data in the record
refused or tokenised as the privacy policy says (:mod:`anxin.privacy.policy`, the same
step as ``anxin check``'s). What passes becomes a ledger
row: quarantined (kept as evidence, judged apart) when its signature does not hold or its
event time is ahead of its receipt time by more than the tolerance (CLOCK_AHEAD).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from anxin.check.pipeline import parse_private
from anxin.contract.natural import ledger_digest, natural_key
from anxin.contract.parse import Parsed, Reject
from anxin.contract.records import Settlement, Verification, kind_of
from anxin.contract.registry import Registry
from anxin.contract.times import format_ts, local_day
from anxin.contract.upload import Result, UploadResult
from anxin.crypto.keys import KeyRing, KeyVerdict
from anxin.ingest.principals import Principal
from anxin.ingest.readers import Read, Readers, RingSpec
from anxin.privacy.policy import Privacy
from anxin.store.ledger import LedgerRow, RejectRow

log = logging.getLogger("anxin.ingest")


@dataclass
class Screened:
    """An upload after screening: every line's result so far, the ledger rows of the lines
    that passed (with their parsed records, by index in ``results``), the rejects."""

    results: list[Result] = field(default_factory=list)
    rows: list[LedgerRow] = field(default_factory=list)
    parsed: list[tuple[int, Parsed, KeyVerdict | None]] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)
    ahead: set[int] = field(default_factory=set)  # (index in results) quarantined as CLOCK_AHEAD
    faults: int = 0  # lines that could not be read for a fault of the platform's


@functools.lru_cache(maxsize=64)
def day_text(day: int) -> str:
    """A local day number as YYYY-MM-DD (the daily figures' key; cached: one per day)."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def ledger_row(
    p: Parsed, raw: bytes, verdict: KeyVerdict | None, *, quarantined: bool, source: str, part: int | None = None
) -> LedgerRow:
    """The ledger row of a screened record (a settlement carries its day's figures)."""
    rec = p.rec
    kind, key = kind_of(rec), natural_key(p)
    sale = (day_text(local_day(p.t)), rec.volume_ml, rec.amount_fen) if isinstance(rec, Settlement) else None
    return LedgerRow(
        kind=kind,
        station_id=rec.station_id,
        natural_key=key,
        event_time_us=p.t,
        digest=ledger_digest(kind, key, p),
        verdict=None if verdict is None else int(verdict),
        quarantined=quarantined,
        source=source,
        body=raw,
        sale=sale,
        part=part,
    )


def read_line(raw: bytes, ring: KeyRing, privacy: Privacy) -> tuple[Parsed | Reject, KeyVerdict | None, bool, bytes]:
    """``parse_private``, whose failure (a bug: it never raises on bad input) is this
    line's reject, never the upload's; the third value says it was such a fault, the
    fourth is the line to keep (tokenised, or for a privacy reject redacted)."""
    try:
        p, verdict, body = parse_private(raw, ring, privacy)
        return p, verdict, False, raw if body is None else body
    except Exception as exc:
        log.exception("a line could not be read: rejected")
        reason = f"internal error reading the line ({type(exc).__name__}); reported to the operators"
        return Reject(reason), None, True, b"(not kept: the line could not be read)"


def screen(
    lines: Sequence[bytes],
    *,
    station_id: str | None,
    principal: Principal | None,
    source: str,
    received: int,
    registry: Registry,
    ring: KeyRing,
    ahead_tolerance_us: int,
    privacy: Privacy,
    readers: Readers | None = None,
    spec: RingSpec | None = None,
) -> Screened:
    """Screen one upload of ``station_id`` (None: records of any station, e.g. an
    institute's) received at ``received``. ``principal``: who sends it (contract v1.1 §C);
    None is an in-process replay of the platform's own, trusted as ``anxin check`` trusts
    a data directory. ``readers``: how the lines are read (their signatures checked in a
    worker process: :mod:`anxin.ingest.readers`, ``spec`` made from ``ring``); None: in-process."""
    out = Screened()
    ahead_by = received + ahead_tolerance_us  # later event times: CLOCK_AHEAD
    stations = registry.station_by_id
    numbered = [(n, raw) for n, raw in enumerate((raw.rstrip(b"\r") for raw in lines), 1) if raw.strip()]
    raws = [raw for _n, raw in numbered]  # (blank lines are not records)
    if readers is None:
        read: list[Read] = [read_line(raw, ring, privacy) for raw in raws]
    else:
        read = readers.read(raws, ring, spec, privacy)
    for (n, raw), (p, verdict, fault, body) in zip(numbered, read):
        out.faults += fault
        if isinstance(p, Reject):
            reason = p.reason
        elif principal is not None and (refused := refusal(principal, p)) is not None:
            reason = refused  # whatever the record contains (contract v1.1 §C)
        elif station_id is not None and p.rec.station_id != station_id:
            reason = f"record for station {p.rec.station_id!r}, but the token is station {station_id!r}'s"
        elif p.rec.station_id not in stations:
            reason = f"station {p.rec.station_id!r} is not registered"
        else:
            reason = None
        if reason is not None:
            out.results.append(Result(line=n, status="rejected", reason=reason))
            sender = station_id if station_id is not None else (p.rec.station_id if isinstance(p, Parsed) else None)
            out.rejects.append(RejectRow(station_id=sender, source=source, line=n, reason=reason, excerpt=body[:1024]))
            continue
        assert isinstance(p, Parsed)
        if principal is not None and principal.role == "console" and isinstance(p.rec, Verification):
            if p.rec.sig is None:  # entered by a signed-in, audited user: accepted on that authority
                verdict = None
        quarantined = verdict is not None and verdict != KeyVerdict.OK
        if not quarantined and p.t > ahead_by:
            quarantined = True  # the engine alarms it CLOCK_AHEAD; it counts in no figure
            out.ahead.add(len(out.results))
        row = ledger_row(p, body, verdict, quarantined=quarantined, source=source)
        out.rows.append(row)
        out.parsed.append((len(out.results), p, verdict))
        out.results.append(
            Result(
                line=n,
                status="quarantined" if quarantined else "accepted",
                kind=row.kind,
                key=row.natural_key,
                reason=None if body is raw else TOKENISED,
            )
        )
    return out


TOKENISED = "personal data tokenised: the platform keeps no personal data (docs/privacy.md)"


def refusal(principal: Principal, p: Parsed) -> str | None:
    """Why ``principal`` may not send this record (contract v1.1 §C), or None."""
    rec = p.rec
    return principal.refusal(kind_of(rec), record_institute=rec.institute_id if isinstance(rec, Verification) else None)


QUARANTINE_REASON: dict[KeyVerdict | None, str] = {  # None: not authenticated
    KeyVerdict.BAD_SIGNATURE: "signature does not verify: quarantined as evidence",
    KeyVerdict.UNKNOWN_NOZZLE: "nozzle is not registered: quarantined as evidence",
    KeyVerdict.WRONG_KEY: "key_id is not this nozzle's key: quarantined as evidence",
    KeyVerdict.WRONG_STATION: "nozzle is registered to another station: quarantined as evidence",
    KeyVerdict.UNSIGNED: "verification not signed by a registered institute: quarantined as evidence",
    KeyVerdict.UNKNOWN_INSTITUTE: "institute is not registered: quarantined as evidence",
    KeyVerdict.INSTITUTE_KEY: "key_id is not the institute's key: quarantined as evidence",
}


def tally(results: list[Result]) -> UploadResult:
    """The upload's answer: its lines' outcomes and how many of each."""
    counts = {"accepted": 0, "duplicate": 0, "quarantined": 0, "rejected": 0}
    for r in results:
        counts[r.status] += 1
    return UploadResult(**counts, results=results)


def settle(s: Screened, new: Sequence[bool], *, received: int, tolerance_us: int) -> int:
    """The lines' outcomes once their rows are stored (``new``: per row of ``s.parsed``,
    whether it was new — False: the identical record was already there). Returns how
    many CLOCK_AHEAD records are new."""
    ahead_new = 0
    for (i, p, verdict), fresh in zip(s.parsed, new):
        r = s.results[i]
        if i in s.ahead:
            r.reason = (
                f"event time {format_ts(p.t)} is more than {tolerance_us // 60_000_000}"
                f" min after its receipt time {format_ts(received)}: quarantined as evidence (CLOCK_AHEAD)"
            )
            if not fresh:
                r.reason += " (already received)"
            else:
                ahead_new += 1
        elif r.status == "quarantined":  # a resent forgery is still one (the agent keeps it aside)
            r.reason = QUARANTINE_REASON.get(verdict, "not authenticated")
            if not fresh:
                r.reason += " (already received)"
        elif not fresh:
            r.status, r.reason = "duplicate", "identical record already received"
    return ahead_new
