"""Roles and permissions (角色与权限), as data.

============================  =====  =========  =========  ========  ======
permission                    admin  regulator  inspector  operator  public
============================  =====  =========  =========  ========  ======
``public.view``               ✓      ✓          ✓          ✓         ✓
``complaint.submit``          ✓      ✓          ✓          ✓         ✓
``alarm.view``                ✓      ✓          ✓          own       ·
``alarm.triage``              ·      ✓          ·          ·         ·
``alarm.report``              ·      ·          ✓          ·         ·
``registry.view``             ✓      ✓          ✓          own       ·
``registry.edit``             ✓      ✓          ·          ·         ·
``verification.view``         ✓      ✓          ✓          own       ·
``verification.edit``         ·      ✓          ✓          ·         ·
``complaint.view``            ·      ✓          ✓          ·         ·
``complaint.contact``         ·      ✓          ·          ·         ·
``user.manage``               ✓      ·          ·          ·         ·
``audit.view``                ✓      ✓          ·          ·         ·
``export.agency``             ·      ✓          ·          ·         ·
============================  =====  =========  =========  ========  ======

* ``admin`` (系统管理员) runs the system: accounts, the registry, the audit log. It does
  not triage alarms or enter verification records (separation of duties: those are a
  regulator's or inspector's acts, under their own name).
* ``regulator`` (监管人员): ``alarm.triage`` = acknowledge, dispatch to an inspector, close.
* ``inspector`` (检查人员): ``alarm.report`` = the on-site result of a work order;
  enters and imports verification (检定) records.
* ``operator`` (加油站经营者): "own" = only the stations listed in its ``stations``
  (:func:`station_scope`); an operator with no stations sees nothing.
* ``export.agency``: the tax and commerce exports (:mod:`anxin.exports`), handed to
  another agency — a regulator's act of disclosure; a regulator with a ``district``
  exports that district's stations only. Another agency's system pulls them with a
  token an administrator issues (``anxin export token``), not with an account.
* ``complaint.contact``: a complainant's contact (personal data, kept apart from the
  complaint): a regulator, who answers the complainant; an inspector only for a complaint
  assigned to them (:func:`anxin.supervision.complaints.service.may_see_contact`); every
  view in the audit log.
* the public (公众, no account, ``user is None``): public pages and the complaint form.

``district`` is carried on the user for the console to narrow a regulator's or
inspector's default views; it is not an access limit here, except for the agency
exports (:func:`anxin.exports.service.user_scope`).
"""

from __future__ import annotations

from types import MappingProxyType

import msgspec

from anxin.i18n.po import table

ADMIN, REGULATOR, INSPECTOR, OPERATOR, PUBLIC = "admin", "regulator", "inspector", "operator", "public"
ROLES: tuple[str, ...] = (ADMIN, REGULATOR, INSPECTOR, OPERATOR)  # the roles an account can have

ROLE_NAMES_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("role").items()}
ROLE_NAMES_EN: dict[str, str] = {k: en for k, (_, en) in table("role").items()}

PERMISSIONS: frozenset[str] = frozenset(
    {
        "public.view",
        "complaint.submit",
        "alarm.view",
        "alarm.triage",
        "alarm.report",
        "registry.view",
        "registry.edit",
        "verification.view",
        "verification.edit",
        "complaint.view",
        "complaint.contact",
        "user.manage",
        "audit.view",
        "export.agency",
    }
)

_EVERYONE = frozenset({"public.view", "complaint.submit"})
ROLE_PERMISSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        ADMIN: _EVERYONE
        | {"alarm.view", "registry.view", "registry.edit", "verification.view", "user.manage", "audit.view"},
        REGULATOR: _EVERYONE
        | {
            "alarm.view",
            "alarm.triage",
            "registry.view",
            "registry.edit",
            "verification.view",
            "verification.edit",
            "complaint.view",
            "complaint.contact",
            "audit.view",
            "export.agency",
        },
        INSPECTOR: _EVERYONE
        | {"alarm.view", "alarm.report", "registry.view", "verification.view", "verification.edit", "complaint.view"},
        OPERATOR: _EVERYONE | {"alarm.view", "registry.view", "verification.view"},
        PUBLIC: _EVERYONE,
    }
)

assert all(p <= PERMISSIONS for p in ROLE_PERMISSIONS.values())


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    username: str
    display_name: str
    role: str  # one of ROLES
    stations: list[str] = msgspec.field(default_factory=list)  # an operator's stations; [] otherwise
    district: str | None = None


def role_of(user: User | None) -> str:
    return PUBLIC if user is None else user.role


def can(user: User | None, permission: str) -> bool:
    """May ``user`` (None = the public) do ``permission``? An unknown permission name is
    an error (a typo must not quietly deny — or be mistaken for a check that passed)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role_of(user), frozenset())


def station_scope(user: User | None) -> frozenset[str] | None:
    """The stations ``user`` may see: None = all of them; an operator → its own (empty:
    none); the public → none (public pages show public data without a scope)."""
    if user is None:
        return frozenset()
    if user.role == OPERATOR:
        return frozenset(user.stations)
    if user.role in ROLES:
        return None
    return frozenset()  # a role this code does not know sees nothing
