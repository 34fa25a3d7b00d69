"""Texts the domain packages compose in Chinese as they write them — why a record is
linked to a complaint, a rectification order's finding (both stored as written) — read
in the reader's language, and the oversight list's lines worded from the parts the
reconciliation hands over (a station's risk is worded by :func:`anxin.supervision.risk.explain`).

They are the platform's words, not a person's: an English page must not show them in
Chinese. A stored sentence is read back by pattern (as :func:`anxin.i18n.reason_text`
reads the engine's reasons) and said again in English; what a person typed inside it (an
order number, a note, a complaint's text) is kept as it was typed. A shape no pattern
knows is shown as written. In Chinese every text is shown as written."""

from __future__ import annotations

import re
from typing import Any

from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.i18n.po import table
from anxin.web.texts import CHECKLIST, rule_label, state_word

_RULE_BY_ZH = {zh: code for code, zh in RULE_NAMES_ZH.items()}
_ITEM_BY_ZH = {zh: en for zh, en in CHECKLIST.values()}

# ---------------------------------------------------------------- shared pieces
_DT = r"([+−])(\d+)分(\d+)秒"  # a signed offset, as the complaint links write it
_BASIS = r"(发生时间|该订单时间|受理时间)"
_BASIS_EN = {"发生时间": "the time given", "该订单时间": "the order's time", "受理时间": "its receipt"}


def _dt(sign: str, minutes: str, seconds: str) -> str:
    return f"{'+' if sign == '+' else '−'}{int(minutes)} min {seconds} s"


def _rule_en(zh: str) -> str:
    code = _RULE_BY_ZH.get(zh)
    return RULE_NAMES_EN[code] if code in RULE_NAMES_EN else zh


def _read(text: str, shapes: tuple[tuple[str, Any], ...]) -> str:
    for pattern, say in shapes:
        m = re.fullmatch(pattern, text)
        if m is not None:
            said = say(m)
            if said is not None:
                return said
    return text


# ---------------------------------------------------------------- a complaint's links
_WHY_EN: tuple[tuple[str, Any], ...] = (
    (r"订单号 (.+) 一致", lambda m: f"order number {m[1]} matches"),
    (rf"{_BASIS}前后 {_DT} 的销售", lambda m: f"a sale {_dt(m[2], m[3], m[4])} from {_BASIS_EN[m[1]]}"),
    (r"与销售 (.+) 配对的计量记录", lambda m: f"the metering record paired with sale {m[1]}"),
    (
        rf"同一油枪{_BASIS}前后 {_DT} 的计量记录(（隔离）)?",
        lambda m: (
            f"a metering record of the same nozzle {_dt(m[2], m[3], m[4])} from {_BASIS_EN[m[1]]}"
            + (" (quarantined)" if m[5] else "")
        ),
    ),
    (
        rf"(同一油枪|本站){_BASIS}前后 {_DT} 的报警「(.+)」",
        lambda m: (
            f"a “{_rule_en(m[6])}” alarm {'of the same nozzle' if m[1] == '同一油枪' else 'at this station'} "
            f"{_dt(m[3], m[4], m[5])} from {_BASIS_EN[m[2]]}"
        ),
    ),
)


def link_why(why: str | None, lang: str) -> str:
    """Why a record was linked to a complaint."""
    text = why or ""
    return text if lang == "zh" else _read(text, _WHY_EN)


# ---------------------------------------------------------------- an inspection's checklist
_NOTE_EN: tuple[tuple[str, Any], ...] = (
    (
        r"误差 (\S+)‰（限 ±(\S+)‰）(?:；(.*))?",
        lambda m: f"error {m[1]}‰ (limit ±{m[2]}‰)" + (f"; {m[3]}" if m[3] else ""),
    ),
    (r"未做测试加油", lambda m: "no test fill done"),
)


def checklist_note(note: str | None, lang: str) -> str:
    """A checklist item's note: the inspector's as typed, the test fill's (which the
    platform writes: the error and its limit) in words."""
    text = note or ""
    return text if lang == "zh" else _read(text, _NOTE_EN)


