"""Quantities as a reader sees them: litres to two decimals, and the units' words (the
catalog's ``unit`` context) — shared by the alarm headlines and the evidence view."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from anxin.i18n.po import table


def litres(ml: float, signed: bool = False) -> str:
    """mL as litres to 2 decimals, rounded half up from the exact value (40215 mL → 40.22)."""
    d = (Decimal(int(ml)) if float(ml).is_integer() else Decimal(repr(float(ml)))) / 1000
    q = d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{q:+,}" if signed else f"{q:,}"


def unit(key: str, lang: str) -> str:
    """A unit's word (``litre``, ``yuan``, ``yuan_per_litre``, ``litre_per_minute``,
    ``litre_per_hour``, ``second``) in ``lang``."""
    return table("unit")[key][0 if lang == "zh" else 1]
