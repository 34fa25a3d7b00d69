"""An alarm in words: its headline rendered from its evidence in the reader's language
(the catalog's ``alarm`` templates, litres to two decimals, yuan, local times), and the
engine's reasons (written in English into the evidence) in the reader's language."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from anxin.i18n.catalog import EVENT_NAMES, RULE_NAMES_ZH
from anxin.i18n.language import lang
from anxin.i18n.po import table
from anxin.i18n.units import litres, unit

# The engine's reasons (stored in the evidence as it wrote them) in Chinese, by pattern;
# a reason no pattern knows is shown as it was written (it is evidence).
_REASONS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), zh)
    for p, zh in (
        (r"signature does not verify", "签名验证失败"),
        (r"nozzle is not registered", "油枪未登记"),
        (r"key_id is not this nozzle's key", "签名密钥不属于该油枪"),
        (r"nozzle is registered to another station", "油枪登记在其他加油站"),
        (r"verification not signed by a registered institute", "检定记录未经登记的检定机构签名"),
        (r"institute is not registered", "检定机构未登记"),
        (r"key_id is not the institute's key", "签名密钥不属于该检定机构"),
        (r"not authenticated", "未通过认证"),
        (r"last verification failed \((.+)\)", "最近一次检定不合格（证书 {0}）"),
        (r"last verification failed", "最近一次检定不合格"),
        (r"verification expired", "检定已过期"),
        (r"([A-Za-z_ ]+) \(seq (-?\d+)\) since the last passing verification", "上次合格检定后发生「{0}」（序号 {1}）"),
        (r"no metering record with seq (-?\d+)", "无序号 {0} 的计量记录"),
        (r"no unpaired metering ended within 15 min before the sale", "结算前 15 分钟内无未配对的计量记录"),
        (r"metering seq (-?\d+) already settled by order (.+)", "计量序号 {0} 已由订单 {1} 结算"),
        (r"K factor (-?\d+) is not positive", "K 系数 {0} 不为正"),
        (
            r"pulses (-?\d+) at K (-?\d+) give (-?[\d.]+) mL, record says (-?\d+) mL",
            "脉冲 {0}、K 系数 {1} 应为 {2} mL，记录为 {3} mL",
        ),
        (r"totalizers advance (-?\d+) mL, record says (-?\d+) mL", "累计数增加 {0} mL，记录为 {1} mL"),
        (r"negative volume or pulses", "体积或脉冲为负"),
    )
)


# what the engine names inside its reasons (nozzle breaches)
_REASON_WORDS_ZH = {
    "seal breach": "铅封破坏",
    "undeclared K factor change": "未申报的 K 系数变更",
    "unauthorised K factor change": "未经检定的 K 系数变更",
}


# The engine's reasons that name a field by its code, in English words (the rest are
# English as written).
_REASONS_EN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), en)
    for p, en in (
        (r"key_id is not this nozzle's key", "the signing key is not this nozzle's key"),
        (r"key_id is not the institute's key", "the signing key is not the institute's key"),
    )
)


def reason_text(reason: object, language: str | None = None) -> str:
    """An engine reason in ``language``: Chinese by pattern (a rule code inside it by its
    name), else as written; in English a field's code inside it in words."""
    text = "" if reason is None else str(reason)
    if (language or lang()) != "zh":
        for pattern, en in _REASONS_EN:
            m = pattern.fullmatch(text)
            if m:
                return en.format(*m.groups())
        return text
    for pattern, zh in _REASONS_ZH:
        m = pattern.fullmatch(text)
        if m:
            groups = [_REASON_WORDS_ZH.get(g, RULE_NAMES_ZH.get(g, g)) for g in m.groups()]
            return zh.format(*groups)
    return text


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
