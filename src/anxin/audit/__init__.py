"""审计日志 (audit log): every change anyone makes — who, when, what, why — hash-chained so
that an edited, deleted or reordered entry is found. See :mod:`anxin.audit.chain`."""

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
