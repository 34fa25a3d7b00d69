"""The tank witness's looks in the store: each look's nozzle estimates
(``meter_estimates``) and tank figures (``tank_estimates``) written, and what the console
reads of them — a nozzle's trend, a station's current estimate per nozzle and per tank;
and a station's ledger rows for ``anxin witness explain --db``.

A look is stored once: a replay of the ledger (recovery) takes the same looks again, at the
same instants, and finds them there (the primary keys are the nozzle or tank and the
look's instant)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, func, select

from anxin.engine.stats import TankEstimate
from anxin.engine.witness import WitnessLook
from anxin.store import schema as T

log = logging.getLogger("anxin.store")


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _interval(ci: tuple[float, float] | None) -> tuple[float | None, float | None]:
    if ci is None:
        return None, None
    return _finite(ci[0]), _finite(ci[1])


def meter_rows(look: WitnessLook) -> list[dict[str, Any]]:
    rows = []
    for m in look.meters:
        lo, hi = m.ci95_permille
        if not all(math.isfinite(x) for x in (m.error_permille, lo, hi)):
            log.warning("meter estimate not stored: not a finite number", extra={"nozzle_id": m.nozzle_id})
            continue
        plo, phi = _interval(m.pooled_ci95_permille)
        rows.append(
            {
                "nozzle_id": m.nozzle_id,
                "ts": look.ts,
                "station_id": look.station_id,
                "tank_id": m.tank_id,
                "k_pulses_per_m3": m.k_pulses_per_m3,
                "error_permille": m.error_permille,
                "ci_lo_permille": lo,
                "ci_hi_permille": hi,
                "n": m.n,
                "status": m.status,
                "pooled_permille": _finite(m.pooled_permille),
                "pooled_ci_lo_permille": plo,
                "pooled_ci_hi_permille": phi,
            }
        )
    return rows


def tank_row(look: WitnessLook, e: TankEstimate) -> dict[str, Any] | None:
    """The row of one tank at one look (None, with a warning, when a figure the table
    requires is not a finite number: the look's other rows and alarms are stored)."""
    lo, hi = e.loss_ci95_l_per_h
    required = (e.loss_l_per_h, lo, hi, e.hours, e.residual_sd_ml)
    if not all(math.isfinite(x) for x in required):
        log.warning("tank estimate not stored: not a finite number", extra={"tank_id": e.tank_id})
        return None
    plo, phi = _interval(e.pooled_ci95_permille)
    return {
        "tank_id": e.tank_id,
        "ts": look.ts,
        "station_id": look.station_id,
        "loss_l_per_h": e.loss_l_per_h,
        "loss_ci_lo_l_per_h": lo,
        "loss_ci_hi_l_per_h": hi,
        "leak_suspected": bool(e.leak_suspected),
        "leak_conclusive": bool(e.leak_conclusive),
        "pooled_permille": _finite(e.pooled_permille),
        "pooled_ci_lo_permille": plo,
        "pooled_ci_hi_permille": phi,
        "scale_anchored": bool(e.scale_anchored),
        "deliveries_declared": e.deliveries_declared,
        "deliveries_inconsistent": e.deliveries_inconsistent,
        "hours": e.hours,
        "readings_used": e.readings_used,
        "residual_sd_ml": e.residual_sd_ml,
        # (JSON: a non-finite correction would make PostgreSQL refuse the whole look)
        "chart_correction": [[int(level), ml] for level, ml in e.chart_correction if math.isfinite(ml)],
        "method": e.method[:64],
        "register_nozzles": int(e.register_nozzles),
        "register_shift_permille": _finite(e.register_shift_permille),
    }


def save_look(c: Connection, insert: Any, look: WitnessLook) -> None:
    """Store one look in the caller's transaction (``insert``: the dialect's INSERT, for
    ON CONFLICT DO NOTHING)."""
    meters = meter_rows(look)
    if meters:
        c.execute(insert(T.meter_estimates).on_conflict_do_nothing(index_elements=["nozzle_id", "ts"]), meters)
    tanks = [r for e in look.tanks if (r := tank_row(look, e)) is not None]
    if tanks:
        c.execute(insert(T.tank_estimates).on_conflict_do_nothing(index_elements=["tank_id", "ts"]), tanks)


# ------------------------------------------------------------------ reads (the console)
_METER_COLS = (
    "ts",
    "station_id",
    "tank_id",
    "k_pulses_per_m3",
    "error_permille",
    "ci_lo_permille",
    "ci_hi_permille",
    "n",
    "status",
    "pooled_permille",
    "pooled_ci_lo_permille",
    "pooled_ci_hi_permille",
)


def nozzle_estimates(c: Connection, nozzle_id: str, *, limit: int = 2000) -> list[dict[str, Any]]:
    """The nozzle's estimates, one per look, oldest first (the latest ``limit``)."""
    m = T.meter_estimates.c
    rows = c.execute(
        select(*(m[k] for k in _METER_COLS)).where(m.nozzle_id == nozzle_id).order_by(m.ts.desc()).limit(limit)
    ).all()
    return [dict(r._mapping) for r in reversed(rows)]


def station_meter_estimates(c: Connection, station_id: str) -> dict[str, dict[str, Any]]:
    """Each nozzle of the station's latest estimate, by nozzle."""
    m = T.meter_estimates.c
    last = (
        select(m.nozzle_id, func.max(m.ts).label("ts"))
        .where(m.station_id == station_id)
        .group_by(m.nozzle_id)
        .subquery()
    )
    rows = c.execute(
        select(m.nozzle_id, *(m[k] for k in _METER_COLS)).join(
            last, and_(m.nozzle_id == last.c.nozzle_id, m.ts == last.c.ts)
        )
    ).all()
    return {r.nozzle_id: dict(r._mapping) for r in rows}


def station_tank_estimates(c: Connection, station_id: str) -> dict[str, dict[str, Any]]:
    """Each tank of the station's latest figures, by tank."""
    k = T.tank_estimates.c
    last = (
        select(k.tank_id, func.max(k.ts).label("ts")).where(k.station_id == station_id).group_by(k.tank_id).subquery()
    )
    rows = c.execute(select(T.tank_estimates).join(last, and_(k.tank_id == last.c.tank_id, k.ts == last.c.ts))).all()
    return {r.tank_id: dict(r._mapping) for r in rows}


def tank_estimate(c: Connection, tank_id: str) -> dict[str, Any] | None:
    """The tank's latest figures (None: never looked at)."""
    k = T.tank_estimates.c
    row = c.execute(select(T.tank_estimates).where(k.tank_id == tank_id).order_by(k.ts.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)


def station_ledger(store: Any, station_id: str, *, batch: int = 5000) -> Iterator[tuple[bytes, int | None]]:
    """(line, verdict) of the station's ledger rows in feed order — the records, without
    the platform's clock ticks and the rows set aside (which no replay feeds): what
    ``anxin witness explain --db`` feeds an engine to build one tank's data."""
    L = T.ledger.c
    aside = store.ledger_skipped()
    last = 0
    while True:
        with store.engine.connect() as c:
            rows = c.execute(
                select(L.id, L.body, L.verdict)
                .where(L.station_id == station_id, L.id > last, L.kind != "tick")
                .order_by(L.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        for i, body, verdict in rows:
            if int(i) not in aside:
                yield bytes(body), verdict
        last = int(rows[-1][0])
