"""Incidents (事件): repeated alarms of one nozzle — or of the station, for alarms about
no nozzle — grouped while the incident is open, so the console shows one thing to
handle instead of a stream.

* A new alarm joins the open incident of its (station, nozzle), extending it (its
  ``last_ts_us``, one more alarm), or opens one; its ``alarm_states`` row (created as
  ``new`` if there is none) points at the incident.
* Attaching is idempotent: an alarm already in an incident is left alone, and so is an
  alarm already closed (confirmed or false alarm) — it has nothing left to group.
* An incident closes when all its alarms are terminal (``apply`` calls
  ``close_if_done``); the next alarm of that nozzle opens a new one.
* There is no time window: an incident stays open as long as one of its alarms is.

Wiring: ``service.subscribe(incident_listener(store))`` on the IngestService, and
``backfill_incidents(store, now_us=…)`` once for alarms raised before.

The statements are :mod:`anxin.workflow.service`'s (attaching, backfilling, closing an
incident), re-exported here under their old names.
"""

from __future__ import annotations

from collections.abc import Callable

from anxin.contract.alarm import Alarm
from anxin.store.database import Store
from anxin.store.database import now_us as wall_clock_us
from anxin.workflow.service import attach_incidents, backfill_incidents, close_if_done

__all__ = ["attach_incidents", "backfill_incidents", "close_if_done", "incident_listener"]


def incident_listener(store: Store, *, clock: Callable[[], int] = wall_clock_us) -> Callable[[list[Alarm]], None]:
    """A listener for ``IngestService.subscribe``: attaches the new alarms it is given."""

    def listener(alarms: list[Alarm]) -> None:
        if alarms:
            attach_incidents(store, alarms, now_us=clock())

    return listener
