"""Evaluation of a checker run against a simulated city's truth (评估).

An alarm matches a truth key when the rule is the same and: for sale-level keys
(those with an ``order_id``) the same station and order; for UNVERIFIED_USE the
same nozzle and the local date of the alarm's ``ts``; for METER_DRIFT the same
nozzle; for TANK_LOSS the same tank; otherwise the same nozzle and ``seq``. A
fault is detected when all its ``expect`` keys are matched; an alarm matched by
no fault's expect or allow key is a false alarm.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console, JustifyMethod
from rich.table import Table

from anxin.contract.alarm import RECORD_LEVEL_RULES, RULES
from anxin.contract.times import TimestampError, local_day, parse_ts
from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.keyed import render
from anxin.sim.scenarios import BY_NAME
from anxin.sim.truth import AlarmKey, Fault, read_faults, read_meters, read_rejects, truth_dir_for

NO_RULE = "—"
MAX_LISTED = 200


class RuleRow(msgspec.Struct, kw_only=True):
    rule: str
    record_level: bool
    injected: int
    detected: int
    recall: float | None
    alarms: int
    false_alarms: int


class ScenarioRow(msgspec.Struct, kw_only=True):
    scenario: str
    primary_rule: str
    record_level: bool
    injected: int
    detected: int
    recall: float | None


class FileRejects(msgspec.Struct, kw_only=True):
    file: str
    expected: int
    found: int


class MeterEval(msgspec.Struct, kw_only=True):
    nozzles_true: int
    nozzles_estimated: int
    mae_permille: float | None
    ci95_coverage: float | None
    violations_true: int  # nozzles whose true error is beyond ±3‰
    violations_found: int  # of those, reported as "violation"
    violations_false: int  # reported "violation" while the truth is within ±3‰


class EvalReport(msgspec.Struct, kw_only=True):
    data_dir: str
    check_dir: str
    faults: int
    detected: int
    record_level_faults: int
    record_level_detected: int
    all_record_level_detected: bool
    statistical_faults: int
    statistical_detected: int
    honest_cases: int  # faults with nothing expected (e.g. authorised K changes)
    alarms: int
    false_alarms: int
    rows: list[RuleRow]
    scenarios: list[ScenarioRow]
    rejects_expected: int
    rejects_found: int
    rejects_ok: bool
    reject_files: list[FileRejects]
    missed: list[dict[str, Any]]  # record-level faults not detected (first 200)
    unexplained: list[dict[str, Any]]  # false alarms (first 200)
    meters: MeterEval | None = None


def _local_date(ts: Any) -> str | None:
    try:
        day = local_day(parse_ts(str(ts)))
    except (TimestampError, ValueError):
        return None
    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()


def truth_key(k: AlarmKey) -> tuple:
    if k.order_id is not None:
        return (k.rule, "o", k.station_id, k.order_id)
    if k.rule == "UNVERIFIED_USE":
        return (k.rule, "d", k.nozzle_id, k.day)
    if k.rule == "METER_DRIFT":
        return (k.rule, "n", k.nozzle_id)
    if k.rule == "TANK_LOSS":
        return (k.rule, "t", k.tank_id)
    return (k.rule, "s", k.nozzle_id, k.seq)


def alarm_keys(a: dict[str, Any]) -> list[tuple]:
    """Every truth-key form an alarm line can match."""
    rule = a.get("rule")
    keys: list[tuple] = []
    if a.get("order_id") is not None:
        keys.append((rule, "o", a.get("station_id"), a.get("order_id")))
    if rule == "UNVERIFIED_USE":
        keys.append((rule, "d", a.get("nozzle_id"), _local_date(a.get("ts"))))
    elif rule == "METER_DRIFT":
        keys.append((rule, "n", a.get("nozzle_id")))
    elif rule == "TANK_LOSS":
        keys.append((rule, "t", a.get("tank_id")))
    if a.get("seq") is not None:
        keys.append((rule, "s", a.get("nozzle_id"), a.get("seq")))
    return keys


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            try:
                obj = msgspec.json.decode(line)
            except msgspec.DecodeError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def _primary(f: Fault) -> str:
    return f.expect[0].rule if f.expect else NO_RULE


def _recall(detected: int, injected: int) -> float | None:
    return round(detected / injected, 4) if injected else None


def evaluate(data_dir: Path, check_dir: Path) -> EvalReport:
    """Compare ``check_dir`` (alarms.jsonl, rejects.jsonl, meters.jsonl) with the truth of
    ``data_dir``."""
    data_dir, check_dir = Path(data_dir), Path(check_dir)
    truth = truth_dir_for(data_dir)
    faults = read_faults(truth)
    alarms = _read_jsonl(check_dir / "alarms.jsonl")
    expect_of: dict[tuple, list[int]] = {}
    allowed: set[tuple] = set()
    for i, f in enumerate(faults):
        for k in f.expect:
            expect_of.setdefault(truth_key(k), []).append(i)
        for k in f.allow:
            allowed.add(truth_key(k))
    matched: set[tuple] = set()
    unexplained: list[dict[str, Any]] = []
    alarms_by_rule: dict[str, int] = {}
    false_by_rule: dict[str, int] = {}
    for a in alarms:
        rule = str(a.get("rule"))
        alarms_by_rule[rule] = alarms_by_rule.get(rule, 0) + 1
        hit = False
        for key in alarm_keys(a):
            if key in expect_of:
                matched.add(key)
                hit = True
            elif key in allowed:
                hit = True
        if not hit:
            false_by_rule[rule] = false_by_rule.get(rule, 0) + 1
            unexplained.append(a)
    detected = [bool(f.expect) and all(truth_key(k) in matched for k in f.expect) for f in faults]
    # Per primary rule.
    inj: dict[str, int] = {}
    det: dict[str, int] = {}
    for f, ok in zip(faults, detected):
        r = _primary(f)
        inj[r] = inj.get(r, 0) + 1
        det[r] = det.get(r, 0) + ok
    rules = [r for r in RULES if r in inj or r in alarms_by_rule]
    rules += sorted(r for r in set(inj) | set(alarms_by_rule) if r not in RULES and r != NO_RULE)
    if NO_RULE in inj:
        rules.append(NO_RULE)
    rows = [
        RuleRow(
            rule=r,
            record_level=r in RECORD_LEVEL_RULES or r == NO_RULE,
            injected=inj.get(r, 0),
            detected=det.get(r, 0),
            recall=_recall(det.get(r, 0), inj.get(r, 0)) if r != NO_RULE else None,
            alarms=alarms_by_rule.get(r, 0),
            false_alarms=false_by_rule.get(r, 0),
        )
        for r in rules
    ]
    # Per scenario.
    sc_inj: dict[str, int] = {}
    sc_det: dict[str, int] = {}
    for f, ok in zip(faults, detected):
        sc_inj[f.scenario] = sc_inj.get(f.scenario, 0) + 1
        sc_det[f.scenario] = sc_det.get(f.scenario, 0) + ok
    order = {name: i for i, name in enumerate(BY_NAME)}
    scen_rows = []
    for name in sorted(sc_inj, key=lambda n: order.get(n, 999)):
        info = BY_NAME.get(name)
        expects = any(f.expect for f in faults if f.scenario == name)
        scen_rows.append(
            ScenarioRow(
                scenario=name,
                primary_rule=(info.primary_rule or NO_RULE) if info else NO_RULE,
                record_level=info.record_level if info else True,
                injected=sc_inj[name],
                detected=sc_det[name],
                recall=_recall(sc_det[name], sc_inj[name]) if expects else None,
            )
        )
    rec = [(f, ok) for f, ok in zip(faults, detected) if f.expect and f.record_level]
    stat = [(f, ok) for f, ok in zip(faults, detected) if f.expect and not f.record_level]
    missed = [
        {
            "fault_id": f.fault_id,
            "scenario": f.scenario,
            "missing": [msgspec.to_builtins(k) for k in f.expect if truth_key(k) not in matched],
        }
        for f, ok in rec
        if not ok
    ][:MAX_LISTED]
    # Rejects.
    expected_rej = read_rejects(truth)
    found_rej: dict[str, int] = {}
    for rej in _read_jsonl(check_dir / "rejects.jsonl"):
        name = Path(str(rej.get("file", ""))).name
        found_rej[name] = found_rej.get(name, 0) + 1
    files = sorted(set(expected_rej) | set(found_rej))
    reject_files = [FileRejects(file=n, expected=expected_rej.get(n, 0), found=found_rej.get(n, 0)) for n in files]
    return EvalReport(
        data_dir=str(data_dir),
        check_dir=str(check_dir),
        faults=len(faults),
        detected=sum(detected),
        record_level_faults=len(rec),
        record_level_detected=sum(ok for _, ok in rec),
        all_record_level_detected=all(ok for _, ok in rec),
        statistical_faults=len(stat),
        statistical_detected=sum(ok for _, ok in stat),
        honest_cases=sum(not f.expect for f in faults),
        alarms=len(alarms),
        false_alarms=len(unexplained),
        rows=rows,
        scenarios=scen_rows,
        rejects_expected=sum(expected_rej.values()),
        rejects_found=sum(found_rej.values()),
        rejects_ok=all(fr.expected == fr.found for fr in reject_files),
        reject_files=reject_files,
        missed=missed,
        unexplained=unexplained[:MAX_LISTED],
        meters=_meters(truth, check_dir),
    )


def _meters(truth: Path, check_dir: Path) -> MeterEval | None:
    path = check_dir / "meters.jsonl"
    if not path.exists():
        return None
    true = {m.nozzle_id: m.error_permille for m in read_meters(truth)}
    est = {str(m.get("nozzle_id")): m for m in _read_jsonl(path)}
    errs, covered, n_ci = [], 0, 0
    for nid, m in est.items():
        if nid not in true or not isinstance(m.get("error_permille"), (int, float)):
            continue
        errs.append(abs(float(m["error_permille"]) - true[nid]))
        ci = m.get("ci95_permille")
        if isinstance(ci, list) and len(ci) == 2:
            n_ci += 1
            covered += float(ci[0]) <= true[nid] <= float(ci[1])
    beyond = {nid for nid, e in true.items() if abs(e) > 3.0}
    flagged = {nid for nid, m in est.items() if m.get("status") == "violation"}
    return MeterEval(
        nozzles_true=len(true),
        nozzles_estimated=len(errs),
        mae_permille=round(sum(errs) / len(errs), 4) if errs else None,
        ci95_coverage=round(covered / n_ci, 4) if n_ci else None,
        violations_true=len(beyond),
        violations_found=len(beyond & flagged),
        violations_false=len(flagged - beyond),
    )


def _l(key: str, lang: str, /, **params: Any) -> str:
    """The evaluation's words (the catalog's ``evaluation`` table) in ``lang``."""
    return render("evaluation", key, params, lang)


def render_evaluation(report: EvalReport, console: Console, lang: str = "zh") -> None:
    """Rich table per rule, then rejects and the verdict lines."""
    table = Table(title=_l("title", lang), show_lines=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("rule", "left"),
        ("level", "left"),
        ("injected", "right"),
        ("detected", "right"),
        ("recall", "right"),
        ("alarms", "right"),
        ("false", "right"),
    )
    for key, justify in columns:
        table.add_column(_l(key, lang), justify=justify)
    for r in report.rows:
        level_key = "none" if r.rule == NO_RULE else ("record" if r.record_level else "stat")
        level = _l(level_key, lang)
        recall = "—" if r.recall is None else f"{r.recall:.1%}"
        style = "red" if (r.recall is not None and r.recall < 1 and r.record_level) else None
        fa = f"[red]{r.false_alarms}[/red]" if r.false_alarms else "0"
        rule = (RULE_NAMES_EN if lang == "en" else RULE_NAMES_ZH).get(r.rule, r.rule)
        table.add_row(rule, level, str(r.injected), str(r.detected), recall, str(r.alarms), fa, style=style)
    console.print(table)
    ok = "[green]✓[/green]" if report.all_record_level_detected else "[red]✗[/red]"
    console.print(_l("all_rec", lang, ok=ok, detected=report.record_level_detected, faults=report.record_level_faults))
    colour = "red" if report.false_alarms else "green"
    console.print(_l("false_total", lang, false=f"[{colour}]{report.false_alarms}[/{colour}]", alarms=report.alarms))
    rj = "[green]✓[/green]" if report.rejects_ok else "[red]✗[/red]"
    console.print(_l("rejects", lang, expected=report.rejects_expected, found=report.rejects_found, ok=rj))
    for fr in report.reject_files:
        if fr.expected != fr.found:
            console.print(f"  {fr.file}: {fr.expected} ≠ {fr.found}")
    if report.meters is not None:
        m = report.meters
        mae = "—" if m.mae_permille is None else f"{m.mae_permille:.3f}‰"
        cov = "—" if m.ci95_coverage is None else f"{m.ci95_coverage:.1%}"
        console.print(
            _l(
                "meters",
                lang,
                estimated=m.nozzles_estimated,
                nozzles=m.nozzles_true,
                mae=mae,
                coverage=cov,
                found=m.violations_found,
                violations=m.violations_true,
                false=m.violations_false,
            )
        )
