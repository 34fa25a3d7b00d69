"""Automatic tank gauges (液位仪) the edge agent reads directly, as they are installed.

A gauge adapter (:class:`Gauge`) answers two questions in SI units with the console's
own clock: what is in each tank now (:class:`Level`), and which deliveries it recorded
(:class:`Unload`). :mod:`anxin.edge.gauges.records` turns the answers into the
contract's ``tank_reading`` and ``delivery`` records; :mod:`anxin.edge.gauges.poller`
queues them in the outbox on an interval. Veeder-Root TLS-3xx/4xx is the first
adapter (:mod:`anxin.edge.gauges.veeder_root`); another make fits by implementing
:class:`Gauge`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from anxin.keyed import KeyedError


class GaugeError(Exception):
    """The gauge could not be asked or its answer could not be read (the text names why;
    it goes to the log, the agent carries on)."""


class GaugeConfigError(KeyedError):
    """The gauges' configuration file is wrong (worded from the catalog's ``gauge_error``)."""

    context = "gauge_error"


@dataclass(frozen=True, slots=True)
class Level:
    """A tank's state as the gauge measured it (console local time, SI units)."""

    tank: int  # the gauge's tank number
    at: datetime  # naive: the console's local time
    level_mm: float
    water_mm: float
    temp_c: float
    status: int = 0


@dataclass(frozen=True, slots=True)
class Unload:
    """A delivery (卸油) the gauge recorded: gross volume increase in litres."""

    tank: int
    start: datetime
    end: datetime
    volume_l: float
    start_volume_l: float
    end_volume_l: float


@dataclass(frozen=True, slots=True)
class Answer:
    """What a gauge said: its clock when it answered, the items it could read, and what
    was wrong with the others (one text each, naming the tank)."""

    at: datetime
    items: tuple = ()
    problems: tuple[str, ...] = field(default=())


class Gauge(Protocol):
    name: str

    def levels(self) -> Answer:
        """The tanks now (items: :class:`Level`). Raises :class:`GaugeError`."""
        ...

    def unloads(self) -> Answer:
        """The deliveries the gauge remembers (items: :class:`Unload`). Raises :class:`GaugeError`."""
        ...

    def close(self) -> None: ...
