"""What the platform itself says in a stored row — why a record is linked to a complaint
(``complaint_links.why``), a rectification order's finding (``rectifications.finding``)
— is stored as parts, not as a sentence (issue 13: stored data stays language-neutral):
``{"key": …, "params": {…}}`` as JSON in the row's own text column. The words come when
the row is read, in the reader's language, from the catalog (:mod:`anxin.i18n.po`):
:func:`anxin.supervision.complaints.link_reason`,
:func:`anxin.supervision.inspections.finding_text`.

Why the same column, not new ones: a row holds either form, never both, so one column
keeps one truth (no second column that is empty for every old row or every new one),
and no reader can pick the wrong one. The two are told apart without doubt: a sentence
the platform wrote before starts with a Chinese word, never with ``{``.

Rows written before hold the Chinese sentence (existing databases). :func:`load` answers
None for them and they are shown **as written**, in either language: no pattern reads
them back (they were written in the official language; what a person typed inside them
could not be told from the platform's words by a pattern anyway)."""

from __future__ import annotations

import json
from typing import Any


def dump(key: str, **params: Any) -> str:
    """The parts as stored: compact JSON, keys sorted (the same parts, the same text)."""
    return json.dumps({"key": key, "params": params}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def load(stored: str | None) -> tuple[str, dict[str, Any]] | None:
    """(key, params) of a stored text, or None for a sentence written before (or nothing)."""
    if not stored or not stored.startswith("{"):
        return None
    try:
        d = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("key"), str) or not isinstance(d.get("params"), dict):
        return None
    return d["key"], d["params"]
