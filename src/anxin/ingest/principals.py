"""Who may send what (contract v1.1 §C, provenance): the principal behind an upload,
the record kinds it may send, and who sent a record already in the ledger.

=============  ==============================================  ==========================
principal      authenticated by                                may send
=============  ==============================================  ==========================
station        its API token (``anxin token S0001``)           ``metering``, ``event``,
                                                               ``settlement``,
                                                               ``tank_reading``,
                                                               ``delivery`` — of that
                                                               station only
institute      its API token (``anxin token --institute``),    ``verification`` (any
               and its signature where the registry lists      station's nozzles)
               ``institutes`` (v1 §4, like a module record)
console user   the console session (regulator, inspector:      ``verification`` (hand
               ``verification.edit``), audited                 entry, CSV import)
replay         nothing: an in-process caller of the            every kind, as
               platform's own (the demo's replay, a test, an   ``anxin check`` reads a
               import of a data set); never a network path     data directory
=============  ==============================================  ==========================

A record a principal may not send is rejected with that reason, whatever it contains
(a verification sent with a station's credentials: rejected, never judged). The ledger
keeps who sent each record in its ``source``: ``http:S0001`` / ``mqtt:S0001`` (the
station's token), ``institute:I01`` (an institute's token), ``form:zhang`` /
``csv:zhang`` (a console user), anything else (a replay: ``demo:…``, ``test``…).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from anxin.contract.registry import Registry

STATION_KINDS = frozenset({"metering", "event", "settlement", "tank_reading", "delivery"})
VERIFICATION = "verification"

Role = Literal["station", "institute", "console", "replay"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an upload comes from. ``id``: the station, the institute or the username."""

    role: Role
    id: str

    @classmethod
    def station(cls, station_id: str) -> Principal:
        return cls("station", station_id)

    @classmethod
    def institute(cls, institute_id: str) -> Principal:
        return cls("institute", institute_id)

    @classmethod
    def console(cls, username: str) -> Principal:
        return cls("console", username)

    def refusal(self, kind: str, *, record_institute: str | None = None) -> str | None:
        """Why this principal may not send a record of ``kind`` (None: it may), starting
        with ``not permitted:``. ``record_institute``: the ``institute_id`` a
        verification names, if any."""
        if self.role == "replay":
            return None
        if self.role == "station":
            if kind in STATION_KINDS:
                return None
            if kind == VERIFICATION:
                return (
                    "not permitted: verification records come only from a verification institute, "
                    f"never with a station's credentials (station {self.id})"
                )
            return f"not permitted: a station's credentials may not send {kind!r} records"
        if kind != VERIFICATION:
            who = f"institute {self.id}" if self.role == "institute" else f"console user {self.id}"
            return f"not permitted: {who} may send verification records only, not {kind!r}"
        if self.role == "institute" and record_institute is not None and record_institute != self.id:
            return f"not permitted: record of institute {record_institute!r}, but the token is institute {self.id!r}'s"
        return None

    def source(self, channel: str = "http") -> str:
        """The ledger's ``source`` for a record this principal sent over ``channel``."""
        if self.role == "station":
            return f"{channel}:{self.id}"
        if self.role == "institute":
            return f"institute:{self.id}"
        if self.role == "console":
            return f"{channel}:{self.id}"
        return channel


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a record, as the register and the public page show it."""

    role: Literal["station", "institute", "console", "replay"]
    id: str
    name: str  # the institute's name, the username, the station id…
    trusted: bool  # False: a station sent it (refused today; kept from before §C)


def sender_of(source: str, registry: Registry | None = None, names: dict[str, str] | None = None) -> Sender:
    """Who sent a ledger record, from its ``source`` (see the module's table). A
    verification a station sent (before the platform refused them) is not trusted.
    ``names``: institute id → name, for institutes the registry does not list."""
    channel, _, rest = source.partition(":")
    if channel == "institute" and rest:
        name = None
        if registry is not None:
            inst = registry.institute_by_id.get(rest)
            name = inst.name if inst is not None else None
        return Sender("institute", rest, name or (names or {}).get(rest) or rest, True)
    if channel in ("form", "csv") and rest:
        return Sender("console", rest, rest, True)
    if channel in ("http", "mqtt") and rest:
        return Sender("station", rest, rest, False)
    return Sender("replay", source, source, True)


__all__ = ["Principal", "Sender", "STATION_KINDS", "sender_of"]
