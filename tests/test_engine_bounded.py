"""Per-nozzle state is bounded: it follows the retention window and what is
pending inside the horizons, not the length of history."""

from __future__ import annotations

from factory import T0, City, run

from anxin.contract.times import US_PER_H
from anxin.engine import EngineSettings


def state_size(engine) -> int:
    size = 0
    for nz in engine.nozzles.values():
        size += len(nz.seqs) + len(nz.meters) + len(nz.sales) + len(nz.missing)
    for st in engine.stations.values():
        size += len(st.heap) + len(st.orders) + len(st.seen) + sum(map(len, st.readings.values()))
    return size


def test_state_stops_growing_after_the_retention_window() -> None:
    city = City()
    settings = EngineSettings(retention_us=6 * US_PER_H)
    recs: list[dict] = []
    sizes = []
    for day in range(6):
        recs += city.honest_day("S1-N1", T0 + day * 24 * US_PER_H, 60, gap_min=12)
        book = run(city.registry(), recs, settings=settings)
        sizes.append(state_size(book.engine))
    # two days of data are already more than the window: the state no longer grows
    assert max(sizes[2:]) <= sizes[1] + 60
    assert sizes[-1] < len(recs) / 4
    assert book.alarms == {}
