"""An alarm's evidence as a regulator reads it (issue 13, item 2): every field under its
name in the reader's language with its unit (升 to 2 decimals, 元, ‰ to 2 decimals, local
time), the metering record and the settlement side by side with the fields that disagree
marked, and the rest of the evidence labelled. The stored evidence stays as it is
(language-neutral data, the bundle's); this is only how it is shown. A field the catalog
does not know — a station may send fields the contract does not define, and they are
kept as evidence — is shown as it came, under its own name, in a list of its own."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec

from anxin.contract.times import format_ts
from anxin.i18n import EVENT_NAMES, reason_text, witness_text
from anxin.i18n.po import table
from anxin.i18n.units import litres, unit

# field → (zh, en, how its value is shown)
# how each field"s value is shown (its words, (zh, en), are the catalog"s: context "field")
_KINDS: dict[str, str] = {
    "station_id": "text",
    "nozzle_id": "text",
    "tank_id": "text",
    "order_id": "text",
    "seq": "int",
    "pump_seq": "int",
    "start": "ts",
    "end": "ts",
    "ts": "ts",
    "pulses": "int",
    "k_pulses_per_m3": "int",
    "k_in_force": "int",
    "volume_ml": "ml",
    "totalizer_start_ml": "ml",
    "totalizer_end_ml": "ml",
    "previous_totalizer_end_ml": "ml",
    "key_id": "text",
    "unit_price_fen": "price",
    "posted_price_fen": "price",
    "amount_fen": "fen",
    "expected_amount_fen": "fen",
    "paid_fen": "fen",
    "payment": "payment",
    "difference_ml": "ml_signed",
    "tolerance_ml": "ml",
    "jump_ml": "ml_signed",
    "previous_seq": "int",
    "missing_seq": "text",
    "max_flow_ml_per_min": "flow",
    "duration_s": "seconds",
    "error_permille": "permille",
    "ci95_permille": "permille_pair",
    "dispensings": "int",
    "tank_hours": "hours",
    "loss_l_per_h": "l_per_h",
    "loss_ci95_l_per_h": "l_per_h_pair",
    "readings_used": "int",
    "readings_rejected": "json",
    "residual_sd_ml": "ml",
    "reason": "reason",
    "problems": "reasons",
    "event": "event",
    "window_start": "ts",
    "window_end": "ts",
    "hours": "hours",
    "deliveries_declared": "int",
    "deliveries_used": "int",
    "scale_anchored": "bool",
    "pooled_permille": "permille",
    "register_nozzles": "int",
    "register_shift_permille": "permille",
    "method": "method",
    "price_basis": "text",
    "first_dispensing_of_day": "ts",
    "n_nozzles": "int",
    "n_positive": "int",
    "n_negative": "int",
    "mean_error_permille": "permille",
    "mean_ci95_permille": "permille_pair",
    "note_bias_allowance_permille": "permille",
    "p_value": "float",
    "first_arrival_ts": "ts",
    "first_digest": "text",
    "duplicate_digest": "text",
    # contract v1.1 §F (firmware and self-lock)
    "finding": "firmware_finding",
    "dispenser_model": "text",
    "version": "text",
    "sha256": "text",
    "listed": "firmware_entry",
    "window_h": "hours",
    "self_lock": "self_lock",
}
# field → (zh, en, how its value is shown)
FIELDS: dict[str, tuple[str, str, str]] = {k: (*table("field")[k], kind) for k, kind in _KINDS.items()}

PAYMENTS: dict[str, tuple[str, str]] = table("payment")

# the record fields shown side by side, in this order (metering field, settlement field)
SIDE_BY_SIDE: tuple[tuple[str, str | None, str | None], ...] = (
    ("nozzle_id", "nozzle_id", "nozzle_id"),
    ("seq", "seq", "pump_seq"),
    ("ts", "end", "ts"),
    ("volume_ml", "volume_ml", "volume_ml"),
    ("unit_price_fen", None, "unit_price_fen"),
    ("amount_fen", None, "amount_fen"),
    ("paid_fen", None, "paid_fen"),
    ("payment", None, "payment"),
    ("order_id", None, "order_id"),
    ("start", "start", None),
    ("pulses", "pulses", None),
    ("k_pulses_per_m3", "k_pulses_per_m3", None),
    ("totalizer_start_ml", "totalizer_start_ml", None),
    ("totalizer_end_ml", "totalizer_end_ml", None),
    ("key_id", "key_id", None),
)


def _evidence_word(key: str, lang: str) -> str:
    return table("evidence")[key][0 if lang == "zh" else 1]


def event_name(event: str | None, lang: str) -> str:
    """A module event (``seal_open`` …) in words; one the contract does not define is
    shown as the module sent it (it is the module's evidence)."""
    entry = EVENT_NAMES.get(event or "")
    return (event or "—") if entry is None else entry[0 if lang == "zh" else 1]


def event_data(event: str | None, data: Any, lang: str) -> str:
    """A module event's data in words where the contract defines it (a K factor change:
    old → new), else as the module sent it."""
    if data is None:
        return ""
    if event == "k_factor_change" and isinstance(data, dict) and {"old", "new"} <= data.keys():
        old, new = data["old"], data["new"]
        return _evidence_word("k_factor_change", lang).format(old=old, new=new)
    return msgspec.json.encode(data).decode() if isinstance(data, (dict, list)) else str(data)


def label(key: str, lang: str) -> str:
    entry = FIELDS.get(key)
    return key if entry is None else entry[0 if lang == "zh" else 1]


def _num(v: Any) -> float | None:
    """A finite number within ±2⁵³ (what the contract's integers allow), else None."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) and abs(f) <= 2**53 else None


def _unit(zh: bool, key: str) -> str:
    return unit(key, "zh" if zh else "en")


# how a number is shown, by the field's kind (zh: in Chinese)
_NUMBERS: dict[str, Callable[[float, bool], str]] = {
    "ml": lambda n, zh: f"{litres(n)} {_unit(zh, 'litre')}",
    "ml_signed": lambda n, zh: f"{litres(n, True)} {_unit(zh, 'litre')}",
    "fen": lambda n, zh: f"{n / 100:,.2f} {_unit(zh, 'yuan')}",
    "price": lambda n, zh: f"{n / 100:,.2f} {_unit(zh, 'yuan_per_litre')}",
    "permille": lambda n, zh: f"{n:+.2f}‰",
    "l_per_h": lambda n, zh: f"{n:.2f} L/h",
    "flow": lambda n, zh: f"{n / 1000:.1f} {_unit(zh, 'litre_per_minute')}",
    "seconds": lambda n, zh: f"{n:.0f} {_unit(zh, 'second')}",
    "hours": lambda n, zh: f"{n:.1f}",
    "int": lambda n, zh: f"{int(n)}",
    "float": lambda n, zh: f"{n:.3g}",
}


def value(key: str, v: Any, lang: str) -> str:
    """A field's value with its unit; a value that is not what the field holds is shown
    as it came (a hostile record's field is evidence too)."""
    kind = FIELDS.get(key, ("", "", "json"))[2]
    zh = lang == "zh"
    n = _num(v)
    if n is not None and kind in _NUMBERS:
        return _NUMBERS[kind](n, zh)
    if kind in ("permille_pair", "l_per_h_pair") and isinstance(v, (list, tuple)) and len(v) == 2:
        a, b = (_num(x) for x in v)
        if a is not None and b is not None:
            return f"{a:+.2f}…{b:+.2f}‰" if kind == "permille_pair" else f"{a:.2f}…{b:.2f} L/h"
    if kind == "ts" and n is not None:  # µs since the epoch
        try:
            return format_ts(int(n))[:19].replace("T", " ")
        except (OverflowError, ValueError):
            return str(v)
    if kind == "ts" and isinstance(v, str):
        return v[:19].replace("T", " ")
    if kind == "payment" and isinstance(v, str) and v in PAYMENTS:
        return PAYMENTS[v][0 if zh else 1]
    if kind == "event" and isinstance(v, dict) and isinstance(v.get("event"), str):
        name = event_name(v["event"], lang)
        return name + (f" · {value('ts', v.get('ts'), lang)}" if v.get("ts") is not None else "")
    if kind == "reason" and isinstance(v, str):
        return reason_text(v, lang)
    if kind == "reasons" and isinstance(v, list) and all(isinstance(x, str) for x in v):
        return _evidence_word("reasons_sep", lang).join(reason_text(x, lang) for x in v)
    if kind == "firmware_finding" and isinstance(v, str) and v in table("firmware_finding"):
        return table("firmware_finding")[v][0 if zh else 1]
    if kind == "firmware_entry" and isinstance(v, dict) and v.get("status") in table("firmware_status"):
        status = table("firmware_status")[v["status"]][0 if zh else 1]
        return f"{v.get('dispenser_model')} · {v.get('version')} · {status}"
    if kind == "self_lock" and isinstance(v, dict):
        parts = [f"{label('seq', lang)} {v.get('seq')}", value("ts", v.get("ts"), lang)]
        return " · ".join(parts + ([str(v["reason"])] if v.get("reason") else []))
    if kind == "method" and isinstance(v, str):
        return witness_text(v if v.startswith("witness.") else f"method.{v}", lang)
    if isinstance(v, (dict, list)):
        return msgspec.json.encode(v).decode()
    if isinstance(v, bool):
        return _evidence_word("yes" if v else "no", lang)
    return "—" if v is None else str(v)


def present(evidence: dict[str, Any], lang: str) -> dict[str, Any]:
    """The evidence as the alarm page shows it: ``records`` (rows of label, metering
    value, settlement value, whether they disagree), ``fields`` (the rest, labelled) and
    ``unknown`` (fields no catalog names, as they came)."""
    ev = dict(evidence)
    rec = ev.get("record") if ev.get("quarantined") else None
    metering = (
        ev.pop("metering", None)
        or (rec if isinstance(rec, dict) and rec.get("kind") == "metering" else None)
        or ev.pop("duplicate", None)  # DUPLICATE_SEQ: the second record under the same seq
    )
    settlement = ev.pop("settlement", None)
    quarantined = bool(ev.pop("quarantined", False))
    ev.pop("record", None)
    metering = metering if isinstance(metering, dict) else None
    settlement = settlement if isinstance(settlement, dict) else None
    rows = []
    if metering or settlement:
        for key, mk, sk in SIDE_BY_SIDE:
            mv = metering.get(mk) if metering and mk else None
            sv = settlement.get(sk) if settlement and sk else None
            if mv is None and sv is None:
                continue
            differ = key == "volume_ml" and mv is not None and sv is not None and mv != sv
            rows.append(
                {
                    "label": label(key, lang),
                    "metering": "" if mv is None else value(mk or key, mv, lang),
                    "settlement": "" if sv is None else value(sk or key, sv, lang),
                    "differ": differ,
                }
            )
    fields, unknown = [], []
    for k, v in ev.items():
        if k in FIELDS:
            fields.append({"label": label(k, lang), "value": value(k, v, lang)})
        else:
            unknown.append({"label": k, "value": value(k, v, lang)})
    return {
        "records": rows,
        "has_metering": metering is not None,
        "has_settlement": settlement is not None,
        "quarantined": quarantined,
        "fields": fields,
        "unknown": unknown,
    }
