"""The report's figures in words (the catalog's ``certify`` and ``fault_kind`` tables),
shared by the PDF and the console page: one place decides how a proportion, its interval
and "insufficient data" read."""

from __future__ import annotations

import math
from typing import Any

from anxin.certify.report import FaultKindFigures, LeakFigures, Report, RuleFigures, WitnessFigures
from anxin.certify.stats import Proportion
from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.i18n.po import table
from anxin.keyed import render

DASH = "—"


def w(key: str, lang: str, /, **params: Any) -> str:
    return render("certify", key, params, lang)


def rule_name(rule: str, lang: str) -> str:
    return (RULE_NAMES_EN if lang == "en" else RULE_NAMES_ZH).get(rule, rule)


def kind_name(kind: str, lang: str) -> str:
    return render("fault_kind", kind, {}, lang) if kind else DASH


def pct(x: float | None, rounding: str = "nearest") -> str:
    """A proportion as a percentage, as many decimals as a small rate needs; an interval's
    lower bound rounded down and its upper bound up (``rounding``), so that what is printed
    never claims more than was measured."""
    if x is None:
        return DASH
    v = 100.0 * x
    if v == 0.0 or v == 100.0:
        return f"{v:.0f} %"
    if v < 1.0:
        digits = 2 - math.floor(math.log10(v))  # three significant digits
    else:
        digits = 1 if v <= 99.0 else 2
    scale = 10.0**digits
    if rounding == "down":
        v = math.floor(v * scale + 1e-9) / scale
    elif rounding == "up":
        v = math.ceil(v * scale - 1e-9) / scale
    return f"{v:.{digits}f} %"


def rate(p: Proportion | None, lang: str) -> str:
    """ "100 % (98.8–100 %)", with "insufficient data" when too few trials."""
    if p is None or p.n == 0 or p.ci95 is None:
        return DASH
    lo, hi = pct(p.ci95[0], "down").removesuffix(" %"), pct(p.ci95[1], "up")
    text = f"{pct(p.estimate)} ({lo}–{hi})"
    return text if p.sufficient else f"{text} · {w('insufficient', lang)}"


def count(p: Proportion | None) -> str:
    return DASH if p is None or p.n == 0 else f"{p.k}/{p.n}"


def rule_row(r: RuleFigures, lang: str) -> dict[str, str]:
    pd = rate(r.pd, lang) if r.status == "measured" else w(f"status_{r.status}", lang)
    return {
        "rule": r.rule,
        "name": rule_name(r.rule, lang),
        "level": w(f"level_{r.level}", lang),
        "pd": pd,
        "pd_count": count(r.pd),
        "pfa": rate(r.pfa, lang) if r.pfa is not None else w("status_live_only", lang),
        "pfa_count": count(r.pfa),
        "unit": w(f"unit_{r.pfa_unit}", lang) if r.pfa is not None else DASH,
        "kinds": "、".join(kind_name(k, lang) for k in r.fault_kinds)
        if lang != "en"
        else ", ".join(kind_name(k, lang) for k in r.fault_kinds),
    }


def kind_row(k: FaultKindFigures, lang: str) -> list[str]:
    return [kind_name(k.kind, lang), rule_name(k.primary_rule or DASH, lang), count(k.pd), rate(k.pd, lang)]


def world_name(world: str, lang: str) -> str:
    """A world of ``anxin.sim.world`` in words (one the catalog lacks: its name)."""
    entry = table("world").get(world)
    return world if entry is None else entry[1 if lang == "en" else 0]


def witness_row(x: WitnessFigures, lang: str) -> list[str]:
    world = w("all_worlds", lang) if x.world == "*" else world_name(x.world, lang)
    rmse = DASH if x.rmse_permille is None else f"{x.rmse_permille:.2f}"
    return [
        world,
        str(x.days),
        str(x.honest_nozzles),
        str(x.insufficient),
        rmse,
        rate(x.coverage, lang),
        rate(x.drift_found, lang),
        rate(x.false_drift, lang),
    ]


def leak_row(x: LeakFigures, lang: str) -> list[str]:
    if x.epa_met is None:
        verdict = w("insufficient", lang)
    else:
        verdict = w("epa_met" if x.epa_met else "epa_not_met", lang)
    return [
        w("leak_rate", lang, lph=f"{x.leak_l_per_h:g}", gph=f"{x.leak_gal_per_h:g}"),
        str(x.days),
        f"{count(x.pd)} · {rate(x.pd, lang)}",
        f"{count(x.pfa)} · {rate(x.pfa, lang)}",
        verdict,
    ]


def protocol_line(report: Report, lang: str) -> str:
    name = w(f"protocol_{report.protocol.name}", lang)
    return w("protocol", lang, protocol=name, version=report.anxin_version, format=report.format)


def record_level_summary(report: Report) -> tuple[int, int, int]:
    """(detected, injected) over the record-level rules, and every false alarm."""
    rec = [r for r in report.rules if r.level == "record"]
    false = sum(r.pfa.k for r in report.rules if r.pfa is not None)
    return sum(r.pd.k for r in rec), sum(r.pd.n for r in rec), false
