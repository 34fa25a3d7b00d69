"""The tank witness on the console (issue 12, item 7): a nozzle's meter error look by look
(the chart's data and the same figures as a table), a station's current estimate per
nozzle and per tank (loss and leak verdict, pooled error, the chart correction), and the
corrected chart as CSV for the verification institute.

What is read comes through ``anxin.store.witness`` (the SQL stays in the store); the
words through the catalogs (``anxin.i18n.WITNESS``, ``anxin.web.texts``)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from anxin.contract.registry import Registry, Tank
from anxin.i18n import witness_text
from anxin.store import witness as W
from anxin.store.database import Store
from anxin.web import deps
from anxin.web.deps import CanView, TankRow
from anxin.web.texts import words

STATUSES = ("ok", "watch", "violation", "insufficient")


def _when(ts: str) -> str:
    return ts[:16].replace("T", " ")


def _interval(lo: float | None, hi: float | None) -> str:
    return "—" if lo is None or hi is None else f"[{lo:+.2f}, {hi:+.2f}]"


def _status(status: str, lang: str) -> str:
    return witness_text(f"status.{status}", lang) if status in STATUSES else "—"


def estimate_row(e: dict[str, Any], lang: str) -> dict[str, Any]:
    """One stored estimate as the pages show it (words in ``lang``)."""
    pooled = e.get("pooled_permille")
    return {
        "ts": e["ts"],
        "when": _when(e["ts"]),
        "error": f"{e['error_permille']:+.2f}",
        "interval": _interval(e["ci_lo_permille"], e["ci_hi_permille"]),
        "status": e["status"],
        "status_text": _status(e["status"], lang),
        "hint": witness_text("status.insufficient.hint", lang) if e["status"] == "insufficient" else "",
        "n": e["n"],
        "k": e["k_pulses_per_m3"],
        "pooled": None if pooled is None else f"{pooled:+.2f}",
        "pooled_interval": _interval(e.get("pooled_ci_lo_permille"), e.get("pooled_ci_hi_permille")),
    }


def nozzle_view(store: Store, nozzle_id: str, lang: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the table's rows, newest first; the chart's data) of a nozzle's estimates."""
    with store.engine.connect() as c:
        est = W.nozzle_estimates(c, nozzle_id)
    w = words(lang)
    chart = {
        "est": [[e["ts"], round(e["error_permille"], 3)] for e in est],
        "lo": [[e["ts"], round(e["ci_lo_permille"], 3)] for e in est],
        "hi": [[e["ts"], round(e["ci_hi_permille"], 3)] for e in est],
        "band": [[e["ts"], round(e["ci_hi_permille"] - e["ci_lo_permille"], 3)] for e in est],
        "status": [e["status"] for e in est],
        "k": [e["k_pulses_per_m3"] for e in est],  # a new K factor is a new meter: the line breaks there
        "status_text": {s: _status(s, lang) for s in STATUSES},
        "pooled": [
            [e["ts"], round(e["pooled_permille"], 3)]
            for e in est
            if e["status"] == "insufficient" and e["pooled_permille"] is not None
        ],
        "labels": {
            "est": w["est_error"],
            "band": w["est_band"],
            "target": w["est_target"],
            "limit": w["est_limit"],
            "pooled": w["tank_pooled"],
            "status": w["status"],
            "k": w["k_factor"],
        },
    }
    return [estimate_row(e, lang) for e in reversed(est)], chart


def _leak(t: dict[str, Any], lang: str) -> str:
    if t["leak_suspected"]:
        return witness_text("leak.suspected", lang)
    return witness_text("leak.none" if t["leak_conclusive"] else "leak.inconclusive", lang)


def station_view(store: Store, reg: Registry, station_id: str, lang: str) -> dict[str, Any]:
    """The station page's witness figures: each nozzle's current estimate (by nozzle),
    each registered tank's current figures (None when never looked at), and the chart
    corrections' data (level in mm, mL)."""
    with store.engine.connect() as c:
        meters = W.station_meter_estimates(c, station_id)
        tanks = W.station_tank_estimates(c, station_id)
    w = words(lang)
    rows = []
    charts: dict[str, list[list[float]]] = {}
    for tank_id in reg.tanks_of_station.get(station_id, ()):
        t = tanks.get(tank_id)
        if t is None:
            rows.append({"tank_id": tank_id, "looked": False})
            continue
        corr = [[round(level / 1000, 1), round(ml, 1)] for level, ml in t["chart_correction"]]
        if corr:
            charts[tank_id] = corr
        pooled = t["pooled_permille"]
        rows.append(
            {
                "tank_id": tank_id,
                "looked": True,
                "when": _when(t["ts"]),
                "loss": f"{t['loss_l_per_h']:+.2f}",
                "loss_interval": f"[{t['loss_ci_lo_l_per_h']:+.2f}, {t['loss_ci_hi_l_per_h']:+.2f}]",
                "leak": _leak(t, lang),
                "leak_bad": bool(t["leak_suspected"]),
                "pooled": None if pooled is None else f"{pooled:+.2f}",
                "pooled_interval": _interval(t["pooled_ci_lo_permille"], t["pooled_ci_hi_permille"]),
                "anchored": w["yes"] if t["scale_anchored"] else w["no"],
                "register": _register(t, w),
                "deliveries": f"{t['deliveries_declared']} ({t['deliveries_inconsistent']})",
                "hours": f"{t['hours']:.0f}",
                "residual": f"{t['residual_sd_ml']:.0f}",
                "correction": bool(corr),
            }
        )
    return {
        "estimates": {n: estimate_row(e, lang) for n, e in meters.items()},
        "tanks": rows,
        "charts": {"tanks": charts, "labels": {"level": w["level_mm"], "correction": w["correction_ml"]}},
    }


def _register(t: dict[str, Any], w: dict[str, str]) -> str:
    """The register's anchor in words: how many verified nozzles, the shift removed."""
    shift = t.get("register_shift_permille")
    if shift is None:
        return w["register_none"]
    return w["register_of"].format(n=t.get("register_nozzles") or 0, shift=f"{shift:+.2f}")


def corrected_chart_csv(tank: Tank, estimate: dict[str, Any] | None, lang: str) -> str:
    """The registered chart with the learnt correction beside it: level (µm), registered
    volume (mL), correction (mL; empty where the data said nothing: outside the levels
    seen, or no look yet), corrected volume (mL)."""
    w = words(lang)
    correction = {int(level): float(ml) for level, ml in (estimate or {}).get("chart_correction", [])}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([w["csv_level"], w["csv_registered"], w["csv_correction"], w["csv_corrected"]])
    for level, volume in tank.chart:
        ml = correction.get(int(level))
        writer.writerow(
            [level, volume, "" if ml is None else f"{ml:.1f}", volume if ml is None else f"{volume + ml:.1f}"]
        )
    return out.getvalue()


router = APIRouter(include_in_schema=False)


@router.get("/console/tanks/{tank_id}/chart.csv")
async def chart_csv(v: CanView, tank: TankRow, store: deps.Store):
    """The tank's corrected chart (CSV, UTF-8 with a BOM for spreadsheets); another
    station's tank is not found, as an unknown one (anxin.web.deps)."""
    tank_id = tank.tank_id

    def latest() -> dict[str, Any] | None:
        with store.engine.connect() as c:
            return W.tank_estimate(c, tank_id)

    body = corrected_chart_csv(tank, await run_in_threadpool(latest), v.lang)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", tank_id)
    return Response(
        "\ufeff" + body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-chart.csv"'},
    )
