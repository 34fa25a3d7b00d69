"""The purge (清理): what is past its period goes, unless a legal hold keeps it.

* **Ledger rows** received before the ledger's period, and only those an engine no longer
  needs: at or below its newest checkpoint (``anxin serve``'s one engine, or each
  scale-out partition's), so a restore — that checkpoint and the rows after it — gives
  the same state. Rows held by an open case or complaint stay (:func:`.queries.holds`).
* **Alarms** raised before their period (with their triage state and webhook entries),
  unless held.
* **Rejects**, **sessions** (expired), finished **webhook deliveries**: past their period.
* **Complainants' personal data**: the contact of a complaint closed (a 你点我检 request
  done) before the period is erased, the numbers the detectors find in the complaint's
  text redacted, its files (photos, receipts) deleted unless an open case was opened
  from it; the complaint itself stays.

``dry_run`` counts and changes nothing. A purge that removed anything is one audit entry
(``retention.purge``: what went, the cutoffs, the holds), written after the deletes; one
that found nothing due writes none (the job runs daily: the log is not a heartbeat).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import delete, func, select, update

from anxin.audit.service import record
from anxin.privacy.detect import find
from anxin.privacy.policy import _replace
from anxin.retention import queries as Q
from anxin.retention.periods import Retention
from anxin.store import schema as T
from anxin.store.database import Store


class RetentionError(ValueError):
    """A period shorter than the law's floor: (class, days, floor) of each."""

    def __init__(self, problems: list[tuple[str, int, int]]) -> None:
        super().__init__("; ".join(f"{n}: {d} days < {f}" for n, d, f in problems))
        self.problems = problems


class PurgeReport(msgspec.Struct, kw_only=True):
    dry_run: bool
    now_us: int
    cutoffs: dict[str, int | None]  # class → time limit (µs); None: kept
    purged: dict[str, int]  # class → rows purged (or, dry run, due)
    held: dict[str, int]  # ledger / alarms rows past their period kept by a hold
    open_cases: list[int]
    open_complaints: list[int]
    checkpoints: dict[str, int]  # engine ("serve" or the partition) → its newest checkpoint's ledger id


def redact(text: str) -> str:
    """``text`` with each number the detectors find replaced by its kind."""
    found = find(text)
    return _replace(text, found, lambda f: f"[{f.kind}]") if found else text


def purge(
    store: Store, retention: Retention, *, now_us: int, dry_run: bool = False, actor: str = "system", reason: str
) -> PurgeReport:
    """Purge what ``retention`` says is past its period at ``now_us``. Raises
    :class:`RetentionError` when a period is below its floor (nothing is done)."""
    if problems := retention.problems():
        raise RetentionError(problems)
    cutoffs = {n: retention.cutoff_us(n, now_us) for n in msgspec.structs.asdict(retention)}
    hold = Q.holds(store, now_us=now_us)
    bounds = Q.checkpoint_bounds(store)
    purged: dict[str, int] = {}
    held: dict[str, int] = {"ledger": 0, "alarms": 0}
    L = T.ledger.c
    if (t := cutoffs["ledger"]) is not None:
        n = 0
        for ids in Q.ledger_due(store, before_us=t, bounds=bounds):
            go = [i for i in ids if i not in hold.ledger]
            held["ledger"] += len(ids) - len(go)
            n += len(go)
            if go and not dry_run:
                with store.engine.begin() as c:
                    c.execute(delete(T.ledger_skipped).where(T.ledger_skipped.c.ledger_id.in_(go)))
                    c.execute(delete(T.ledger).where(L.id.in_(go)))
        purged["ledger"] = n
    if (t := cutoffs["alarms"]) is not None:
        n = 0
        for alarm_ids in list(Q.alarms_due(store, before_us=t)):  # (read first: deleting moves no cursor)
            go_a = [a for a in alarm_ids if a not in hold.alarms]
            held["alarms"] += len(alarm_ids) - len(go_a)
            n += len(go_a)
            if go_a and not dry_run:
                with store.engine.begin() as c:
                    c.execute(delete(T.webhook_deliveries).where(T.webhook_deliveries.c.alarm_id.in_(go_a)))
                    c.execute(delete(T.alarm_states).where(T.alarm_states.c.alarm_id.in_(go_a)))
                    c.execute(delete(T.alarms).where(T.alarms.c.alarm_id.in_(go_a)))
        purged["alarms"] = n
    purged.update(Q.counts_before(store, cutoffs))
    files = [] if cutoffs["complainant"] is None else Q.complaint_files_due(store, before_us=cutoffs["complainant"])
    purged["complaint_files"] = _count_files(store, files)
    if not dry_run:
        _purge_simple(store, cutoffs)
        with store.engine.begin() as c:
            for chunk in Q._chunks(files):
                c.execute(delete(T.attachments).where(T.attachments.c.owner.in_(chunk)))
    report = PurgeReport(
        dry_run=dry_run,
        now_us=now_us,
        cutoffs=cutoffs,
        purged=purged,
        held=held,
        open_cases=hold.cases,
        open_complaints=hold.complaints,
        checkpoints={("serve" if k is None else str(k)): v for k, v in bounds.items()},
    )
    if not dry_run and any(purged.values()):
        data: dict[str, Any] = {
            "purged": purged,
            "held": held,
            "cutoffs_us": cutoffs,
            "open_cases": hold.cases[:200],
            "open_complaints": hold.complaints[:200],
        }
        record(
            store, actor=actor, action="retention.purge", subject="retention", reason=reason, data=data, now_us=now_us
        )
    return report


def _count_files(store: Store, owners: list[str]) -> int:
    A = T.attachments.c
    with store.engine.connect() as c:
        return sum(
            int(c.execute(select(func.count()).where(A.owner.in_(chunk))).scalar_one()) for chunk in Q._chunks(owners)
        )


def _purge_simple(store: Store, cutoffs: dict[str, int | None]) -> None:
    """Rejects, sessions, finished deliveries; complainants' contacts erased and their
    complaints' text redacted."""
    with store.engine.begin() as c:
        for name, cond in Q.conditions(cutoffs):
            table = Q.TABLES[name]
            if name == "complaint_contacts":
                co = T.complaints.c
                for cid, text in c.execute(select(co.id, co.text).where(cond)).all():
                    c.execute(update(T.complaints).where(co.id == cid).values(contact=None, text=redact(text)))
            elif name == "request_contacts":
                c.execute(update(table).where(cond).values(contact=None))
            else:
                c.execute(delete(table).where(cond))
