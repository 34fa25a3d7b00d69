"""The oversight reconciliation (纪检监察对账): what the monitoring raised against what the
regulator did about it — the mismatch that started the Hangzhou campaign (alarms and
complaints that nobody went to see).

As of ``now_us`` (an argument; no wall clock here), each gap is an item with a link to
its console page:

* ``complaint_uninvestigated`` — a complaint still ``received`` or ``assigned`` more
  than 3 days after it arrived (→ ``/console/complaints/<id>``);
* ``alarm_undisposed`` — an alarm raised (``raised_us``) more than 7 days ago with no
  disposition: no ``alarm_states`` row, or status ``new`` / ``acknowledged``
  (→ ``/console/alarms/<alarm_id>``);
* ``case_open`` — a case not closed, whatever its age (→ ``/console/cases/<id>``);
* ``station_uninspected`` — a station with an alarm (event time) or a complaint
  (received) in the last 90 days, but no inspection done (visited) in that time
  (→ ``/console/stations/<id>``);
* ``work_order_overdue`` — a work order still ``open`` past ``due_us``
  (→ ``/console/workorders/<id>``);
* ``complaint_overdue`` — a complaint not ``closed`` past its ``deadline_us``
  (→ ``/console/complaints/<id>``);
* ``rectification_overdue`` — a rectification still ``open`` past ``deadline_us``
  (→ ``/console/inspections/<inspection_id>``, the visit that ordered it).

A complaint can be in two categories (uninvestigated and overdue): they are
different failures. ``station_ids`` limits everything to those stations (a district
or an operator's scope); None is everything. (The rows are read by
:func:`anxin.reports.queries.oversight_rows`; the rules and words are here.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from anxin.contract.registry import Registry
from anxin.contract.times import US_PER_DAY, format_ts
from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.i18n.po import table
from anxin.reports.queries import oversight_rows
from anxin.store.database import Store
from anxin.supervision.inspections import finding_text

COMPLAINT_DAYS = 3
ALARM_DAYS = 7
INSPECTION_WINDOW_DAYS = 90

CATEGORIES = (
    "complaint_uninvestigated",
    "alarm_undisposed",
    "case_open",
    "station_uninspected",
    "work_order_overdue",
    "complaint_overdue",
    "rectification_overdue",
)
CATEGORY_LABELS: dict[str, tuple[str, str]] = table("oversight_category")


def category_label(category: str, lang: str = "zh") -> str:
    zh, en = CATEGORY_LABELS[category]
    return en if lang == "en" else zh


class OversightItem(msgspec.Struct, frozen=True, kw_only=True):
    category: str
    ref: str  # the id of the complaint, alarm, case, station, work order or rectification
    station_id: str
    since_us: int  # when the clock started (arrival, raising, opening, deadline, last event)
    since: str  # the same, RFC 3339 local
    summary: str  # a short description, Chinese (summary_text words it in a reader's language)
    link: str  # the console page
    # what the summary says, as parts a reader's language words (summary_text): the
    # catalog key of context "oversight_line" and its parameters (codes, not words; a
    # rectification's finding as stored: finding_line says it)
    what: tuple[str, dict[str, Any]] = ("", {})


class Oversight(msgspec.Struct, kw_only=True):
    now_us: int
    counts: dict[str, int]  # every category, zero included, in CATEGORIES order
    items: list[OversightItem]

    def of(self, category: str) -> list[OversightItem]:
        return [i for i in self.items if i.category == category]


def _item(
    category: str, ref: object, station_id: str, where: str, since_us: int, link: str, what: tuple[str, dict[str, Any]]
) -> OversightItem:
    """An item; its Chinese summary is ``where`` and the line of ``what`` in Chinese."""
    return OversightItem(
        category=category,
        ref=str(ref),
        station_id=station_id,
        since_us=int(since_us),
        since=format_ts(int(since_us)),
        summary=f"{where} {line_text(what, 'zh')}",
        link=link,
        what=what,
    )


# A line's states in words: a complaint's (its package's table), an alarm's (the console's).
_STATES: dict[str, dict[str, tuple[str, str]]] = {
    "complaint": table("complaint_status"),
    "alarm": {
        s: table("console")[s] for s in ("new", "acknowledged", "dispatched", "on_site", "confirmed", "false_alarm")
    },
}


def line_text(what: tuple[str, dict[str, Any]], lang: str = "zh") -> str:
    """An item's line without its station, worded from its parts (the catalog's
    ``oversight_line``) in ``lang``: states and rules by name, a finding short; a state
    the catalog lacks is a dash in Chinese, its code in English (never a code on a
    Chinese line)."""
    i = 0 if lang == "zh" else 1
    key, params = what
    p = dict(params)
    if "status" in p:
        entry = _STATES.get(key, {}).get(p["status"])
        p["status"] = entry[i] if entry is not None else ("—" if i == 0 else p["status"])
    if "rule" in p:
        p["rule"] = (RULE_NAMES_EN if i else RULE_NAMES_ZH).get(p["rule"], p["rule"])
    if "finding" in p:
        p["finding"] = finding_line(p["finding"], lang)
    return table("oversight_line")[key][i].format(**p)


def station_ref(name: str, station_id: str, lang: str = "zh") -> str:
    """A station by its name and id (``城东加油站（S1）`` / ``城东加油站 (S1)``)."""
    return table("station_ref")["station"][0 if lang == "zh" else 1].format(name=name, station_id=station_id)


def summary_text(item: OversightItem, registry: Registry | None, lang: str = "zh") -> str:
    """An item's line (``<station>（<id>） <what>``) in ``lang``, worded from its parts
    (the list's page, the XLSX and PDF files); an item without them (none is made today)
    is its Chinese summary."""
    key, _ = item.what or ("", {})
    if not key:
        return item.summary
    sid = item.station_id
    st = registry.station_by_id.get(sid) if registry is not None else None
    where = sid if st is None else station_ref(st.name, sid, lang)
    return f"{where} {line_text(item.what, lang)}"


def _short(text: str | None, n: int = 40) -> str:
    text = (text or "").replace("\n", " ").strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def finding_line(finding: str | None, lang: str) -> str:
    """A rectification's finding (as stored: parts, or a sentence written before) in
    ``lang``, short enough for a list's line."""
    return _short(finding_text(finding, lang))


def reconcile(
    store: Store, registry: Registry | None, *, now_us: int, station_ids: Iterable[str] | None = None
) -> Oversight:
    """Every gap between what was raised and what was done, as of ``now_us``."""
    wanted = None if station_ids is None else sorted(set(station_ids))

    def name(station_id: str) -> str:
        st = registry.station_by_id.get(station_id) if registry is not None else None
        return station_ref(st.name, station_id) if st is not None else station_id

    rows = oversight_rows(
        store,
        now_us=now_us,
        station_ids=wanted,
        complaint_before_us=now_us - COMPLAINT_DAYS * US_PER_DAY,
        alarm_before_us=now_us - ALARM_DAYS * US_PER_DAY,
        window_from_us=now_us - INSPECTION_WINDOW_DAYS * US_PER_DAY,
    )
    items: list[OversightItem] = []
    for cid, sid, received, status, text in rows.complaints_uninvestigated:
        items.append(
            _item(
                "complaint_uninvestigated",
                cid,
                sid,
                name(sid),
                received,
                f"/console/complaints/{cid}",
                ("complaint", {"status": status, "text": _short(text)}),
            )
        )

    for aid, sid, rule, raised, status in rows.alarms_undisposed:
        items.append(
            _item(
                "alarm_undisposed",
                aid,
                sid,
                name(sid),
                raised,
                f"/console/alarms/{aid}",
                ("alarm", {"rule": rule, "status": status or "new"}),
            )
        )

    for kid, sid, opened, summary in rows.cases_open:
        items.append(
            _item(
                "case_open",
                kid,
                sid,
                name(sid),
                opened,
                f"/console/cases/{kid}",
                ("case", {"text": _short(summary)}),
            )
        )

    last: dict[str, int] = {}  # station → its latest alarm or complaint in the window
    for sid, t in rows.recent_alarms:
        last[sid] = max(last.get(sid, t), t)
    for sid, t in rows.recent_complaints:
        last[sid] = max(last.get(sid, t), t)
    for sid in sorted(set(last) - rows.inspected):
        items.append(
            _item(
                "station_uninspected",
                sid,
                sid,
                name(sid),
                last[sid],
                f"/console/stations/{sid}",
                ("uninspected", {"days": INSPECTION_WINDOW_DAYS}),
            )
        )

    for oid, sid, due, inspector, aid in rows.work_orders_overdue:
        items.append(
            _item(
                "work_order_overdue",
                oid,
                sid,
                name(sid),
                due,
                f"/console/workorders/{oid}",
                ("work_order", {"inspector": inspector, "alarm": aid}),
            )
        )

    for cid, sid, deadline, status, text in rows.complaints_overdue:
        items.append(
            _item(
                "complaint_overdue",
                cid,
                sid,
                name(sid),
                deadline,
                f"/console/complaints/{cid}",
                ("complaint", {"status": status, "text": _short(text)}),
            )
        )

    for rid, sid, deadline, iid, finding in rows.rectifications_overdue:
        items.append(
            _item(
                "rectification_overdue",
                rid,
                sid,
                name(sid),
                deadline,
                f"/console/inspections/{iid}",
                ("rectification", {"finding": finding}),  # as stored: worded when said
            )
        )

    counts = {k: sum(i.category == k for i in items) for k in CATEGORIES}
    return Oversight(now_us=now_us, counts=counts, items=items)
