"""The reasons the platform itself writes into the audit log (a login, a CSV import, a
token issued) are words of the catalog's ``audit_reason`` table, shown in the reader's
language on the audit page; a reason a person typed is shown as typed."""

from __future__ import annotations

import ast

from wording import CJK, calls, table

from anxin.web.texts import audit_reason

# the audit log's writers: a call of one of these with a literal reason= is the platform's
WRITERS = {"append", "record", "apply", "set_registry"}


def _written() -> set[str]:
    """Every literal reason an audit writer is given; a composed one (an f-string) fails:
    its words could not come from the catalog."""
    found = set()
    for rel, node, name in calls():
        for kw in node.keywords:
            composed = name in WRITERS and kw.arg == "reason" and isinstance(kw.value, ast.JoinedStr)
            assert not composed, f"{rel}:{node.lineno}: a composed audit reason"
            if (
                name in WRITERS
                and kw.arg == "reason"
                and isinstance(kw.value, ast.Constant)
                and isinstance(kw.value.value, str)
                and kw.value.value
                and not CJK.search(kw.value.value)
            ):
                found.add(kw.value.value)
    return found


def test_every_reason_the_platform_writes_has_words_in_both_languages() -> None:
    written = _written()
    assert {"login", "CSV import", "API token revoked", "initial registry"} <= written  # the scan sees them
    zh, en = table("audit_reason", "zh"), table("audit_reason", "en")
    assert written <= set(zh) and written <= set(en), written - set(zh)
    for reason in written:
        assert CJK.search(audit_reason(reason, "zh")), reason
        assert audit_reason(reason, "en") == en[reason] and not CJK.search(en[reason])


def test_a_typed_reason_is_shown_as_typed() -> None:
    assert audit_reason("站长申请更换主板", "en") == "站长申请更换主板"
    assert audit_reason("replaced the board", "zh") == "replaced the board"
