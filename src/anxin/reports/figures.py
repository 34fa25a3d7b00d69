"""Period figures (统计报表): what happened in a period, for a district or the whole city.

A period is a span of local dates (UTC+8), both inclusive: ``start`` 00:00:00 local up
to, not including, 00:00 local of the day after ``end``. Everything is counted by the
time it happened (event/occurrence time), not by when it was written:

* verifications — the record's ``ts``; coverage — the register as of the period's end
  (or ``now_us`` if earlier), via :func:`anxin.register.queries.coverage`.
* public-disclosure coverage (公示覆盖率) — registered nozzles whose public page shows a
  known verification state, i.e. whose register status is anything but ``never``
  (a verification record, or the registry vouching for a passing one; expired or
  failed states are shown too: the public sees them), over all registered nozzles.
* inspections done — ``visited_us`` of inspections with status ``done``, by kind.
* rectifications issued — at the visit (``visited_us``, else ``scheduled_us``) of the
  inspection that found them; closed — ``closed_us``; overdue — those whose
  ``deadline_us`` fell in the period (and before ``now_us``) without being closed by
  then (still open, or closed after the deadline).
* complaints received — ``received_us``; closed — ``closed_us``; closed on time —
  closed in the period no later than ``deadline_us`` (no deadline set: on time).
* cases opened — ``opened_us``; closed — ``closed_us``; penalties (fen) and boards
  (计量主板) confiscated — of the cases closed in the period (the decision closes them).
* alarms raised — the alarm's event time ``ts_us``, by rule and by severity; closure
  rate — of those, the ones whose current disposition is ``confirmed`` or
  ``false_alarm``, over all raised.
* sales — ``daily_sales`` rows whose local day is in the period.
* online rate (在线率) — the share of the stations' expected time (registry opening
  hours, else the whole day, from the platform's first record of each station) not
  inside a station-level ``DATA_OUTAGE``, on the platform's clock (``anxin.reports.online``);
  for the whole city also per district.

Times after ``now_us`` are not yet known and are never counted. A district selects its
registered stations; the whole city (``district=None``) counts every row, stations
outside the registry included.

The counting is :func:`anxin.reports.queries.period_counts`'; the figures are made here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import msgspec

from anxin.contract.registry import Registry
from anxin.contract.times import LOCAL_TZ, to_us
from anxin.i18n.po import table
from anxin.register.queries import coverage, register_rows
from anxin.reports.online import online_by_district, total
from anxin.reports.queries import period_counts
from anxin.store.database import Store
from anxin.supervision.inspections import KIND_ZH, KINDS

INSPECTION_KINDS = KINDS
INSPECTION_KIND_ZH = KIND_ZH  # the glossary's words (docs/glossary.md), worded once
SEVERITY_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("severity").items()}
CLOSED_DISPOSITIONS = ("confirmed", "false_alarm")


class PeriodError(ValueError):
    pass


class Figures(msgspec.Struct, kw_only=True):
    start: str  # local date, inclusive
    end: str  # local date, inclusive
    district: str | None
    now_us: int
    stations: int
    nozzles: int
    verifications: int
    verifications_passed: int
    verifications_after_repair: int
    pass_rate: float | None
    verification_coverage: float | None  # at the period's end
    nozzles_valid: int
    disclosure_coverage: float | None
    nozzles_disclosed: int
    inspections_done: int
    inspections_by_kind: dict[str, int]
    rectifications_issued: int
    rectifications_closed: int
    rectifications_overdue: int
    complaints_received: int
    complaints_closed: int
    complaints_closed_on_time: int
    cases_opened: int
    cases_closed: int
    penalties_fen: int
    boards_confiscated: int
    alarms_raised: int
    alarms_by_rule: dict[str, int]
    alarms_by_severity: dict[str, int]
    alarms_closed: int
    alarm_closure_rate: float | None
    sales: int
    volume_ml: int
    amount_fen: int
    online_rate: float | None = None  # in the period, to now (anxin.reports.online)
    online_expected_h: float = 0.0  # expected station-hours
    online_outage_h: float = 0.0  # of which inside a station DATA_OUTAGE
    online_by_district: dict[str, float | None] = {}  # the whole city's figures: each district's rate

    def rows(self, lang: str = "zh") -> list[tuple[str, str]]:
        """(label, value) pairs for a table, in ``lang`` (zh | en)."""
        return figure_rows(self, lang)


# --------------------------------------------------------------------------- periods
def day_start_us(day: str) -> int:
    """00:00 local (UTC+8) of ``day`` (YYYY-MM-DD) in µs since the epoch."""
    try:
        d = date.fromisoformat(day)
    except ValueError as exc:
        raise PeriodError(f"not a date (YYYY-MM-DD): {day!r}") from exc
    return to_us(datetime(d.year, d.month, d.day, tzinfo=LOCAL_TZ))


def period_bounds(start: str, end: str) -> tuple[int, int]:
    """[start 00:00 local, the day after end 00:00 local) in µs."""
    lo = day_start_us(start)
    hi = day_start_us((date.fromisoformat(end) + timedelta(days=1)).isoformat())
    if hi <= lo:
        raise PeriodError(f"period ends before it starts: {start}..{end}")
    return lo, hi


def parse_period(text: str) -> tuple[str, str]:
    """``2026-03`` (a month), ``2026-Q1`` (a quarter), ``2026`` (a year), ``2026-03-05``
    (a day) or ``2026-03-01:2026-03-31`` → (start, end) local dates, inclusive."""
    text = text.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})", text):
        start, end = f"{m[1]}-{m[2]}", m[3]
    elif m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", text):
        y, q = int(m[1]), int(m[2])
        start = date(y, 3 * q - 2, 1).isoformat()
        end = (_month_after(y, 3 * q) - timedelta(days=1)).isoformat()
    elif m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12:
            raise PeriodError(f"no such month: {text!r}")
        start, end = date(y, mo, 1).isoformat(), (_month_after(y, mo) - timedelta(days=1)).isoformat()
    elif re.fullmatch(r"\d{4}", text):
        start, end = f"{text}-01-01", f"{text}-12-31"
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        start = end = text
    else:
        raise PeriodError(f"not a period (2026-03 | 2026-Q1 | 2026 | 2026-03-01:2026-03-31): {text!r}")
    period_bounds(start, end)  # validates both dates and the order
    return start, end


def _month_after(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


# --------------------------------------------------------------------------- figures
def period_figures(
    store: Store, registry: Registry, *, start: str, end: str, district: str | None = None, now_us: int
) -> Figures:
    """The figures of [``start``, ``end``] (local dates, inclusive) for ``district`` (or the city)."""
    lo, hi = period_bounds(start, end)
    until = min(hi - 1, now_us)  # the last instant counted (inclusive)
    stations = [s.station_id for s in registry.stations if district is None or s.district == district]

    cov = coverage(store, registry, now_us=until, district=district, since_us=lo)
    online = online_by_district(store, registry, lo_us=lo, hi_us=hi, now_us=min(hi, now_us), stations=stations)
    online_all = total(online)
    reg = register_rows(store, registry, now_us=until, station_ids=stations)
    disclosed = sum(r.status != "never" for r in reg)

    n = period_counts(store, lo=lo, until=until, start=start, end=end, stations=None if district is None else stations)
    by_kind, alarm_rows = n.inspections_by_kind, n.alarms
    by_rule: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for rule, severity, _ in alarm_rows:
        by_rule[rule] = by_rule.get(rule, 0) + 1
        by_severity[severity] = by_severity.get(severity, 0) + 1
    closed_alarms = sum(s in CLOSED_DISPOSITIONS for _, _, s in alarm_rows)
    nozzles = len(reg)
    return Figures(
        start=start,
        end=end,
        district=district,
        now_us=now_us,
        stations=len(stations),
        nozzles=nozzles,
        verifications=cov.verifications,
        verifications_passed=cov.passed,
        verifications_after_repair=cov.after_repair,
        pass_rate=cov.pass_rate,
        verification_coverage=cov.coverage,
        nozzles_valid=cov.valid,
        disclosure_coverage=disclosed / nozzles if nozzles else None,
        nozzles_disclosed=disclosed,
        inspections_done=sum(by_kind.values()),
        inspections_by_kind={
            k: int(by_kind.get(k, 0)) for k in (*INSPECTION_KINDS, *sorted(set(by_kind) - set(INSPECTION_KINDS)))
        },
        rectifications_issued=n.rectifications_issued,
        rectifications_closed=n.rectifications_closed,
        rectifications_overdue=n.rectifications_overdue,
        complaints_received=n.complaints_received,
        complaints_closed=n.complaints_closed,
        complaints_closed_on_time=n.complaints_closed_on_time,
        cases_opened=n.cases_opened,
        cases_closed=n.cases_closed,
        penalties_fen=n.penalties_fen,
        boards_confiscated=n.boards_confiscated,
        alarms_raised=len(alarm_rows),
        alarms_by_rule=dict(sorted(by_rule.items())),
        alarms_by_severity=dict(sorted(by_severity.items())),
        alarms_closed=closed_alarms,
        alarm_closure_rate=closed_alarms / len(alarm_rows) if alarm_rows else None,
        sales=n.sales,
        volume_ml=n.volume_ml,
        amount_fen=n.amount_fen,
        online_rate=online_all.rate,
        online_expected_h=round(online_all.expected_us / 3.6e9, 3),
        online_outage_h=round(online_all.outage_us / 3.6e9, 3),
        online_by_district={k: v.rate for k, v in online.items()} if district is None else {},
    )


# --------------------------------------------------------------------------- rows
LABELS: dict[str, tuple[str, str]] = table("figure")


def label(key: str, lang: str = "zh") -> str:
    zh, en = LABELS[key]
    return en if lang == "en" else zh


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _ratio(x: float | None, num: int, den: int) -> str:
    return "—" if x is None else f"{x * 100:.1f}% ({num}/{den})"


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def figure_rows(f: Figures, lang: str = "zh") -> list[tuple[str, str]]:
    from anxin.i18n import RULE_NAMES_ZH

    en = lang == "en"
    L = lambda k: label(k, lang)  # noqa: E731
    out = [
        (L("period"), f"{f.start} ~ {f.end}"),
        (L("district"), f.district or L("city")),
        (L("stations"), str(f.stations)),
        (L("nozzles"), str(f.nozzles)),
        (L("verifications"), str(f.verifications)),
        (L("verifications_passed"), str(f.verifications_passed)),
        (L("verifications_after_repair"), str(f.verifications_after_repair)),
        (L("pass_rate"), _ratio(f.pass_rate, f.verifications_passed, f.verifications)),
        (L("verification_coverage"), _ratio(f.verification_coverage, f.nozzles_valid, f.nozzles)),
        (L("disclosure_coverage"), _ratio(f.disclosure_coverage, f.nozzles_disclosed, f.nozzles)),
        (L("inspections_done"), str(f.inspections_done)),
    ]
    for kind, n in f.inspections_by_kind.items():
        out.append((f"{L('by_kind')} {kind if en else INSPECTION_KIND_ZH.get(kind, kind)}", str(n)))
    out += [
        (L("rectifications_issued"), str(f.rectifications_issued)),
        (L("rectifications_closed"), str(f.rectifications_closed)),
        (L("rectifications_overdue"), str(f.rectifications_overdue)),
        (L("complaints_received"), str(f.complaints_received)),
        (L("complaints_closed"), str(f.complaints_closed)),
        (L("complaints_closed_on_time"), str(f.complaints_closed_on_time)),
        (L("cases_opened"), str(f.cases_opened)),
        (L("cases_closed"), str(f.cases_closed)),
        (L("penalties"), _yuan(f.penalties_fen)),
        (L("boards_confiscated"), str(f.boards_confiscated)),
        (L("alarms_raised"), str(f.alarms_raised)),
    ]
    for rule, n in f.alarms_by_rule.items():
        out.append((f"{L('by_rule')} {rule if en else RULE_NAMES_ZH.get(rule, rule)}", str(n)))
    for sev, n in f.alarms_by_severity.items():
        out.append((f"{L('by_severity')} {sev if en else SEVERITY_ZH.get(sev, sev)}", str(n)))
    out += [
        (L("alarm_closure_rate"), _ratio(f.alarm_closure_rate, f.alarms_closed, f.alarms_raised)),
        (L("sales"), str(f.sales)),
        (L("volume"), f"{f.volume_ml / 1000:,.2f}"),
        (L("amount"), _yuan(f.amount_fen)),
        (L("online_rate"), _pct(f.online_rate)),
        (L("online_hours"), f"{f.online_expected_h:,.1f} / {f.online_outage_h:,.1f}"),
    ]
    for name, rate in f.online_by_district.items():
        out.append((f"{L('by_district')} {name}", _pct(rate)))
    return out
