"""An alarm in words: its headline rendered from its evidence in the reader's language
(the catalog's ``alarm`` templates, litres to two decimals, yuan, local times), and the
engine's reasons (written in English into the evidence) in the reader's language."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from anxin.i18n.catalog import EVENT_NAMES, RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.i18n.language import lang
from anxin.i18n.po import table
from anxin.i18n.units import litres, unit

# The engine's reasons (stored in the evidence as it wrote them, in English), by pattern:
# each a key of the catalog's ``engine_reason`` table, whose templates take the pattern's
# groups as {0}, {1}…; the English templates give the reason back as the engine wrote it,
# but for a field named by its code (key_id), which they name in words. A reason no
# pattern knows is shown as it was written (it is evidence).
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), key)
    for p, key in (
        (r"signature does not verify", "signature_invalid"),
        (r"nozzle is not registered", "nozzle_unregistered"),
        (r"key_id is not this nozzle's key", "not_nozzle_key"),
        (r"nozzle is registered to another station", "nozzle_other_station"),
        (r"verification not signed by a registered institute", "verification_unsigned"),
        (r"institute is not registered", "institute_unregistered"),
        (r"key_id is not the institute's key", "not_institute_key"),
        (r"not authenticated", "not_authenticated"),
        (r"last verification failed \((.+)\)", "verification_failed_certificate"),
        (r"last verification failed", "verification_failed"),
        (r"verification expired", "verification_expired"),
        (r"([A-Za-z_ ]+) \(seq (-?\d+)\) since the last passing verification", "breach_since_verification"),
        (r"no metering record with seq (-?\d+)", "no_metering_seq"),
        (r"no unpaired metering ended within 15 min before the sale", "no_unpaired_metering"),
        (r"metering seq (-?\d+) already settled by order (.+)", "metering_settled"),
        (r"K factor (-?\d+) is not positive", "k_not_positive"),
        (r"pulses (-?\d+) at K (-?\d+) give (-?[\d.]+) mL, record says (-?\d+) mL", "pulses_volume"),
        (r"totalizers advance (-?\d+) mL, record says (-?\d+) mL", "totalizers_volume"),
        (r"negative volume or pulses", "negative"),
        (r"dispenser self-locked \(seq (-?\d+)\), not unlocked", "self_locked"),
    )
)


def reason_text(reason: object, language: str | None = None) -> str:
    """An engine reason in ``language``: by pattern from the catalog, what the engine
    names inside it — a nozzle's breach (``engine_reason_word``), a rule's code (older
    evidence: ``SEAL_BREACH (seq 812) since…``) — by its name; else as written."""
    text = "" if reason is None else str(reason)
    i = 0 if (language or lang()) == "zh" else 1
    for pattern, key in _REASONS:
        m = pattern.fullmatch(text)
        if m:
            return table("engine_reason")[key][i].format(*(_reason_word(g, i) for g in m.groups()))
    return text


def _reason_word(word: str, i: int) -> str:
    """What the engine names inside a reason (nozzle breaches, rule codes) in words: in
    Chinese (``i`` 0) or English (1); a number or a certificate as it is."""
    entry = table("engine_reason_word").get(word)
    return entry[i] if entry is not None else (RULE_NAMES_ZH, RULE_NAMES_EN)[i].get(word, word)


def _g(d: dict, *path: str):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)  # type: ignore[assignment]
    return d


def _english(message: str, ev: object) -> str:
    """The stored English message, with the reasons it quotes (which may name a field or a
    rule by its code) in words."""
    if not isinstance(ev, dict):
        return message
    problems = ev.get("problems")
    quoted = [ev.get("reason"), *(problems if isinstance(problems, list) else [])]
    for raw in quoted:
        if isinstance(raw, str) and raw:
            message = message.replace(raw, reason_text(raw, "en"))
    return message


def alarm_text(alarm) -> str:
    """The alarm's message in the language of the moment."""
    return alarm_message(alarm.rule, alarm.evidence, alarm.message, seq=getattr(alarm, "seq", None))


# ---------------------------------------------------------------- values in words
def _unit(key: str, zh: bool) -> str:
    return unit(key, "zh" if zh else "en")


def _int(v: Any) -> int:
    """An integer of the evidence (a hostile record's field that is not one: KeyError's
    sibling, caught by the caller, which then names the alarm by its rule)."""
    if isinstance(v, bool) or not isinstance(v, int) or abs(v) > 2**53:
        raise TypeError(v)
    return v


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 2**53:
        raise TypeError(v)
    return float(v)


