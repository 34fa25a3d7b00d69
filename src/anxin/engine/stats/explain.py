"""What an estimate rests on (``anxin witness explain``): the witness's run turned into
:class:`~anxin.engine.stats.models.TankDiagnostics` — plain data, rendered by the CLI."""

from __future__ import annotations

from typing import Any

import numpy as np

from anxin.engine.stats.models import (
    DeliveryInfo,
    SegmentInfo,
    TankData,
    TankDiagnostics,
    TankEstimate,
    WitnessSettings,
)

_US_PER_H = 3_600_000_000


def _segments(p) -> list[SegmentInfo]:
    first, last = p.first_last()
    out = []
    for k, (a, b) in enumerate(zip(first, last)):
        causes = [c for c in p.cause[a : b + 1] if c]
        lv = p.level[a : b + 1]
        out.append(
            SegmentInfo(
                index=k,
                start_us=int(p.t_us[a]),
                end_us=int(p.t_us[b]),
                readings=int(b - a + 1),
                level_min_um=float(lv.min()),
                level_max_um=float(lv.max()),
                cause=causes[0] if causes else "gap",
            )
        )
    return out


def _deliveries(data: TankData, r) -> list[DeliveryInfo]:
    """Every declared delivery in the data, with the boundary it fell on (if any)."""

    def unused(a: int, b: int, v: float) -> DeliveryInfo:
        return DeliveryInfo(
            start_us=int(a), end_us=int(b), declared_ml=float(v), implied_ml=None, used=False, reason="no_readings"
        )

    if r is None:
        return [unused(*d) for d in data.deliveries]
    out = []
    p = r.p
    first, last = p.first_last()
    by_k = {an.k: an for an in r.anchors}
    for a, b, v in sorted(data.deliveries):
        k = None
        for j in range(first.size - 1):
            if int(p.t_us[last[j]]) <= a < int(p.t_us[first[j + 1]]):
                k = j
                break
        an = by_k.get(k) if k is not None else None
        if an is None or not an.delivery:
            info = unused(a, b, v)
            if an is not None and an.reason == "unanchored":
                info.reason = "unanchored"  # a note of next to nothing
            out.append(info)
            continue
        share = float(v) / (an.declared * 1e6) if an.declared > 0 else 1.0  # several notes on one boundary
        implied = None if an.implied is None else an.implied * 1e6 * share
        out.append(
            DeliveryInfo(
                start_us=int(a),
                end_us=int(b),
                declared_ml=float(v),
                implied_ml=implied,
                used=an.used,
                reason=an.reason,
            )
        )
    return out


def _binned(key: np.ndarray, resid_ml: np.ndarray, edges: np.ndarray) -> list[tuple[float, float, int]]:
    idx = np.clip(np.searchsorted(edges, key, side="right") - 1, 0, edges.size - 2)
    out = []
    for k in range(edges.size - 1):
        sel = idx == k
        if sel.any():
            out.append((float((edges[k] + edges[k + 1]) / 2), float(resid_ml[sel].mean()), int(sel.sum())))
    return out


def diagnostics(
    data: TankData, r: Any, est: TankEstimate | None, s: WitnessSettings, local_offset_us: int
) -> TankDiagnostics:
    if r is None:
        return TankDiagnostics(
            tank_id=data.tank_id,
            station_id=data.station_id,
            estimate=None,
            segments=[],
            deliveries=_deliveries(data, None),
            anchor_pull_permille=None,
            anchor_pull_se_permille=None,
            residual_by_level=[],
            residual_by_hour=[],
            residual_lag1=None,
            notes=["witness.note.not_enough_data"],
        )
    p, f = r.p, r.fit
    resid = f.resid * 1e6
    lo, hi = float(p.level.min()), float(p.level.max())
    by_level = _binned(p.level, resid, np.linspace(lo, hi + 1.0, 11))
    hours = ((p.t_us + local_offset_us) // _US_PER_H) % 24
    by_hour = [(int(h), float(resid[hours == h].mean()), int((hours == h).sum())) for h in np.unique(hours)]
    same = p.seg[1:] == p.seg[:-1]
    lag1 = None
    if same.sum() > 10 and resid.std() > 0:
        a, b = resid[:-1][same], resid[1:][same]
        lag1 = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else None
    gi = f.b.size
    notes = []
    if est is not None and any(m.status == "insufficient" for m in est.meters):
        notes.append("witness.note.insufficient")
    if not f.anchored:
        notes.append("witness.note.unanchored")
    if r.note_sd > s.delivery_sd_permille / 1000.0 * 1.001:
        notes.append("witness.note.notes_scatter")
    if r.scale_sd > r.g_prior * 1.001 and r.g_prior > 0:
        notes.append("witness.note.scale_prior_widened")
    if any(a.reason == "contradicted" for a in r.anchors):
        notes.append("witness.note.note_dropped")
    if p.rejected.get("step"):
        notes.append("witness.note.steps")
    if lag1 is not None and lag1 > 0.9:
        notes.append("witness.note.residuals_correlated")
    return TankDiagnostics(
        tank_id=data.tank_id,
        station_id=data.station_id,
        estimate=est,
        segments=_segments(p),
        deliveries=_deliveries(data, r),
        anchor_pull_permille=f.g * 1000.0,
        anchor_pull_se_permille=float(np.sqrt(max(f.cov[gi, gi], 0.0))) * 1000.0,
        residual_by_level=by_level,
        residual_by_hour=by_hour,
        residual_lag1=lag1,
        notes=notes,
    )
