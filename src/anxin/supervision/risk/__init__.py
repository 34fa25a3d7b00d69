"""Risk-based random selection (双随机、一公开): a risk score per station explained by its
parts, and the draw of stations and inspectors, reproducible from its seed and record.

The score (deterministic; every part is rounded to 4 decimals and the score is their sum):

* ``alarms``: each alarm of the last 90 days (by its event time; alarms dismissed as
  false alarms and STATION_BIAS excluded) weighs critical 5, major 2, minor 1, times
  0.5^(age / 30 days); alarms still untriaged or in triage count however old they are
  (age capped at 90 days).
* ``meter``: the worst |error| of the nozzles' latest meter-error estimates
  (``meter_estimates``): beyond 2‰ adds 3, beyond 3‰ adds 8.
* ``station_bias``: a STATION_BIAS alarm (errors predominantly in the operator's favour)
  in the last 90 days, not dismissed: 5.
* ``complaints`` (last 90 days): substantiated 3 each; of the others only those a
  regulator triaged as plausible count — open or referred 1 each, unsubstantiated or
  withdrawn 0.25 each. A complaint not triaged yet, or triaged as not plausible, counts
  0 (the explanation names how many are waiting): anyone can submit complaints, so
  their number alone must not steer the draw.
* ``rectifications``: 2 for each open rectification order (整改).
* ``never_inspected``: 2 when the station has no completed inspection.
* ``clean_inspection``: a completed inspection in the last 180 days with every checklist
  item passed and no rectification: minus min(2, the sum of the parts above) — it lowers
  the score, never below 0.

The draw: candidates are the registry's stations sorted by id, each with an integer weight
``round(1000 × (1 + score))`` (risk) or 1000 (uniform). ``random.Random(seed)`` picks
stations one by one without replacement: ``r = rng.randrange(sum of remaining weights)``,
the first remaining candidate whose cumulative weight exceeds ``r``. Then, for each pick in
order, the inspector is ``rng.randrange`` over the sorted inspectors, leaving out the
station's last inspector when another is available. Integer arithmetic only, so
:func:`redraw` reproduces the picks exactly from the recorded JSON.

The score and the draw are computed here; what they read is :mod:`.queries`' (with
:func:`risk_scores`), the plan is written by :mod:`.service` (:func:`draw`) — both
re-exported here.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.i18n.po import table
from anxin.supervision.errors import Refusal

DAY_US = 86_400_000_000
WINDOW_US = 90 * DAY_US
HALF_LIFE_US = 30 * DAY_US
CLEAN_WINDOW_US = 180 * DAY_US
SEVERITY_WEIGHT = {"critical": 5.0, "major": 2.0, "minor": 1.0}
METER_OVER_2 = 3.0
METER_OVER_3 = 8.0
STATION_BIAS = 5.0
COMPLAINT_WEIGHT = {"substantiated": 3.0, "unsubstantiated": 0.25, "withdrawn": 0.25}
COMPLAINT_OPEN = 1.0
OPEN_RECTIFICATION = 2.0
NEVER_INSPECTED = 2.0
CLEAN_INSPECTION_MAX = 2.0
WEIGHT_UNIT = 1000
SCHEDULE_AHEAD_US = 7 * DAY_US
OPEN_ALARM_STATUSES = ("new", "acknowledged", "dispatched", "on_site")
PARTS = ("alarms", "meter", "station_bias", "complaints", "rectifications", "never_inspected", "clean_inspection")


class StationRisk(msgspec.Struct, frozen=True, kw_only=True):
    station_id: str
    score: float
    parts: dict[str, float]
    explanation: list[str]  # Chinese, one line per non-zero part (:func:`explain` of the reasons)
    # the same as parts a reader's language words: (catalog key of context "risk", parameters)
    reasons: list[tuple[str, dict[str, Any]]] = []


def _counted(counts: dict[str, int], order: tuple[str, ...], words: str, lang: str) -> str:
    """``严重61条、重要10条`` / ``critical 61, major 10``."""
    zh = lang == "zh"
    unit = table("risk_unit")[words][0 if zh else 1]
    names = table("risk_count")
    items = [(names[k][0 if zh else 1], counts[k]) for k in order if counts.get(k)]
    return "、".join(f"{w}{n}{unit}" for w, n in items) if zh else ", ".join(f"{w} {n}" for w, n in items)


def explain(reason: tuple[str, dict[str, Any]], lang: str) -> str:
    """One reason of a station's risk in ``lang`` (zh | en), from the catalog."""
    key, params = reason
    zh = lang == "zh"
    p = dict(params)
    if "alarm_counts" in p:
        p["counts"] = _counted(p.pop("alarm_counts"), ("critical", "major", "minor"), "alarm", lang)
    if "complaint_counts" in p:
        p["counts"] = _counted(p.pop("complaint_counts"), tuple(sorted(_COMPLAINT_COUNTS)), "complaint", lang)
    if "kind" in p:
        p["kind"] = table("risk_count")[p["kind"]][0 if zh else 1]
    if "rule" in p:
        p["rule"] = (RULE_NAMES_ZH if zh else RULE_NAMES_EN)[p["rule"]]
    for k in ("points", "minus"):
        if k in p:
            p[k] = f"{p[k]:.1f}"
    return table("risk")[key][0 if zh else 1].format(**p)


