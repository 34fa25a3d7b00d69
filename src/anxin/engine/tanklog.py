"""What the tank witness needs, collected as records are accepted: per tank, its
gauge readings, deliveries and the metered dispensings of the nozzles it feeds.

Kept in typed arrays (8 bytes a number) because a city-day holds millions of
them; ``window_us`` bounds it for the live service (older entries are dropped).
The statistics themselves live in ``engine.stats``.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

from anxin.contract.registry import Registry
from anxin.engine.gauge import place
from anxin.engine.stats import TankData


class TankLog:
    __slots__ = (
        "tank_id",
        "station_id",
        "r_t",
        "r_level",
        "r_water",
        "r_temp",
        "deliveries",
        "d_nozzle",
        "d_k",
        "d_t0",
        "d_t",
        "d_vol",
    )

    def __init__(self, tank_id: str, station_id: str) -> None:
        self.tank_id = tank_id
        self.station_id = station_id
        self.r_t = array("q")
        self.r_level = array("d")
        self.r_water = array("d")
        self.r_temp = array("d")
        self.deliveries: list[tuple[int, int, float]] = []
        self.d_nozzle = array("i")  # index into TankLogs.nozzle_ids
        self.d_k = array("q")
        self.d_t0 = array("q")
        self.d_t = array("q")
        self.d_vol = array("q")

    def prune(self, before: int) -> None:
        """Drop what ended before ``before`` (readings are in time order; the rest in
        arrival order, which is close to it)."""
        i = bisect_left(self.r_t, before)
        if i:
            for a in (self.r_t, self.r_level, self.r_water, self.r_temp):
                del a[:i]
        j = _first_at_or_after(self.d_t, before)
        if j:
            for a in (self.d_nozzle, self.d_k, self.d_t0, self.d_t, self.d_vol):
                del a[:j]
        self.deliveries = [d for d in self.deliveries if d[1] >= before]


def _first_at_or_after(a: array, t: int) -> int:
    for i, v in enumerate(a):
        if v >= t:
            return i
    return len(a)


class TankLogs:
    def __init__(self, registry: Registry) -> None:
        self.reg = registry
        self.logs: dict[str, TankLog] = {}
        self.nozzle_ids: list[str] = []
        self._nozzle_index: dict[str, int] = {}
        # the register's passing verifications: nozzle → [(ts, K, error ‰, SD ‰)]
        self.verified: dict[str, list[tuple[int, int, float, float]]] = {}

    def _log(self, tank_id: str) -> TankLog:
        log = self.logs.get(tank_id)
        if log is None:
            log = self.logs[tank_id] = TankLog(tank_id, self.reg.tank_by_id[tank_id].station_id)
        return log

    def reading(self, tank_id: str, t: int, level_um: float, water_um: float, temp_mc: float, gap_us: int = 0) -> bool:
        """Keep a reading, in time order, unless the window already holds one less than
        ``gap_us`` away (False). The engine's own index of readings refuses those within its
        retention; this holds for the whole window, so readings sent again once the
        engine has forgotten their neighbours do not pile up (engine/gauge.py)."""
        log = self._log(tank_id)
        i = place(log.r_t, t, gap_us)
        if i is None:
            return False
        log.r_t.insert(i, t)
        log.r_level.insert(i, level_um)
        log.r_water.insert(i, water_um)
        log.r_temp.insert(i, temp_mc)
        return True

    def delivery(self, tank_id: str, t0: int, t: int, volume_ml: float) -> None:
        self._log(tank_id).deliveries.append((t0, t, float(volume_ml)))

    def dispensing(self, tank_id: str, nozzle_id: str, k: int, t0: int, t: int, volume_ml: int) -> None:
        if tank_id not in self.reg.tank_by_id:
            return
        idx = self._nozzle_index.get(nozzle_id)
        if idx is None:
            idx = self._nozzle_index[nozzle_id] = len(self.nozzle_ids)
            self.nozzle_ids.append(nozzle_id)
        log = self._log(tank_id)
        log.d_nozzle.append(idx)
        log.d_k.append(k)
        log.d_t0.append(t0)
        log.d_t.append(t)
        log.d_vol.append(volume_ml)

    def verification(self, nozzle_id: str, t: int, k: int, error_permille: float, sd_permille: float) -> None:
        """A passing verification: the witness's second anchor for that nozzle and K."""
        if not hasattr(self, "verified"):  # a checkpoint from before the register anchor
            self.verified = {}
        lst = self.verified.setdefault(nozzle_id, [])
        lst.append((t, k, error_permille, sd_permille))
        lst.sort()

    def _verified(self, nozzles: set[tuple[str, int]], hi: int) -> list[tuple[str, int, float, float]]:
        """The latest verification before ``hi`` of each nozzle segment in the data."""
        reg = getattr(self, "verified", {})
        out = []
        for nz, k in sorted(nozzles):
            found = [v for v in reg.get(nz, ()) if v[1] == k and v[0] < hi]
            if found:
                out.append((nz, k, found[-1][2], found[-1][3]))
        return out

    def tank_data(self, tank_id: str, since: int | None = None, until: int | None = None) -> TankData:
        """The estimator's input for one tank, restricted to event times in
        [since, until) when given (a reading by its time, a dispensing or delivery by
        its end); a nozzle's K factor is its segment."""
        log = self.logs[tank_id]
        tank = self.reg.tank_by_id[tank_id]
        product = self.reg.product_by_id.get(tank.product)
        names = self.nozzle_ids
        lo = -(1 << 62) if since is None else since
        hi = 1 << 62 if until is None else until
        rows = [i for i, t in enumerate(log.r_t) if lo <= t < hi]
        disp = [
            (names[n], k, t0, t, v)
            for n, k, t0, t, v in zip(log.d_nozzle, log.d_k, log.d_t0, log.d_t, log.d_vol)
            if lo <= t < hi
        ]
        return TankData(
            tank_id=tank_id,
            station_id=log.station_id,
            chart=[(int(a), int(b)) for a, b in tank.chart],
            expansion_ppm_per_c=product.expansion_ppm_per_c if product else 1200,
            reading_t=[log.r_t[i] for i in rows],
            reading_level_um=[log.r_level[i] for i in rows],
            reading_water_um=[log.r_water[i] for i in rows],
            reading_temp_mc=[log.r_temp[i] for i in rows],
            deliveries=[d for d in log.deliveries if lo <= d[1] < hi],
            dispensings=disp,
            verified=self._verified({(d[0], d[1]) for d in disp}, hi),
        )

    def span(self, tank_id: str, since: int | None = None, until: int | None = None) -> tuple[int, int, int]:
        """(first, last, count) of the tank's reading times in [since, until)."""
        log = self.logs.get(tank_id)
        lo = -(1 << 62) if since is None else since
        hi = 1 << 62 if until is None else until
        ts = [t for t in log.r_t if lo <= t < hi] if log is not None else []
        return (min(ts), max(ts), len(ts)) if ts else (0, 0, 0)
