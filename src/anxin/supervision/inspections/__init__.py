"""Inspections (检查): scheduling, 你点我检 requests, the visit with its checklist and test
fill, rectification orders (整改) and the queries the console needs.

Kinds: ``routine`` (日常), ``unannounced`` (四不两直), ``citizen`` (你点我检: the
citizen's nozzle), ``follow_up`` (复查, of an earlier inspection). Statuses: ``planned``
→ ``done`` (the graph is :mod:`anxin.supervision.lifecycle`'s). A visit records every
checklist item; the test fill's error is computed exactly as a verification's (JJG 443,
:func:`anxin.verification.evaluate_verification`, the product's expansion coefficient
from the registry) and sets ``test_fill_within_mpe`` (±3‰). Every failed item becomes a
rectification order with a deadline (now + 10 days). Only a follow-up visit whose items
are all ok closes the open rectifications of the inspection it follows up. Every change
is one transaction with one audit entry.

A rectification order keeps its finding as parts, not as a sentence
(:mod:`anxin.supervision.parts`): :func:`finding_text` words it in the reader's language
from the catalog (one stored before as a Chinese sentence is shown as written). A
checklist item keeps the note typed for it as typed and what the platform says of it
(the test fill's error and limit, or that none was done) as parts next to it
(``{"ok", "note", "parts": {"key", "params"}}``), worded by :func:`checklist_note`.

Unannounced stays unannounced (四不两直): the station's side — an operator's console
(``station_view=True``) and the station's public page — sees an ``unannounced`` or
``citizen`` inspection only once its visit is recorded (``visited_us``), and a 你点我检
request only once it is done; before, the queries here do not return them (``get``
answers None, as for an inspection that does not exist). Regulators and inspectors see
everything. The rule is in these queries (:mod:`.queries`), not in the pages that show them.

The words, the checklist, the test fill's computation and the checks of a visit are
here; scheduling and the visit are written by :mod:`.service`, read by :mod:`.queries` —
both re-exported here, so ``inspections.schedule`` is what it was.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from anxin.contract.records import Verification, VerificationRun
from anxin.contract.registry import Registry
from anxin.i18n.po import table
from anxin.supervision import parts
from anxin.supervision._common import SupervisionError, need_text
from anxin.supervision.errors import Words, joined, word, words_table
from anxin.supervision.lifecycle import INSPECTION_STATUSES
from anxin.verification import DEFAULT_LIMITS, beta_for_product, evaluate_verification

KINDS = ("routine", "unannounced", "citizen", "follow_up")
HIDDEN_UNTIL_VISITED = ("unannounced", "citizen")  # never announced to the station before the visit
KIND_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("inspection_kind").items()}
STATUSES = INSPECTION_STATUSES  # the lifecycle's, under this module's old name
STATUS_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("inspection_status").items()}
# The same in English (a refusal names them in the reader's language).
KIND_EN: dict[str, str] = {k: en for k, (_, en) in table("inspection_kind").items()}
STATUS_EN: dict[str, str] = {k: en for k, (_, en) in table("inspection_status").items()}

SEALS_INTACT = "seals_intact"
MODULE_REGISTERED = "module_registered"
CERTIFICATE_VALID = "certificate_valid"
CREDIT_COMMITMENT_POSTED = "credit_commitment_posted"
TEST_FILL_WITHIN_MPE = "test_fill_within_mpe"
CHECKLIST: dict[str, str] = {k: zh for k, (zh, _) in table("checklist").items()}
CHECKLIST_EN: dict[str, str] = {k: en for k, (_, en) in table("checklist").items()}
MANUAL_ITEMS = (SEALS_INTACT, MODULE_REGISTERED, CERTIFICATE_VALID, CREDIT_COMMITMENT_POSTED)
# A test fill run's quantities, as a refusal names them (JJG 443: V_B, V_J, t_B, t_J).
RUN_QUANTITIES: dict[str, Words] = words_table("run_quantity")


# ---------------------------------------------------------------------------- scheduling
def _planned(kind: str, station_id: str, inspector: str, scheduled_us: int) -> tuple[str, str]:
    """(station, inspector) of an inspection to plan, checked."""
    if kind not in KINDS:
        raise SupervisionError("bad_kind", field="kind", kinds=joined(Words(KIND_ZH[k], KIND_EN[k]) for k in KINDS))
    station = need_text(station_id, "station_id", max_chars=128)
    who = need_text(inspector, "inspector", max_chars=64)
    if type(scheduled_us) is not int or scheduled_us <= 0:
        raise SupervisionError("bad_time", field="scheduled_us")
    return station, who


# ---------------------------------------------------------------------------- the visit
def compute_test_fill(
    registry: Registry, nozzle_id: str, runs: Sequence[Mapping[str, Any]], *, ts_us: int
) -> dict[str, Any]:
    """The test fill's error, computed as a verification's (JJG 443): each run's standard
    volume corrected to the dispenser's conditions with the nozzle's product expansion,
    E = (V_J − V_B)/V_B, the mean per flow point (a run without ``flow_ml_per_min`` is
    taken at the nozzle's maximum flow). ``error`` is the flow-point error of largest
    magnitude; ``within_mpe`` whether every flow point is within ±3‰."""
    nozzle = registry.nozzle_by_id.get(nozzle_id)
    if nozzle is None:
        raise SupervisionError("unknown_nozzle", field="nozzle_id", nozzle_id=nozzle_id)
    if not runs:
        raise SupervisionError("no_runs", field="test_fill_runs")
    if len(runs) > 100:
        raise SupervisionError("too_many_runs", field="test_fill_runs")
    vr = []
    for i, r in enumerate(runs):
        field = f"test_fill_runs[{i}]"
        if not isinstance(r, Mapping):
            raise SupervisionError("bad_run.shape", field=field)
        vals = {}
        for k, quantity in RUN_QUANTITIES.items():
            v = r.get(k, nozzle.max_flow_ml_per_min if k == "flow_ml_per_min" else None)
            if type(v) not in (int, float) or not math.isfinite(v):
                raise SupervisionError("bad_run.not_finite", field=f"{field}.{k}", quantity=quantity)
            vals[k] = v
        if vals["standard_ml"] <= 0 or vals["indicated_ml"] <= 0 or vals["flow_ml_per_min"] <= 0:
            raise SupervisionError("bad_run.not_positive", field=field)
        vr.append(VerificationRun(**vals))
    product = registry.product_by_id.get(nozzle.product)
    beta = beta_for_product(product.expansion_ppm_per_c if product is not None else None)
    ts = datetime.fromtimestamp(ts_us / 1_000_000, tz=UTC)
    v = Verification(
        station_id=nozzle.station_id,
        nozzle_id=nozzle_id,
        ts=ts,
        type="periodic",
        org="inspection",
        certificate_no="",
        k_pulses_per_m3=nozzle.k_pulses_per_m3,
        valid_until=ts,
        runs=vr,
    )
    res = evaluate_verification(v, beta_y_per_c=beta)
    if not res.flow_points or len(res.runs) != len(vr):
        raise SupervisionError("bad_run.not_computable", field="test_fill_runs", reasons=_fill_reasons(res.reasons))
    worst = max(res.flow_points, key=lambda p: abs(p.error))
    return {
        "runs": [dict(r) for r in runs],
        "beta_y_per_c": beta,
        "run_errors_permille": [x.error_permille for x in res.runs],
        "flow_points": [
            {"flow_ml_per_min": p.flow_ml_per_min, "runs": p.runs, "error": p.error, "error_permille": p.error_permille}
            for p in res.flow_points
        ],
        "error": worst.error,
        "error_permille": worst.error_permille,
        "mpe_permille": DEFAULT_LIMITS.mpe * 1000,
        "within_mpe": all(p.passes_mpe for p in res.flow_points),
    }


_RUN_REASON = re.compile(r"run (\d+): ")


def _fill_reasons(reasons: Sequence[str]) -> Words:
    """Why a test fill cannot be computed: the verification's reasons (English), and in
    Chinese the runs it had to leave out (its reasons number them "run <n>: …")."""
    runs = [m.group(1) for m in map(_RUN_REASON.match, reasons) if m is not None]
    zh = f"第 {'、'.join(runs)} 次测试加油数据无效" if runs else "没有有效的测试加油数据"
    return Words(zh, "; ".join(reasons) or "no valid runs")


def _checklist(checklist: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if not isinstance(checklist, Mapping):
        raise SupervisionError("bad_checklist", field="checklist")
    out: dict[str, dict[str, Any]] = {}
    for item, value in checklist.items():
        if item not in CHECKLIST:
            raise SupervisionError("unknown_item", field=f"checklist.{item}", item=item)
        if isinstance(value, Mapping):
            ok, note = value.get("ok"), value.get("note", "")
        else:
            try:
                ok, note = value
            except (TypeError, ValueError):
                raise SupervisionError("bad_item.shape", field=f"checklist.{item}") from None
        if type(ok) is not bool:
            raise SupervisionError("bad_item.no_verdict", field=f"checklist.{item}")
        what = word("checklist_note", item=Words(CHECKLIST[item], CHECKLIST_EN[item]))
        note_v = (
            ""
            if note is None or not str(note).strip()
            else need_text(note, f"checklist.{item}", max_chars=1000, what=what)
        )
        out[item] = {"ok": ok, "note": note_v}
    missing = [k for k in MANUAL_ITEMS if k not in out]
    if missing:
        raise SupervisionError(
            "missing_item",
            field=f"checklist.{missing[0]}",
            items=joined((Words(CHECKLIST[k], CHECKLIST_EN[k]) for k in missing), zh_sep="、", en_sep="; "),
        )
    return out


def _fill_item(fill: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The ``test_fill_within_mpe`` item from the computed test fill: the note given for
    it (if any) as typed, the error and its limit as parts (worded by :func:`checklist_note`)."""
    said = {"error_permille": fill["error_permille"], "mpe_permille": fill["mpe_permille"]}
    return {"ok": bool(fill["within_mpe"]), "note": given["note"] if given else "", "parts": _said("test_fill", said)}


def _said(key: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "params": params}


def _fill_note(fill: Mapping[str, Any], note: str, lang: str) -> str:
    """The test fill's error and its limit, then the note given for it (if any)."""
    i = 0 if lang == "zh" else 1
    words = table("rectification_finding")
    error = words["test_fill_error"][i].format(
        error=f"{float(fill['error_permille']):+.3f}", limit=f"{float(fill['mpe_permille']):g}"
    )
    return words["error_and_note"][i].format(error=error, note=note) if note else error


def _checked(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every checklist item, in the checklist's order (a test fill neither done nor given:
    not tested)."""
    items.setdefault(TEST_FILL_WITHIN_MPE, {"ok": None, "note": "", "parts": _said("not_tested", {})})
    return {k: items[k] for k in CHECKLIST}  # in the checklist's order


def checklist_note(item: Mapping[str, Any], lang: str = "zh") -> str:
    """A checklist item's note in ``lang`` (``zh`` | ``en``): what the platform says of it
    (the test fill's error and limit, or that none was done) worded from the item's parts,
    then the note as typed. An item stored before its parts were (the test fill's words
    as a Chinese sentence in its note) is shown as written, in either language."""
    note = str(item.get("note") or "")
    said = item.get("parts")
    if not isinstance(said, Mapping) or not isinstance(said.get("params"), Mapping):
        return note
    key, params = said.get("key"), said["params"]
    try:
        if key == "test_fill":
            return _fill_note(params, note, lang)
        entry = table("checklist_note").get(str(key))
    except (KeyError, TypeError, ValueError):  # a shape this catalog does not know
        return note
    if entry is None:
        return note
    words = entry[0 if lang == "zh" else 1].format(**params)
    if not note:
        return words
    return table("rectification_finding")["error_and_note"][0 if lang == "zh" else 1].format(error=words, note=note)


def _finding(item: str, note: str, fill: Mapping[str, Any] | None = None) -> str:
    """The rectification order's finding of a failed item, as parts
    (:mod:`anxin.supervision.parts`): the item, the note typed for it and, for a computed
    test fill, its error and limit (‰)."""
    more = {} if fill is None else {"error_permille": fill["error_permille"], "mpe_permille": fill["mpe_permille"]}
    return parts.dump("failed", item=item, note=note, **more)


def finding_text(finding: str | None, lang: str = "zh") -> str:
    """A rectification order's finding as stored, in ``lang`` (``zh`` | ``en``) —
    ``<checklist item>：不合格（<note>）`` — worded from its parts; the note stays as typed.
    A finding stored before as a Chinese sentence is shown as written, in either language."""
    got = parts.load(finding)
    said = None if got is None else finding_words(*got, lang)
    return (finding or "") if said is None else said


def finding_words(key: str, params: Mapping[str, Any], lang: str = "zh") -> str | None:
    """A finding worded from its parts (None for parts this catalog does not know)."""
    i = 0 if lang == "zh" else 1
    code = str(params.get("item", ""))
    item = (CHECKLIST if i == 0 else CHECKLIST_EN).get(code, code)
    note = str(params.get("note") or "")
    try:
        if "error_permille" in params:
            note = _fill_note(params, note, lang)
        entry = table("rectification_finding").get(f"{key}_note" if note else key)
        return None if entry is None else entry[i].format(item=item, note=note)
    except (KeyError, TypeError, ValueError):  # a shape this catalog does not know
        return None


# The statements (they use the words and checks above: imported last).
from anxin.supervision.inspections.queries import (  # noqa: E402
    citizen_requests,
    get,
    listing,
    open_rectifications,
    stations_without_inspection,
)
from anxin.supervision.inspections.service import (  # noqa: E402
    citizen_request,
    record_visit,
    schedule,
    schedule_citizen,
)

__all__ = [
    "CERTIFICATE_VALID",
    "CHECKLIST",
    "CHECKLIST_EN",
    "CREDIT_COMMITMENT_POSTED",
    "HIDDEN_UNTIL_VISITED",
    "KINDS",
    "KIND_EN",
    "KIND_ZH",
    "MANUAL_ITEMS",
    "MODULE_REGISTERED",
    "RUN_QUANTITIES",
    "SEALS_INTACT",
    "STATUSES",
    "STATUS_EN",
    "STATUS_ZH",
    "TEST_FILL_WITHIN_MPE",
    "citizen_request",
    "checklist_note",
    "citizen_requests",
    "compute_test_fill",
    "finding_text",
    "finding_words",
    "get",
    "listing",
    "open_rectifications",
    "record_visit",
    "schedule",
    "schedule_citizen",
    "stations_without_inspection",
]