class DrawError(Refusal):
    """A draw refused (its inputs); nothing was written. ``code`` (``draw_…``),
    ``text("zh")`` / ``text("en")``, ``message`` the Chinese."""


def _r(x: float) -> float:
    return round(x, 4) + 0.0  # no -0.0


def _score(
    stations: list[str],
    *,
    now_us: int,
    alarm_rows: list[Any],
    meter_rows: list[Any],
    complaint_rows: list[Any],
    open_rect: dict[str, int],
    rect_inspections: set[int],
    done: list[Any],
) -> list[StationRisk]:
    """Every station's risk from what :func:`risk_scores` read (the rules: the module
    docstring), highest first (ties by station id)."""
    since = now_us - WINDOW_US
    parts: dict[str, dict[str, float]] = {s: dict.fromkeys(PARTS, 0.0) for s in stations}
    notes: dict[str, list[tuple[str, dict[str, Any]]]] = {s: [] for s in stations}
    alarm_count: dict[str, dict[str, int]] = {s: {} for s in stations}
    bias: set[str] = set()
    for a in alarm_rows:
        if a.status == "false_alarm":
            continue
        if a.rule == "STATION_BIAS":
            if int(a.ts_us) >= since:
                bias.add(a.station_id)
            continue
        age = min(max(0, now_us - int(a.ts_us)), WINDOW_US)
        parts[a.station_id]["alarms"] += SEVERITY_WEIGHT.get(a.severity, 1.0) * 0.5 ** (age / HALF_LIFE_US)
        alarm_count[a.station_id][a.severity] = alarm_count[a.station_id].get(a.severity, 0) + 1
    worst: dict[str, tuple[float, str]] = {}
    for m in sorted(meter_rows, key=lambda m: (m.station_id, m.nozzle_id)):
        e = abs(float(m.error_permille))
        if m.station_id not in worst or e > worst[m.station_id][0]:
            worst[m.station_id] = (e, m.nozzle_id)
    complaints: dict[str, dict[str, int]] = {s: {} for s in stations}
    for cp in complaint_rows:
        key = cp.outcome if cp.outcome in COMPLAINT_WEIGHT else "open"
        if key != "substantiated" and cp.plausible is not True:  # not (yet) a regulator's finding
            key = "untriaged" if cp.plausible is None else "implausible"
        else:
            parts[cp.station_id]["complaints"] += COMPLAINT_WEIGHT.get(key, COMPLAINT_OPEN)
        complaints[cp.station_id][key] = complaints[cp.station_id].get(key, 0) + 1
    inspected: set[str] = set()
    clean: dict[str, int] = {}
    for i in done:
        inspected.add(i.station_id)
        when = int(i.visited_us or i.scheduled_us)
        items = (i.checklist or {}).values()
        passed = all(isinstance(v, dict) and v.get("ok") is True for v in items)
        if when >= now_us - CLEAN_WINDOW_US and passed and int(i.id) not in rect_inspections:
            clean[i.station_id] = max(clean.get(i.station_id, 0), when)
    out: list[StationRisk] = []
    for s in stations:
        p, why = parts[s], notes[s]
        if alarm_count[s]:
            why.append(("alarms", {"days": 90, "half_life": 30, "alarm_counts": alarm_count[s], "points": p["alarms"]}))
        if s in worst and worst[s][0] > 2.0:
            e, nz = worst[s]
            p["meter"] = METER_OVER_3 if e > 3.0 else METER_OVER_2
            limit = 3 if e > 3.0 else 2
            why.append(("meter", {"nozzle": nz, "error": f"{e:.2f}", "limit": limit, "points": p["meter"]}))
        if s in bias:
            p["station_bias"] = STATION_BIAS
            why.append(("station_bias", {"days": 90, "rule": "STATION_BIAS", "points": STATION_BIAS}))
        counted = {k: n for k, n in complaints[s].items() if k not in _NOT_COUNTED}
        if counted:
            why.append(("complaints", {"days": 90, "complaint_counts": counted, "points": p["complaints"]}))
        for k in _NOT_COUNTED:
            if complaints[s].get(k):
                why.append(("complaints_not_counted", {"days": 90, "kind": k, "n": complaints[s][k]}))
        if open_rect.get(s):
            p["rectifications"] = OPEN_RECTIFICATION * int(open_rect[s])
            why.append(("rectifications", {"n": int(open_rect[s]), "points": p["rectifications"]}))
        if s not in inspected:
            p["never_inspected"] = NEVER_INSPECTED
            why.append(("never_inspected", {"points": NEVER_INSPECTED}))
        for k in PARTS:
            p[k] = _r(p[k])
        if s in clean:
            p["clean_inspection"] = _r(-min(CLEAN_INSPECTION_MAX, sum(p.values())))
            if p["clean_inspection"]:
                why.append(("clean_inspection", {"days": 180, "minus": -p["clean_inspection"]}))
            else:
                why.append(("clean_inspection_no_points", {"days": 180}))
        score = sum(p[k] for k in PARTS)
        if not why:
            why.append(("none", {}))
        lines = [explain(r, "zh") for r in why]
        out.append(StationRisk(station_id=s, score=score, parts=dict(p), explanation=lines, reasons=why))
    out.sort(key=lambda r: (-r.score, r.station_id))
    return out


