"""The verification register (检定台账): per nozzle its last verification and status,
the due list (到期提醒) and coverage figures (检定覆盖率、合格率).

The state of a nozzle before any verification record arrived is the registry's
(``verified_until``, ``last_verification_passed``); a verification record supersedes
it from its ``ts`` (contract v1 §2). Everything is "as of" ``now_us``, an argument:
no wall clock here, and records after ``now_us`` are not yet known.

Statuses: ``failed`` — the last verification failed; ``overdue`` — passed but its
validity ended before ``now_us``; ``due_soon`` — it ends within ``within_days``;
``valid`` — later; ``never`` — no verification record and the registry does not vouch
for a passing one (``last_verification_passed: false``): no passing verification is
known to the platform.

Who sent each verification (contract v1.1 §C) is read from its ledger row's ``source``
(:func:`anxin.ingest.principals.sender_of`): an institute, a console user, a replay. A
verification a station sent itself (accepted before the platform refused them) is
never taken as the nozzle's verification: it is listed as "station (refused)" only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

import msgspec
from sqlalchemy import literal_column, select

from anxin.contract.registry import Nozzle, Registry
from anxin.contract.times import US_PER_DAY, parse_ts, to_us
from anxin.i18n.po import table
from anxin.ingest.principals import sender_of
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.verification import VerificationResult

STATUSES = ("overdue", "failed", "never", "due_soon", "valid")  # the due list's order
STATUS_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("register_status").items()}
IN_USE = ("valid", "due_soon")  # a valid verification


class _NozzleFields(TypedDict):
    """What every register row says about its nozzle (``RegisterRow``'s first fields)."""

    station_id: str
    station_name: str
    district: str
    nozzle_id: str
    dispenser_id: str
    product: str


class FlowPointRow(msgspec.Struct, frozen=True, kw_only=True):
    flow_ml_per_min: int | float
    runs: int
    error_permille: float
    repeatability_permille: float | None
    passes_mpe: bool
    passes_repeatability: bool


class RegisterRow(msgspec.Struct, frozen=True, kw_only=True):
    """One nozzle in the register. The ``last_*`` fields are None without a record."""

    station_id: str
    station_name: str
    district: str
    nozzle_id: str
    dispenser_id: str
    product: str
    status: str
    source: str  # "record": from the last verification record; "registry": the registry's state
    valid_until: str  # RFC 3339
    valid_until_us: int
    days_left: int  # whole days to valid_until (negative: overdue)
    last_ts: str | None = None
    last_type: str | None = None
    org: str | None = None
    certificate_no: str | None = None
    k_pulses_per_m3: int | None = None
    flow_points: list[FlowPointRow] = []
    max_abs_error_permille: float | None = None
    passed: bool | None = None
    within_target: bool | None = None  # the Hangzhou ±2‰ target
    reasons: list[str] = []
    sender_role: str | None = None  # who sent the last record: institute | console | replay
    sender: str | None = None  # the institute's name, the console user, the replay's source


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    district: str | None
    now_us: int
    since_us: int | None
    nozzles: int
    valid: int  # nozzles with a valid verification (valid or due_soon)
    coverage: float | None  # valid / nozzles
    by_status: dict[str, int]
    verifications: int  # verification records in [since_us, now_us]
    passed: int
    pass_rate: float | None  # passed / verifications
    after_repair: int
    after_repair_passed: int


def verification_senders(store: Store, station_ids: Iterable[str] | None = None) -> dict[str, str]:
    """natural key (``nozzle/ts µs``) → the ledger ``source`` of the verification record
    the engine took (the first arrival not quarantined), through the ledger's partial
    index on verification rows."""
    led = T.ledger.c
    q = (
        select(led.natural_key, led.source)
        .where(led.kind == literal_column("'verification'"), ~led.quarantined)  # a literal: the partial index
        .order_by(led.id)
    )
    if station_ids is not None:
        q = q.where(led.station_id.in_(list(station_ids)))
    out: dict[str, str] = {}
    with store.engine.connect() as c:
        for key, source in c.execute(q):
            out.setdefault(key, source)
    return out


def _results(
    store: Store, station_ids: Iterable[str] | None, *, refused: bool = False
) -> list[tuple[int, VerificationResult, str | None]]:
    """(ts µs, result, ledger source or None) of the stored verifications; those a station
    sent itself are left out (``refused``: only those)."""
    v = T.verifications.c
    q = select(v.ts, v.result)
    wanted = None if station_ids is None else list(station_ids)
    if wanted is not None:
        q = q.where(v.station_id.in_(wanted))
    with store.engine.connect() as c:
        rows = c.execute(q).all()
    sources = verification_senders(store, wanted)
    out = []
    for ts, result in rows:
        if isinstance(result, str | bytes):  # a driver that hands JSON back as text
            result = msgspec.json.decode(result)
        r = msgspec.convert(result, VerificationResult)
        t = parse_ts(ts)
        source = sources.get(f"{r.nozzle_id}/{t}")
        by_station = source is not None and not sender_of(source).trusted
        if by_station == refused:
            out.append((t, r, source))
    out.sort(key=lambda x: (x[0], x[1].nozzle_id))
    return out


def status_of(passed: bool, valid_until_us: int, now_us: int, *, within_days: int = 30) -> str:
    if not passed:
        return "failed"
    if now_us > valid_until_us:
        return "overdue"
    if valid_until_us - now_us <= within_days * US_PER_DAY:
        return "due_soon"
    return "valid"


def _row(
    reg: Registry,
    n: Nozzle,
    last: VerificationResult | None,
    now_us: int,
    within_days: int,
    source: str | None = None,
    names: dict[str, str] | None = None,
) -> RegisterRow:
    st = reg.station_by_id[n.station_id]
    base: _NozzleFields = {
        "station_id": n.station_id,
        "station_name": st.name,
        "district": st.district,
        "nozzle_id": n.nozzle_id,
        "dispenser_id": n.dispenser_id,
        "product": n.product,
    }
    if last is None:
        until = to_us(n.verified_until)
        status = "never" if not n.last_verification_passed else status_of(True, until, now_us, within_days=within_days)
        return RegisterRow(
            **base,
            status=status,
            source="registry",
            valid_until=n.verified_until.isoformat(timespec="milliseconds"),
            valid_until_us=until,
            days_left=(until - now_us) // US_PER_DAY,
        )
    until = parse_ts(last.valid_until)
    sender = None if source is None else sender_of(source, reg, names)
    points = [
        FlowPointRow(
            flow_ml_per_min=p.flow_ml_per_min,
            runs=p.runs,
            error_permille=p.error_permille,
            repeatability_permille=p.repeatability_permille,
            passes_mpe=p.passes_mpe,
            passes_repeatability=p.passes_repeatability,
        )
        for p in last.flow_points
    ]
    return RegisterRow(
        **base,
        status=status_of(last.passed, until, now_us, within_days=within_days),
        source="record",
        valid_until=last.valid_until,
        valid_until_us=until,
        days_left=(until - now_us) // US_PER_DAY,
        last_ts=last.ts,
        last_type=last.type,
        org=last.org,
        certificate_no=last.certificate_no,
        k_pulses_per_m3=last.k_pulses_per_m3,
        flow_points=points,
        max_abs_error_permille=last.max_abs_error_permille,
        passed=last.passed,
        within_target=last.within_target,
        reasons=list(last.reasons),
        sender_role=None if sender is None else sender.role,
        sender=None if sender is None else sender.name,
    )


def register_rows(
    store: Store, registry: Registry, *, now_us: int, station_ids: Iterable[str] | None = None, within_days: int = 30
) -> list[RegisterRow]:
    """Every registered nozzle (of ``station_ids``, or all) with its last verification
    up to ``now_us``; in registry order."""
    wanted = None if station_ids is None else set(station_ids)
    nozzles = [n for n in registry.nozzles if wanted is None or n.station_id in wanted]
    last: dict[str, tuple[VerificationResult, str | None]] = {}
    for t, r, source in _results(store, None if wanted is None else wanted):
        if t <= now_us:
            last[r.nozzle_id] = (r, source)  # ascending time: the latest wins
    names = institute_names(store) if any(s and s.startswith("institute:") for _r, s in last.values()) else None
    out = []
    for n in nozzles:
        found = last.get(n.nozzle_id)
        if found is None:
            out.append(_row(registry, n, None, now_us, within_days))
        else:
            out.append(_row(registry, n, found[0], now_us, within_days, found[1], names))
    return out


def institute_names(store: Store) -> dict[str, str]:
    """Institute id → name, as given when its token was issued."""
    it = T.institute_tokens.c
    with store.engine.connect() as c:
        return {a: b for a, b in c.execute(select(it.institute_id, it.name)).all()}


def due_list(
    store: Store, registry: Registry, *, now_us: int, within_days: int = 30, station_ids: Iterable[str] | None = None
) -> list[RegisterRow]:
    """Nozzles that need a verification: overdue first (longest overdue first), then
    failed, never, and due within ``within_days`` (soonest first)."""
    rows = register_rows(store, registry, now_us=now_us, station_ids=station_ids, within_days=within_days)
    due = [r for r in rows if r.status != "valid"]
    due.sort(key=lambda r: (STATUSES.index(r.status), r.valid_until_us, r.nozzle_id))
    return due


def coverage(
    store: Store,
    registry: Registry,
    *,
    now_us: int,
    district: str | None = None,
    since_us: int | None = None,
    within_days: int = 30,
) -> Coverage:
    """Coverage of ``district`` (or the city) at ``now_us``, and the verifications of the
    period [``since_us``, ``now_us``] (all up to ``now_us`` when ``since_us`` is None)."""
    stations = [s.station_id for s in registry.stations if district is None or s.district == district]
    rows = register_rows(store, registry, now_us=now_us, station_ids=stations, within_days=within_days)
    by_status = {s: sum(r.status == s for r in rows) for s in STATUSES}
    valid = sum(by_status[s] for s in IN_USE)
    period = [r for t, r, _s in _results(store, stations) if t <= now_us and (since_us is None or t >= since_us)]
    passed = sum(r.passed for r in period)
    repairs = [r for r in period if r.type == "after_repair"]
    return Coverage(
        district=district,
        now_us=now_us,
        since_us=since_us,
        nozzles=len(rows),
        valid=valid,
        coverage=valid / len(rows) if rows else None,
        by_status=by_status,
        verifications=len(period),
        passed=passed,
        pass_rate=passed / len(period) if period else None,
        after_repair=len(repairs),
        after_repair_passed=sum(r.passed for r in repairs),
    )


def register_row(store: Store, registry: Registry, nozzle_id: str, *, now_us: int) -> RegisterRow | None:
    """One nozzle's register reading (its last verification record, else the registry) —
    what its public page and its console page both show."""
    n = registry.nozzle_by_id.get(nozzle_id)
    if n is None:
        return None
    rows = register_rows(store, registry, now_us=now_us, station_ids={n.station_id})
    return next((r for r in rows if r.nozzle_id == nozzle_id), None)


def coverage_of(
    store: Store, registry: Registry, *, now_us: int, station_ids: Iterable[str] | None = None
) -> tuple[float | None, float | None]:
    """(coverage, pass rate) at ``now_us`` for the city (None) or some stations — the one
    computation every page shows (the overview and 智慧检定 disagreed: 99 % against 0 %)."""
    if station_ids is None:
        c = coverage(store, registry, now_us=now_us)
        return c.coverage, c.pass_rate
    rows = register_rows(store, registry, now_us=now_us, station_ids=set(station_ids))
    valid = sum(r.status in IN_USE for r in rows)
    done = [r for r in rows if r.passed is not None]
    return (
        valid / len(rows) if rows else None,
        sum(bool(r.passed) for r in done) / len(done) if done else None,
    )


def stored_verification(store: Store, nozzle_id: str, ts: str) -> tuple[VerificationResult, dict | None] | None:
    """The stored result of one verification and the record it was computed from (the
    ledger's first arrival with that natural key; None if the ledger has none)."""
    v, led = T.verifications.c, T.ledger.c
    with store.engine.connect() as c:
        row = c.execute(select(v.result).where(v.nozzle_id == nozzle_id, v.ts == ts)).first()
        if row is None:
            return None
        body = c.execute(
            select(led.body)
            .where(
                led.kind == literal_column("'verification'"),  # a literal: the ledger's partial index
                led.natural_key == f"{nozzle_id}/{parse_ts(ts)}",
                ~led.quarantined,
            )
            .order_by(led.id)
            .limit(1)
        ).scalar_one_or_none()
    result = row[0] if not isinstance(row[0], str | bytes) else msgspec.json.decode(row[0])
    return msgspec.convert(result, VerificationResult), (msgspec.json.decode(body) if body is not None else None)


def verification_source(store: Store, nozzle_id: str, ts: str) -> str | None:
    """The ledger ``source`` of one verification (who sent it), or None."""
    led = T.ledger.c
    with store.engine.connect() as c:
        return c.execute(
            select(led.source)
            .where(
                led.kind == literal_column("'verification'"),
                led.natural_key == f"{nozzle_id}/{parse_ts(ts)}",
                ~led.quarantined,
            )
            .order_by(led.id)
            .limit(1)
        ).scalar_one_or_none()


def firmware_events(store: Store, *, station_id: str | None = None) -> list[tuple[bytes, int]]:
    """The bodies and event times of the module events of one station (or all) that may
    report a firmware update, not quarantined (a forgery says nothing about what runs)."""
    led = T.ledger.c
    # module events are a sliver of the ledger; a body is kept only when it names an update
    q = select(led.body, led.event_time_us).where(led.kind == literal_column("'event'"), ~led.quarantined)
    if station_id is not None:
        q = q.where(led.station_id == station_id)
    with store.engine.connect() as c:
        return [(bytes(body), int(t)) for body, t in c.execute(q) if b"firmware_update" in bytes(body)]
