"""An alarm in words: its message rendered from its evidence, and the engine's reasons
(written in English into the evidence) in the reader's language."""

from __future__ import annotations

import re

from anxin.i18n.catalog import EVENT_NAMES, RULE_NAMES_ZH
from anxin.i18n.language import lang

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
    """The alarm's message in the language of the moment (the stored message is English)."""
    return alarm_message(alarm.rule, alarm.evidence, alarm.message, seq=getattr(alarm, "seq", None))


def alarm_message(rule: str, ev: dict, message: str, *, seq: int | None = None, language: str | None = None) -> str:
    """An alarm's message rendered from its evidence in ``language`` (default: the
    request's, else the process's). The stored alarm stays language-neutral data; its
    stored ``message`` is the English text, shown as it is in English; in Chinese an
    alarm whose evidence lacks what the sentence needs is named by its rule."""
    if (language or lang()) != "zh":
        return _english(message, ev)
    try:
        if rule == "VOLUME_MISMATCH":
            return (
                f"结算 {_g(ev, 'settlement', 'volume_ml')} mL，计量 {_g(ev, 'metering', 'volume_ml')} mL，"
                f"差 {ev['difference_ml']:+d} mL"
            )
        if rule == "AMOUNT_MISMATCH":
            return f"金额 {_g(ev, 'settlement', 'amount_fen')} 分，按量价应为 {ev['expected_amount_fen']} 分"
        if rule == "PRICE_MISMATCH":
            return f"单价 {_g(ev, 'settlement', 'unit_price_fen')} 分/升，挂牌价 {ev['posted_price_fen']} 分/升"
        if rule == "UNMATCHED_SETTLEMENT":
            return f"结算 {_g(ev, 'settlement', 'volume_ml')} mL 无对应计量记录"
        if rule == "UNMATCHED_METERING":
            return f"加油 {_g(ev, 'metering', 'volume_ml')} mL 无对应结算（疑似账外销售）"
        if rule == "BAD_SIGNATURE":
            return "签名验证失败，记录已隔离留证"
        if rule == "UNKNOWN_DEVICE":
            return f"未登记设备或密钥，记录已隔离留证（{reason_text(ev.get('reason'), 'zh')}）"
        if rule == "SEQUENCE_GAP":
            return f"计量模块序号 {ev['missing_seq']} 缺失（疑似删除）"
        if rule == "DUPLICATE_SEQ":
            return f"序号 {seq} 重复且内容不同（疑似克隆模块）"
        if rule == "METROLOGY_INCONSISTENT":
            return "计量记录自相矛盾：" + "；".join(reason_text(p, "zh") for p in ev.get("problems", []))
        if rule == "TOTALIZER_JUMP":
            return f"累计数跳变 {ev['jump_ml']:+d} mL（上一条序号 {ev['previous_seq']}）"
        if rule == "FLOW_IMPLAUSIBLE":
            return f"流量不合理（最大流量 {ev['max_flow_ml_per_min']} mL/min，用时 {ev['duration_s']:.0f} s）"
        if rule == "K_FACTOR_CHANGE":
            if "k_in_force" in ev:
                return f"K 系数 {ev['k_pulses_per_m3']} 与在用值 {ev['k_in_force']} 不符（未申报变更）"
            return "K 系数变更前后 2 小时内无检定"
        if rule == "SEAL_BREACH":
            event = _g(ev, "event", "event")
            name = EVENT_NAMES[event][0] if isinstance(event, str) and event in EVENT_NAMES else "模块事件"
            return f"{name}：前后 2 小时内无检定"
        if rule == "UNVERIFIED_USE":
            return f"未经有效检定仍在加油（{reason_text(ev.get('reason'), 'zh')}）"
        if rule == "METER_DRIFT":
            lo, hi = ev["ci95_permille"]
            return f"计量误差 {ev['error_permille']:+.2f}‰（95% 置信区间 {lo:+.2f}…{hi:+.2f}‰）超出 ±3‰"
        if rule == "TANK_LOSS":
            return f"油罐不明损耗 {ev['loss_l_per_h']:.2f} L/h（疑似渗漏）"
        if rule == "STATION_BIAS":
            return "该站计量误差总体偏向经营者一方（NIST 44 号手册“偏向性”）"
        if rule == "CLOCK_AHEAD":
            return f"记录时间 {ev['event_time']} 晚于平台接收时间 {ev['received']}，超出容差，记录已隔离留证"
        if rule == "DATA_OUTAGE":
            what = {"station": "加油站", "tank": "液位仪", "nozzle": "油枪计量模块"}.get(ev["level"], "")
            text = (
                f"{what}在应上报期间停报超过 {ev['outage_after_s'] / 60:g} 分钟（最后数据 {ev['silent_since'][:19]}）"
            )
            resumed = ev.get("resumed")
            if isinstance(resumed, dict):
                text += f"；已恢复，中断 {resumed['outage_s'] / 60:.0f} 分钟"
            return text
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return f"{RULE_NAMES_ZH[rule]}（详见证据）" if rule in RULE_NAMES_ZH else "报警（详见证据）"