_SEV_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("severity").items()}  # the same words as the reports'
# A station's complaints counted by outcome (their words: the catalog's risk_count).
_COMPLAINT_COUNTS = ("substantiated", "unsubstantiated", "withdrawn", "open", "untriaged", "implausible")
_NOT_COUNTED = ("untriaged", "implausible")


def _pick(rng: random.Random, weights: list[int], k: int) -> list[int]:
    remaining = list(range(len(weights)))
    picked: list[int] = []
    for _ in range(min(k, len(remaining))):
        r = rng.randrange(sum(weights[i] for i in remaining))
        for pos, i in enumerate(remaining):
            r -= weights[i]
            if r < 0:
                picked.append(remaining.pop(pos))
                break
    return picked


def redraw(plan_draw: dict[str, Any]) -> list[dict[str, str]]:
    """The picks (``[{"station_id", "inspector"}]``) recomputed from a recorded draw alone."""
    rng = random.Random(int(plan_draw["seed"]))
    cands = plan_draw["candidates"]
    inspectors = list(plan_draw["inspectors"])
    picks = []
    for i in _pick(rng, [int(c["weight"]) for c in cands], int(plan_draw["stations"])):
        c = cands[i]
        eligible = [x for x in inspectors if x != c.get("last_inspector")] or inspectors
        picks.append({"station_id": c["station_id"], "inspector": eligible[rng.randrange(len(eligible))]})
    return picks


def _draw_inspectors(
    *, stations: int, inspectors: list[str], seed: int, method: str, name: str, actor: str
) -> list[str]:
    """The inputs of a draw checked (DrawError naming the one refused); its inspectors,
    de-duplicated and sorted."""
    if method not in ("risk", "uniform"):
        raise DrawError("draw_bad_method", field="method")
    inspectors = sorted({x.strip() for x in inspectors if x and x.strip()})
    if not inspectors:
        raise DrawError("draw_no_inspector", field="inspectors")
    if type(stations) is not int or stations < 1:
        raise DrawError("draw_bad_count", field="stations")
    if type(seed) is not int or not 0 <= seed < 2**63:
        raise DrawError("draw_bad_seed", field="seed")
    if not name.strip() or not actor.strip():
        raise DrawError("draw_needs_name", field="name" if not name.strip() else "actor")
    return inspectors


def _draw_record(
    scores: list[StationRisk],
    last: dict[str, str],
    *,
    stations: int,
    inspectors: list[str],
    seed: int,
    method: str,
    now_us: int,
) -> dict[str, Any]:
    """The draw (``anxin-draw/1``): the candidates with their weights, everything needed to
    reproduce it, and its picks."""
    candidates = [
        {
            "station_id": r.station_id,
            "score": r.score,
            "parts": r.parts,
            "weight": WEIGHT_UNIT if method == "uniform" else round(WEIGHT_UNIT * (1 + max(0.0, r.score))),
            "last_inspector": last.get(r.station_id),
        }
        for r in scores
    ]
    record: dict[str, Any] = {
        "format": "anxin-draw/1",
        "method": method,
        "seed": seed,
        "stations": stations,
        "now_us": now_us,
        "inspectors": inspectors,
        "candidates": candidates,
        "algorithm": "weighted sampling without replacement by rng.randrange over integer weights, "
        "then rng.randrange over eligible inspectors; random.Random(seed) (Python's MT19937)",
    }
    picks = redraw(record)
    record["picks"] = picks
    return record


# The statements (they use the score and the draw above: imported last).
from anxin.supervision.risk.queries import risk_scores  # noqa: E402
from anxin.supervision.risk.service import draw  # noqa: E402

__all__ = [
    "CLEAN_INSPECTION_MAX",
    "CLEAN_WINDOW_US",
    "COMPLAINT_OPEN",
    "COMPLAINT_WEIGHT",
    "DAY_US",
    "HALF_LIFE_US",
    "METER_OVER_2",
    "METER_OVER_3",
    "NEVER_INSPECTED",
    "OPEN_ALARM_STATUSES",
    "OPEN_RECTIFICATION",
    "PARTS",
    "SCHEDULE_AHEAD_US",
    "SEVERITY_WEIGHT",
    "STATION_BIAS",
    "WEIGHT_UNIT",
    "WINDOW_US",
    "DrawError",
    "StationRisk",
    "draw",
    "redraw",
    "risk_scores",
]
