"""Retention per data class and the purge that honours legal holds (docs/privacy.md):
:mod:`~anxin.retention.periods` (the periods, pure), :mod:`~anxin.retention.queries`
(what is due, what is held), :mod:`~anxin.retention.service` (the purge, audited)."""
