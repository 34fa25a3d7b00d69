"""监管 (supervision): complaints (投诉举报) and inspections (检查), with their audit trail.

Use the modules: ``from anxin.supervision import complaints, inspections``.
(Other modules of this package — cases, risk, bundle — add their own re-exports here.)
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
