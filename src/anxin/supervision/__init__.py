"""监管 (supervision): complaints (投诉举报) and inspections (检查), with their audit trail.

Use the modules: ``from anxin.supervision import complaints, inspections``.
(Other modules of this package — cases, risk, bundle — add their own re-exports here.)

Layout: each concept that keeps data — ``complaints``, ``inspections``, ``cases``,
``risk``, ``bundle``, ``signing`` — is a package of the same shape::

    <concept>/__init__.py   its words, checks and computations (no database), and at its
                            end the re-exports of the two below, so ``complaints.submit``,
                            ``cases.get``… are where callers always found them
    <concept>/queries.py    what it reads (listings, what a computation needs)
    <concept>/service.py    what it writes, each change in one transaction (with its audit
                            entry where a person changed something); ``bundle`` only reads

``queries`` and ``service`` import the concept's ``__init__`` for its words and checks (a
package's ``__init__`` runs before its modules, so they never find it half-made). What
the concepts share: :mod:`._common` (settings, the error, text checks), :mod:`.queries`
(an audit history, the ``IN`` filter), :mod:`.service` (the audit adapter);
:mod:`.errors`, :mod:`.lifecycle` and :mod:`.timestamp` need no database. SQL is only in
the ``queries`` and ``service`` modules (the import-linter contract in ``pyproject.toml``).
"""

from anxin.supervision import complaints, inspections
from anxin.supervision._common import DEFAULT_SETTINGS, SupervisionError, SupervisionSettings
from anxin.supervision.complaints import Attachment
from anxin.supervision.errors import Refusal
from anxin.supervision.inspections import CHECKLIST

__all__ = [
    "CHECKLIST",
    "DEFAULT_SETTINGS",
    "Attachment",
    "Refusal",
    "SupervisionError",
    "SupervisionSettings",
    "complaints",
    "inspections",
]
