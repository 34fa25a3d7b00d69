"""The console's words, Chinese first (zh-CN) with English (``?lang=en`` or the
language switch, kept in a cookie). The tables are read from the gettext catalogs
(``anxin/i18n/locale/*/LC_MESSAGES/anxin.po``, contexts ``console``, ``case_source``,
``audit_action``, ``audit_subject``, ``audit_reason``, ``triage_refused``): a new word
goes into both files there; what is composed from the domain packages' own words
(lifecycle states, checklist items) is assembled here."""

from __future__ import annotations

from typing import Any

from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.i18n.po import table
from anxin.supervision import Refusal
from anxin.supervision.inspections import CHECKLIST as CHECKLIST_ZH
from anxin.supervision.inspections import CHECKLIST_EN
from anxin.supervision.inspections import KINDS as INSPECTION_KINDS
from anxin.workflow.lifecycle import TransitionError

T: dict[str, tuple[str, str]] = table("console")

# An inspection's checklist items, in the supervision package's words.
CHECKLIST: dict[str, tuple[str, str]] = {k: (zh, CHECKLIST_EN.get(k, zh)) for k, zh in CHECKLIST_ZH.items()}


# Each lifecycle's states in words (a raw state — "received", "decided" — on a Chinese
# page was issue 13's finding): the catalog's, the same words the domain packages'
# refusals name them by.
STATES: dict[str, dict[str, tuple[str, str]]] = {
    "complaint": table("complaint_status"),
    "inspection": table("inspection_status"),
    "inspection_kind": {k: T[f"inspection_kind_{k}"] for k in INSPECTION_KINDS},  # the public page's words
    "request": table("request_status"),
    "case": table("case_status"),
    "workorder": table("workorder_status"),
    "rectification": table("rectification_status"),
    "register": table("register_status"),
    "complaint_outcome": table("complaint_outcome"),
    "complaint_channel": table("complaint_channel"),
    "alarm": {s: T[s] for s in ("new", "acknowledged", "dispatched", "on_site", "confirmed", "false_alarm")},
    "severity": {s: T[s] for s in ("critical", "major", "minor")},
}
CASE_SOURCES: dict[str, tuple[str, str]] = table("case_source")


# What the audit log records, in words (an action no catalog names is shown as written:
# it is the log's own record).
AUDIT_ACTIONS: dict[str, tuple[str, str]] = table("audit_action")
SUBJECTS: dict[str, tuple[str, str]] = {**table("audit_subject"), **CASE_SOURCES}


# Reasons the platform itself writes into the audit log (a person's are shown as typed;
# the log's entries are never rewritten, so the words are chosen when read).
AUDIT_REASONS: dict[str, tuple[str, str]] = table("audit_reason")


def audit_reason(reason: str | None, lang: str) -> str:
    entry = AUDIT_REASONS.get(reason or "")
    return (reason or "") if entry is None else entry[0 if lang == "zh" else 1]


def audit_action(action: str, lang: str) -> str:
    entry = AUDIT_ACTIONS.get(action)
    return action if entry is None else entry[0 if lang == "zh" else 1]


def _reference(value: str | None, names: dict[str, tuple[str, str]], lang: str, mark: str) -> str | None:
    """``kind:ref`` with the kind in words (None when the kind has none)."""
    kind, _, ref = (value or "").partition(":")
    entry = names.get(kind)
    if entry is None:
        return None
    word = entry[0 if lang == "zh" else 1]
    return f"{word} {mark}{ref}" if ref else word


def audit_subject(subject: str, lang: str) -> str:
    has_ref = bool((subject or "").partition(":")[2])
    return (_reference(subject, SUBJECTS, lang, "") if has_ref else None) or subject


# why an alarm triage step was refused (workflow.lifecycle.TransitionError.problem)
TRIAGE_REFUSED: dict[str, tuple[str, str]] = table("triage_refused")


def refusal_text(exc: Exception, lang: str) -> str:
    """A refused step in the reader's language: the supervision package's refusals word
    themselves, an alarm triage refusal is worded here; anything else as it came."""
    if isinstance(exc, Refusal):
        return exc.text(lang)
    if isinstance(exc, TransitionError) and exc.problem in TRIAGE_REFUSED:
        i = 0 if lang == "zh" else 1
        return TRIAGE_REFUSED[exc.problem][i].format(
            status=state_word("alarm", exc.status, lang), action=T[exc.action][i] if exc.action in T else exc.action
        )
    return str(exc)


def state_word(group: str, state: str | None, lang: str) -> str:
    """A lifecycle state in words; one the catalog lacks is shown as it is in English and
    as a dash in Chinese (never a raw code on a Chinese page)."""
    if not state:
        return "—"
    entry = STATES.get(group, {}).get(state)
    if entry is None:
        return "—" if lang == "zh" else state
    return entry[0 if lang == "zh" else 1]


def case_source(source: str | None, lang: str) -> str:
    """A case's source (``alarm:<id>``, ``complaint:<id>``, ``inspection:<id>``) in words."""
    return _reference(source, CASE_SOURCES, lang, "#") or source or "—"


def words(lang: str) -> dict[str, str]:
    i = 0 if lang == "zh" else 1
    return {k: v[i] for k, v in T.items()}


def rule_label(rule: str, lang: str) -> str:
    return (RULE_NAMES_ZH if lang == "zh" else RULE_NAMES_EN).get(rule, rule)


def checklist_label(item: str, lang: str) -> str:
    """An inspection's checklist item in words (one the supervision package does not name: its code)."""
    entry = CHECKLIST.get(item)
    return item if entry is None else entry[0 if lang == "zh" else 1]


def flow_text(flow_ml_per_min: Any, error_permille: float, w: dict[str, str]) -> str:
    """One flow point's error labelled with its flow (a verification's two or three
    errors are otherwise numbers side by side)."""
    if not isinstance(flow_ml_per_min, (int, float)) or isinstance(flow_ml_per_min, bool):
        return f"{error_permille:+.2f}‰"
    return f"{flow_ml_per_min / 1000:g} {w['l_per_min']}{w['colon']}{error_permille:+.2f}‰"


def flow_point(p: dict[str, Any], w: dict[str, str]) -> str:
    """A verification record's flow point (its ``error`` a fraction) in words; a value that
    is not a number is shown as a dash (a hostile body shown, not trusted)."""
    err = p.get("error")
    if not isinstance(err, (int, float)) or isinstance(err, bool):
        return "—"
    return flow_text(p.get("flow_ml_per_min"), err * 1000, w)
