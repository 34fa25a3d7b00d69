"""Texts the platform says of stored rows, in the reader's language: why a record is
linked to a complaint and a rectification order's finding (stored as parts, worded by
their packages: :func:`anxin.supervision.complaints.link_words`,
:func:`anxin.supervision.inspections.finding_words`), the oversight list's lines (worded
from the parts the reconciliation hands over; a station's risk is worded by
:func:`anxin.supervision.risk.explain`), and a checklist item's note.

They are the platform's words, not a person's: an English page must not show them in
Chinese. What a person typed inside them (an order number, a note, a complaint's text)
is kept as it was typed. Still stored as Chinese sentences: a link's reason or a finding
an existing database stored before their parts were — shown as written, in either
language (no pattern reads them back: :mod:`anxin.supervision.parts`) — and a checklist
item's note, which holds the test fill's error in words (``误差 +0.600‰（限 ±3‰）``),
read into English by pattern (as :func:`anxin.i18n.reason_text` reads the engine's
reasons); a shape no pattern knows is shown as written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from anxin.i18n.po import table
from anxin.reports.oversight import finding_line
from anxin.supervision.complaints import link_words
from anxin.supervision.inspections import finding_words
from anxin.web.texts import rule_label, state_word


def _read(text: str, shapes: tuple[tuple[str, Any], ...]) -> str:
    for pattern, say in shapes:
        m = re.fullmatch(pattern, text)
        if m is not None:
            said = say(m)
            if said is not None:
                return said
    return text


# ---------------------------------------------------------------- a complaint's links
def link_why(link: Mapping[str, Any], lang: str) -> str:
    """Why a record was linked to a complaint (a link of ``complaints.get``): from its
    parts; a link stored before as a sentence as written."""
    key, params = link.get("why_key"), link.get("why_params")
    said = link_words(key, params, lang) if key and isinstance(params, dict) else None
    return str(link.get("why") or "") if said is None else said


# ---------------------------------------------------------------- a rectification's finding
def finding(rect: Mapping[str, Any], lang: str) -> str:
    """A rectification order's finding (an order of ``inspections.get`` or
    ``open_rectifications``): from its parts; one stored before as a sentence as written."""
    key, params = rect.get("finding_key"), rect.get("finding_params")
    said = finding_words(key, params, lang) if key and isinstance(params, dict) else None
    return str(rect.get("finding") or "") if said is None else said


# ---------------------------------------------------------------- an inspection's checklist
def _fill_note_en(m: re.Match[str]) -> str:
    words = {k: en for k, (_, en) in table("rectification_finding").items()}
    error = words["test_fill_error"].format(error=m[1], limit=m[2])
    return words["error_and_note"].format(error=error, note=m[3]) if m[3] else error


_NOTE_EN: tuple[tuple[str, Any], ...] = (
    (r"误差 (\S+)‰（限 ±(\S+)‰）(?:；(.*))?", _fill_note_en),
    (r"未做测试加油", lambda m: "no test fill done"),
)


def checklist_note(note: str | None, lang: str) -> str:
    """A checklist item's note: the inspector's as typed, the test fill's (which the
    platform writes: the error and its limit) in words."""
    text = note or ""
    return text if lang == "zh" else _read(text, _NOTE_EN)


# ---------------------------------------------------------------- the oversight list
def oversight_summary(item: Any, registry: Any, lang: str) -> str:
    """An oversight item's line (``<station>（<id>） <what>``) in ``lang``: worded from the
    parts the reconciliation hands over (``item.what``, the catalog's ``oversight_line``);
    an item without them (none is made today) is its Chinese summary."""
    sid = item.station_id
    st = registry.station_by_id.get(sid) if registry is not None else None
    key, params = getattr(item, "what", ("", {})) or ("", {})
    if not key:
        return str(item.summary)
    zh = lang == "zh"
    p = dict(params)
    if "status" in p:
        p["status"] = state_word("complaint" if key == "complaint" else "alarm", p["status"], lang)
    if "rule" in p:
        p["rule"] = rule_label(p["rule"], lang)
    if "finding" in p:
        p["finding"] = finding_line(p["finding"], lang)
    said = table("oversight_line")[key][0 if zh else 1].format(**p)
    where = (f"{st.name}（{sid}）" if zh else f"{st.name} ({sid})") if st is not None else sid
    return f"{where} {said}"
