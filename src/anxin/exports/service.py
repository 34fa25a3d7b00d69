"""One export, whoever asks — the console, the agencies' API, the command line: the
period and the stations checked against the asker's scope, the figures computed, the
file written, and its audit entry (who, which period, which stations, the file's
SHA-256) stored before the file is handed out."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from dataclasses import dataclass

from anxin.audit.service import record as audit_record
from anxin.auth.roles import User, can, station_scope
from anxin.contract.registry import Registry, Station
from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY
from anxin.exports.figures import EPOCH_DAY, compute
from anxin.exports.files import commerce_json, commerce_xlsx, tax_json, tax_xlsx, word
from anxin.exports.queries import AgencyToken
from anxin.store.database import Store

KINDS = ("tax", "commerce")
FORMATS = ("xlsx", "json")
MAX_DAYS = 366
PERMISSION = "export.agency"
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


class ExportRefused(ValueError):
    """A request that cannot be exported: ``key`` is a word of the catalog's
    ``agency_export`` table, ``params`` fill it."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(f"{key}: {params}")
        self.key, self.params = key, params

    def text(self, lang: str) -> str:
        return word(self.key, lang).format(**self.params)


class OutOfScope(ExportRefused):
    """A district or station the asker may not export (the console and the API answer
    it as not found: an id outside one's scope is not confirmed to exist)."""


@dataclass(frozen=True)
class Scope:
    """What an asker may export: ``stations`` (None: any), ``district`` (None: any),
    ``kinds``; ``actor`` for the audit log; ``agency`` for a token's pulls."""

    actor: str
    stations: frozenset[str] | None = None
    district: str | None = None
    kinds: tuple[str, ...] = KINDS
    agency: str | None = None
    token_id: int | None = None


def user_scope(user: User) -> Scope:
    """A console user's scope: the permission (a regulator's), its stations (an operator's
    would be its own; operators have no permission) and its district, when it has one —
    a district bureau hands out its own district's data, not its neighbours'."""
    if not can(user, PERMISSION):
        raise ExportRefused("not_allowed")
    return Scope(actor=user.username, stations=station_scope(user), district=user.district)


def token_scope(token: AgencyToken) -> Scope:
    """An agency token's scope: its kinds and its district."""
    return Scope(
        actor=f"agency:{token.id}", district=token.district, kinds=token.kinds, agency=token.agency, token_id=token.id
    )


def parse_day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ExportRefused("bad_day", field=field, value=str(text)[:40]) from None


def check_period(start: dt.date, end: dt.date, *, now_us: int) -> None:
    """A period of whole local days, begun, at most :data:`MAX_DAYS` long."""
    today = EPOCH_DAY + dt.timedelta(days=(now_us + LOCAL_OFFSET_US) // US_PER_DAY)
    if end < start:
        raise ExportRefused("period_reversed", start=start.isoformat(), end=end.isoformat())
    if (end - start).days + 1 > MAX_DAYS:
        raise ExportRefused("period_too_long", days=str(MAX_DAYS))
    if end > today:
        raise ExportRefused("period_future", end=end.isoformat(), today=today.isoformat())


def choose(
    registry: Registry, scope: Scope, *, district: str | None = None, stations: Collection[str] = ()
) -> tuple[list[Station], str | None]:
    """The registered stations to export and the district the file names: the asker's
    district unless it asks a narrower set; a district or station outside the scope is
    :class:`OutOfScope`, as is one the registry does not know."""
    if district and scope.district and district != scope.district:
        raise OutOfScope("out_of_scope", what=district)
    district = district or scope.district
    if district and district not in {s.district for s in registry.stations}:
        raise OutOfScope("out_of_scope", what=district)
    visible = [
        s
        for s in registry.stations
        if (scope.stations is None or s.station_id in scope.stations) and (not district or s.district == district)
    ]
    if stations:
        by_id = {s.station_id: s for s in visible}
        for sid in stations:
            if sid not in by_id:
                raise OutOfScope("out_of_scope", what=sid)
        visible = [by_id[sid] for sid in sorted(set(stations))]
    if not visible:
        raise ExportRefused("no_stations")
    return visible, district


@dataclass(frozen=True)
class ExportFile:
    data: bytes
    sha256: str
    media_type: str
    filename: str
    audit_seq: int
    stations: list[str]


def export(
    store: Store,
    registry: Registry,
    *,
    kind: str,
    fmt: str,
    start: dt.date,
    end: dt.date,
    scope: Scope,
    district: str | None = None,
    stations: Collection[str] = (),
    lang: str = "zh",
    via: str,
    reason: str = "",
    now_us: int,
) -> ExportFile:
    """The export file of ``kind`` (tax | commerce) in ``fmt`` (xlsx | json) for local days
    ``start``..``end``, within ``scope``, audited (``via``: console | api | cli)."""
    if kind not in KINDS:
        raise ExportRefused("bad_kind", value=kind[:40])
    if fmt not in FORMATS:
        raise ExportRefused("bad_format", value=fmt[:40])
    if kind not in scope.kinds:
        raise ExportRefused("not_allowed")
    check_period(start, end, now_us=now_us)
    chosen, named = choose(registry, scope, district=district, stations=stations)
    figures = compute(store, registry, stations=chosen, start=start, end=end, now_us=now_us)
    who = scope.agency or scope.actor
    if fmt == "json":
        data = (tax_json if kind == "tax" else commerce_json)(figures, district=named, exported_by=who)
    else:
        make = tax_xlsx if kind == "tax" else commerce_xlsx
        data = make(figures, district=named, exported_by=who, lang=lang)
    digest = hashlib.sha256(data).hexdigest()
    ids = [s.station_id for s in chosen]
    seq = audit_record(
        store,
        actor=scope.actor[:64],
        action=f"export.{kind}",
        subject=f"export:{figures.start}~{figures.end}",
        reason=reason.strip() or f"export.{via}",
        data={
            "kind": kind,
            "format": fmt,
            "from": figures.start,
            "to": figures.end,
            "district": named,
            "stations": ids,
            "sha256": digest,
            "bytes": len(data),
            "via": via,
            "agency": scope.agency,
            "token": scope.token_id,
        },
        now_us=now_us,
    )
    return ExportFile(
        data=data,
        sha256=digest,
        media_type=MEDIA[fmt],
        filename=f"anxin-{kind}-{figures.start}-{figures.end}.{fmt}",
        audit_seq=seq,
        stations=ids,
    )
