"""审计日志 (audit log): every change anyone makes — who, when, what, why — hash-chained so
that an edited, deleted or reordered entry is found. See :mod:`anxin.audit.chain`.

The chain (content, hashing, checks) is :mod:`anxin.audit.chain`, which needs no
database; the statements are :mod:`anxin.audit.service` (writing) and
:mod:`anxin.audit.queries` (reading) — the only modules here that speak SQL. They import
the chain's parts, so ``chain`` re-exports them at its end, and it is imported first."""

from anxin.audit.chain import (
    ZERO_HASH,
    AuditEntry,
    AuditReport,
    append,
    canonical,
    entries,
    entry_hash,
    head,
    record,
    verify,
)

__all__ = [
    "ZERO_HASH",
    "AuditEntry",
    "AuditReport",
    "append",
    "canonical",
    "entries",
    "entry_hash",
    "head",
    "record",
    "verify",
]