def _litres(ml: Any, zh: bool, signed: bool = False) -> str:
    return f"{litres(_int(ml), signed)} {_unit('litre', zh)}"


def _yuan(fen: Any, zh: bool, signed: bool = False) -> str:
    y = _int(fen) / 100
    return (f"{y:+,.2f}" if signed else f"{y:,.2f}") + " " + _unit("yuan", zh)


def _price(fen: Any, zh: bool) -> str:
    return f"{_int(fen) / 100:.2f} {_unit('yuan_per_litre', zh)}"


def _time(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(text)
    return text[:19].replace("T", " ")


def _percent(part: int, whole: int) -> str:
    if whole <= 0:
        raise ValueError(whole)
    return f"{part / whole * 100:+.2f} %"


def _reason(v: Any, zh: bool) -> str:
    if not isinstance(v, str):
        raise TypeError(v)
    return reason_text(v, "zh" if zh else "en")


# ---------------------------------------------------------------- headline parameters
# rule → (evidence, zh?, seq) → (template key, its parameters); a KeyError, TypeError or
# ValueError means the evidence lacks what the sentence needs.
def _volume(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    settled, metered = _int(ev["settlement"]["volume_ml"]), _int(ev["metering"]["volume_ml"])
    diff = _int(ev["difference_ml"])
    return "VOLUME_MISMATCH", {
        "settled": _litres(settled, zh),
        "metered": _litres(metered, zh),
        "diff": _litres(diff, zh, True),
        "percent": _percent(diff, metered),
    }


def _amount(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    amount, expected = _int(ev["settlement"]["amount_fen"]), _int(ev["expected_amount_fen"])
    return "AMOUNT_MISMATCH", {
        "amount": _yuan(amount, zh),
        "expected": _yuan(expected, zh),
        "diff": _yuan(amount - expected, zh, True),
    }


def _price_rule(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    return "PRICE_MISMATCH", {
        "price": _price(ev["settlement"]["unit_price_fen"], zh),
        "posted": _price(ev["posted_price_fen"], zh),
    }


def _k_factor(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    if "k_in_force" in ev:
        return "K_FACTOR_CHANGE.undeclared", {"k": _int(ev["k_pulses_per_m3"]), "k_in_force": _int(ev["k_in_force"])}
    return "K_FACTOR_CHANGE", {}


def _seal(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    event = ev.get("event", {}).get("event") if isinstance(ev.get("event"), dict) else None
    name = EVENT_NAMES[event][0 if zh else 1] if isinstance(event, str) and event in EVENT_NAMES else None
    return "SEAL_BREACH", {"event": name or table("alarm_word")["module_event"][0 if zh else 1]}


def _drift(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    lo, hi = ev["ci95_permille"]
    return "METER_DRIFT", {
        "error": f"{_num(ev['error_permille']):+.2f}‰",
        "lo": f"{_num(lo):+.2f}",
        "hi": f"{_num(hi):+.2f}‰",
    }


def _inconsistent(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    problems = ev["problems"]
    if not isinstance(problems, list) or not problems:
        raise ValueError(problems)
    return "METROLOGY_INCONSISTENT", {"problems": ("；" if zh else "; ").join(_reason(p, zh) for p in problems)}


def _outage(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    what = table("outage_level")[ev["level"]][0 if zh else 1]
    params = {"what": what, "minutes": f"{_num(ev['outage_after_s']) / 60:g}", "since": _time(ev["silent_since"])}
    resumed = ev.get("resumed")
    if isinstance(resumed, dict):
        return "DATA_OUTAGE.resumed", params | {"outage": f"{_num(resumed['outage_s']) / 60:.0f}"}
    return "DATA_OUTAGE", params


def _firmware(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    """UNAPPROVED_FIRMWARE by its finding; the version as the module gave it (cut)."""
    finding = ev["finding"]
    if finding not in table("firmware_finding"):
        raise KeyError(finding)
    version, model = ev.get("version"), ev.get("dispenser_model")
    no_model = table("alarm_word")["no_model"][0 if zh else 1]
    return f"UNAPPROVED_FIRMWARE.{finding}", {
        "version": version[:64] if isinstance(version, str) else "—",
        "model": model if isinstance(model, str) else no_model,
    }


def _lock_cleared(ev: dict, zh: bool, seq: Any) -> tuple[str, dict]:
    hours = f"{_num(ev['window_h']):g}"
    lock = ev.get("self_lock")
    if not isinstance(lock, dict):
        return "SELF_LOCK_CLEARED.no_lock", {"hours": hours}
    return "SELF_LOCK_CLEARED", {"seq": _int(lock["seq"]), "since": _time(lock["ts"]), "hours": hours}


_PARAMS: dict[str, Callable[[dict, bool, Any], tuple[str, dict]]] = {
    "VOLUME_MISMATCH": _volume,
    "AMOUNT_MISMATCH": _amount,
    "PRICE_MISMATCH": _price_rule,
    "UNMATCHED_SETTLEMENT": lambda ev, zh, seq: (
        "UNMATCHED_SETTLEMENT",
        {"settled": _litres(ev["settlement"]["volume_ml"], zh)},
    ),
    "UNMATCHED_METERING": lambda ev, zh, seq: (
        "UNMATCHED_METERING",
        {"metered": _litres(ev["metering"]["volume_ml"], zh)},
    ),
    "BAD_SIGNATURE": lambda ev, zh, seq: ("BAD_SIGNATURE", {}),
    "UNKNOWN_DEVICE": lambda ev, zh, seq: ("UNKNOWN_DEVICE", {"reason": _reason(ev.get("reason"), zh)}),
    "SEQUENCE_GAP": lambda ev, zh, seq: ("SEQUENCE_GAP", {"seq": _int(ev["missing_seq"])}),
    "DUPLICATE_SEQ": lambda ev, zh, seq: ("DUPLICATE_SEQ", {"seq": _int(seq)}),
    "METROLOGY_INCONSISTENT": _inconsistent,
    "TOTALIZER_JUMP": lambda ev, zh, seq: (
        "TOTALIZER_JUMP",
        {"jump": _litres(ev["jump_ml"], zh, True), "previous_seq": _int(ev["previous_seq"])},
    ),
    "FLOW_IMPLAUSIBLE": lambda ev, zh, seq: (
        "FLOW_IMPLAUSIBLE",
        {
            "max_flow": f"{_num(ev['max_flow_ml_per_min']) / 1000:g} {_unit('litre_per_minute', zh)}",
            "duration": f"{_num(ev['duration_s']):.0f} {_unit('second', zh)}",
        },
    ),
    "K_FACTOR_CHANGE": _k_factor,
    "SEAL_BREACH": _seal,
    "UNVERIFIED_USE": lambda ev, zh, seq: ("UNVERIFIED_USE", {"reason": _reason(ev.get("reason"), zh)}),
    "METER_DRIFT": _drift,
    "TANK_LOSS": lambda ev, zh, seq: (
        "TANK_LOSS",
        {"loss": f"{_num(ev['loss_l_per_h']):.2f} {_unit('litre_per_hour', zh)}"},
    ),
    "STATION_BIAS": lambda ev, zh, seq: ("STATION_BIAS", {}),
    "CLOCK_AHEAD": lambda ev, zh, seq: (
        "CLOCK_AHEAD",
        {"event_time": _time(ev["event_time"]), "received": _time(ev["received"])},
    ),
    "DATA_OUTAGE": _outage,
    "UNAPPROVED_FIRMWARE": _firmware,
    "SELF_LOCK_CLEARED": _lock_cleared,
}


def alarm_message(rule: str, ev: dict, message: str, *, seq: int | None = None, language: str | None = None) -> str:
    """An alarm's headline rendered from its evidence in ``language`` (default: the
    request's, else the process's) with the catalog's ``alarm`` templates. The stored
    alarm stays language-neutral data (its stored ``message`` is the engine's English,
    the contract's); an alarm whose evidence lacks what the sentence needs is named by
    its rule in Chinese, and by the stored message in English."""
    zh = (language or lang()) == "zh"
    maker = _PARAMS.get(rule)
    if maker is not None and isinstance(ev, dict):
        try:
            key, params = maker(ev, zh, seq)
            return table("alarm")[key][0 if zh else 1].format(**params)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            pass
    if not zh:
        return _english(message, ev)
    words = table("alarm_word")
    return words["see_evidence"][0].format(what=RULE_NAMES_ZH.get(rule) or words["alarm"][0])