# ---------------------------------------------------------------- a rectification's finding
def _finding_en(m: re.Match[str]) -> str | None:
    label = _ITEM_BY_ZH.get(m[1])
    if label is None:
        return None
    if m[2] is None:
        return f"{label}: failed"
    return f"{label}: failed ({checklist_note(m[2], 'en')}{')' if m[3] == '）' else '…'}"


def finding_text(text: str | None, lang: str) -> str:
    """A rectification order's finding (``<checklist item>：不合格（<the inspector's note>）``);
    the note stays as typed. (A finding cut short for a list ends in "…".)"""
    text = text or ""
    return text if lang == "zh" else _read(text, ((r"([^：]+)：不合格(?:（(.*?)(）|…))?", _finding_en),))


# ---------------------------------------------------------------- the oversight list
def oversight_summary(item: Any, registry: Any, lang: str) -> str:
    """An oversight item's line (``<station>（<id>） <what>``) in ``lang``: worded from the
    parts the reconciliation hands over (``item.what``, the catalog's ``oversight_line``);
    an item without them (none today) is read back from its Chinese summary."""
    sid = item.station_id
    st = registry.station_by_id.get(sid) if registry is not None else None
    key, params = getattr(item, "what", ("", {})) or ("", {})
    if key:
        zh = lang == "zh"
        p = dict(params)
        if "status" in p:
            p["status"] = state_word("complaint" if key == "complaint" else "alarm", p["status"], lang)
        if "rule" in p:
            p["rule"] = rule_label(p["rule"], lang)
        if "finding" in p:
            p["finding"] = finding_text(p["finding"], lang)
        said = table("oversight_line")[key][0 if zh else 1].format(**p)
        where = (f"{st.name}（{sid}）" if zh else f"{st.name} ({sid})") if st is not None else sid
        return f"{where} {said}"
    return _read_back_summary(item, st, lang)


def _read_back_summary(item: Any, st: Any, lang: str) -> str:
    summary, sid = item.summary, item.station_id
    prefix = f"{st.name}（{sid}）" if st is not None else sid
    if not summary.startswith(prefix + " "):
        return summary
    rest = summary[len(prefix) + 1 :]
    said = _oversight_rest(item.category, rest, lang)
    if said is None:
        return summary
    if lang == "zh":
        return f"{prefix} {said}"
    return f"{st.name} ({sid}) {said}" if st is not None else f"{sid} {said}"


def _oversight_rest(category: str, rest: str, lang: str) -> str | None:
    zh = lang == "zh"
    if category in ("complaint_uninvestigated", "complaint_overdue"):
        m = re.fullmatch(r"投诉（(\w+)）：(.*)", rest, re.S)
        if m is None:
            return None
        status = state_word("complaint", m[1], lang)
        return f"投诉（{status}）：{m[2]}" if zh else f"complaint ({status}): {m[2]}"
    if category == "alarm_undisposed":
        m = re.fullmatch(r"(.+)（(\w+)）", rest)
        if m is None:
            return None
        status = state_word("alarm", m[2], lang)
        return f"{m[1]}（{status}）" if zh else f"{_rule_en(m[1])} ({status})"
    if zh:
        return rest
    shapes: dict[str, tuple[str, Any]] = {
        "case_open": (r"案件：(.*)", lambda m: f"case: {m[1]}"),
        "station_uninspected": (
            r"(\d+)天内有报警或投诉，未检查",
            lambda m: f"alarms or complaints within {m[1]} days, not inspected",
        ),
        "work_order_overdue": (r"工单（(.*)，报警 (.*)）", lambda m: f"work order ({m[1]}, alarm {m[2]})"),
        "rectification_overdue": (r"整改：(.*)", lambda m: f"rectification: {finding_text(m[1], lang)}"),
    }
    if category not in shapes:
        return None
    pattern, say = shapes[category]
    m = re.fullmatch(pattern, rest, re.S)
    return None if m is None else say(m)
