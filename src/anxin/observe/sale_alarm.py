"""Sale → alarm: how long after a sale reached the platform its alarm was stored and
announced (the core promise: "the moment they disagree").

Measured for the pairing rules only — the alarms about one sale — from the receipt of
the sale's first record the platform received (its metering record or its settlement,
whichever came first; the ledger's receipt time, the platform's clock) to the moment the
alarm was committed and handed to the listeners (SSE, webhooks). It therefore includes
the station's own delay in sending the other half of the pair and, for an unmatched
record, the pairing horizon the engine waits by design: a honest end-to-end figure, not
the processing time alone (that is ``anxin_ingest_line_seconds``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from anxin.contract.alarm import Alarm
from anxin.observe.metrics import Latency
from anxin.observe.queries import first_receipts
from anxin.store.database import Store

log = logging.getLogger("anxin.observe")
PAIRING_RULES = frozenset(
    {"VOLUME_MISMATCH", "AMOUNT_MISMATCH", "PRICE_MISMATCH", "UNMATCHED_SETTLEMENT", "UNMATCHED_METERING"}
)
MAX_PER_BATCH = 200  # alarms measured per announcement (a flood is sampled, not queried in full)


class SaleAlarmTimer:
    """An alarm listener (``IngestService.subscribe``): one indexed query per
    announcement that holds pairing alarms, none otherwise."""

    def __init__(self, store: Store, latency: Latency, clock: Callable[[], int], *, window_us: int) -> None:
        self.store, self.latency, self.clock, self.window_us = store, latency, clock, window_us

    def __call__(self, alarms: Sequence[Alarm]) -> None:
        now = self.clock()
        sales = [a for a in alarms if a.rule in PAIRING_RULES]
        if not sales:
            return
        measured = sales[:MAX_PER_BATCH]
        self.latency.sale_alarm_unmeasured.inc(len(sales) - len(measured))
        first = first_receipts(self.store, measured, window_us=self.window_us)
        for a in measured:
            received = first.get(a.alarm_id)
            if received is None:
                self.latency.sale_alarm_unmeasured.inc()
                continue
            self.latency.sale_alarm.labels(rule=a.rule).observe(max(0.0, (now - received) / 1e6))
