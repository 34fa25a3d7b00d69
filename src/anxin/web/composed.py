"""Texts the platform says of stored rows, in the reader's language: why a record is
linked to a complaint and a rectification order's finding (stored as parts, worded by
their packages: :func:`anxin.supervision.complaints.link_words`,
:func:`anxin.supervision.inspections.finding_words`), and a checklist item's note (the
oversight list's lines are worded by :func:`anxin.reports.oversight.summary_text`, a
station's risk by :func:`anxin.supervision.risk.explain`).

They are the platform's words, not a person's: an English page must not show them in
Chinese. What a person typed inside them (an order number, a note, a complaint's text)
is kept as it was typed. A checklist item's note is worded the same way
(:func:`anxin.supervision.inspections.checklist_note`: the test fill's error and limit
as parts next to the note as typed). What an existing database stored before as a
Chinese sentence — a link's reason, a finding, a test fill's note — is shown as written,
in either language: no pattern reads it back (:mod:`anxin.supervision.parts`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anxin.supervision.complaints import link_words
from anxin.supervision.inspections import checklist_note as inspection_note
from anxin.supervision.inspections import finding_words


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
def checklist_note(item: Mapping[str, Any] | None, lang: str) -> str:
    """A checklist item's note (an item of ``inspections.get``'s checklist): the test
    fill's words from its parts, the inspector's note as typed; one stored before as a
    sentence as written."""
    return "" if not item else inspection_note(item, lang)
