"""In-memory plan of one station over the simulated period (the simulator's own model).

A plan holds compact objects — one ``Disp`` per dispensing, one ``Ev`` per module
event — from which records are rendered day by day. Times are integer µs since
the epoch, always whole milliseconds (records carry milliseconds).
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY, US_PER_H, US_PER_MIN, US_PER_S
from anxin.crypto.schemes import Signer
from anxin.sim.signing import device_signer
from anxin.sim.specs import CityConfig, NozzleSpec, StationSpec

S, MIN, H, DAY = US_PER_S, US_PER_MIN, US_PER_H, US_PER_DAY
INJECT_MARGIN = 4 * H  # no fault in the last 4 hours of the period


def ms(us: float) -> int:
    """Whole milliseconds (floor), in µs."""
    x = int(us)
    return x - x % 1000


_DATE_PREFIX: dict[int, str] = {}


def fmt(us: int) -> str:
    """RFC 3339 in UTC+08:00 with milliseconds; the same text as ``format_ts`` (faster)."""
    day, rem = divmod(us + LOCAL_OFFSET_US, DAY)
    prefix = _DATE_PREFIX.get(day)
    if prefix is None:
        prefix = _DATE_PREFIX[day] = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
    sec, frac = divmod(rem, 1_000_000)
    h, sec = divmod(sec, 3600)
    m, sec = divmod(sec, 60)
    return f"{prefix}T{h:02d}:{m:02d}:{sec:02d}.{frac // 1000:03d}+08:00"


def local_date(cfg: CityConfig, t: int) -> str:
    """Local calendar date of ``t`` as YYYY-MM-DD."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=(t + LOCAL_OFFSET_US) // DAY)).isoformat()


def rhu(num: int, den: int) -> int:
    """round_half_up(num / den) for integers, num ≥ 0, den > 0."""
    return (2 * num + den) // (2 * den)


class Ev:
    """A module event (signed, shares the nozzle's seq)."""

    __slots__ = ("data", "event", "fault", "nz", "seq", "ts")

    def __init__(self, nz: NozzlePlan, ts: int, event: str, data: dict | None, fault: str | None):
        self.nz = nz
        self.seq = 0
        self.ts = ts
        self.event = event
        self.data = data
        self.fault = fault


class Disp:
    """One dispensing: its metering record, its sale and what a fault did to them."""

    __slots__ = (
        "amount",
        "busy",
        "end",
        "fault",
        "flow",
        "fx",
        "idx",
        "k",
        "mute_m",
        "mute_s",
        "nz",
        "order_id",
        "paid",
        "payment",
        "price",
        "pulses",
        "rec_end",
        "sale_ts",
        "sale_vol",
        "seq",
        "start",
        "tot0",
        "true_ml",
        "vol",
    )

    def __init__(
        self, nz: NozzlePlan, start: int, end: int, k: int, pulses: int, vol: int, true_ml: float, flow: float
    ) -> None:
        self.nz = nz
        self.idx = 0
        self.seq = 0
        self.start = start
        self.end = end
        self.rec_end = end
        self.flow = flow
        self.k = k
        self.pulses = pulses
        self.vol = vol
        self.true_ml = true_ml
        self.tot0 = 0
        self.order_id = ""
        self.sale_ts = 0
        self.sale_vol = 0
        self.price = 0
        self.amount = 0
        self.paid = 0
        self.payment = ""
        self.fault: str | None = None
        self.fx: dict[str, Any] | None = None
        self.mute_m = False  # metering record not sent (deleted_metering)
        self.mute_s = False  # no sale (off_book)
        self.busy = False  # involved in a fault: never resent, never a fault host again


class NozzlePlan:
    """A nozzle (or an unregistered ghost nozzle) with its timeline."""

    def __init__(
        self,
        spec: NozzleSpec | None,
        seed: int,
        *,
        nozzle_id: str = "",
        station_id: str = "",
        key_id: str = "",
        key_alg: str = "ed25519",
        k: int = 100_000,
        error0: float = 0.0,
        product: str = "92",
    ) -> None:
        self.spec = spec
        self.nozzle_id = spec.nozzle_id if spec else nozzle_id
        self.station_id = spec.station_id if spec else station_id
        self.key_id = spec.key_id if spec else key_id
        self.key_alg = spec.key_alg if spec else key_alg
        self.product = spec.product if spec else product
        self.k0 = spec.k if spec else k
        self.error0 = spec.error0 if spec else error0
        self.scenario = spec.scenario if spec else "unknown_device"
        self.p_phys = self.k0 * (1.0 + self.error0)  # physical pulses per true m³
        self.seed = seed
        self._signer: Signer | None = None
        self.k_from: list[int] = [-(2**62)]
        self.k_val: list[int] = [self.k0]
        self.windows: list[tuple[int, int]] = []  # out of service: no dispensing inside
        self.events: list[Ev] = []
        self.disps: list[Disp] = []
        self.items: list[Disp | Ev] = []
        self.params: dict[str, Any] = {}
        self.seq0 = 0
        self.tot_start = 0
        self.verifications: list[tuple[int, dict]] = []  # (ts, record) — authorising ones too
        self.unverified: list[tuple[int, int | None, str]] = []  # (from, until, why)

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = device_signer(self.seed, self.key_id, self.key_alg)
        return self._signer

    @property
    def clean(self) -> bool:
        return self.scenario is None

    def k_at(self, t: int) -> int:
        return self.k_val[bisect.bisect_right(self.k_from, t) - 1]

    def set_k(self, t: int, k: int) -> None:
        i = bisect.bisect_right(self.k_from, t)
        self.k_from.insert(i, t)
        self.k_val.insert(i, k)

    def free(self, a: int, b: int, margin: int = 10 * MIN) -> bool:
        return all(b + margin <= w0 or a - margin >= w1 for w0, w1 in self.windows)

    def block(self, a: int, b: int) -> None:
        self.windows.append((a, b))
        self.windows.sort()

    def event(self, ts: int, event: str, data: dict | None = None, fault: str | None = None) -> Ev:
        ev = Ev(self, ts, event, data, fault)
        self.events.append(ev)
        return ev


def posted_price(st: StationSpec, product: str, t: int) -> int:
    rows = st.prices.get(product) or st.prices["92"]
    price = rows[0][1]
    for from_us, fen in rows:
        if from_us <= t:
            price = fen
    return price


def day_of(cfg: CityConfig, t: int) -> int:
    """Index of the local day of ``t`` in the period (may be < 0 or ≥ days)."""
    return (t - cfg.t0_us) // DAY


def near_price_change(st: StationSpec, t: int, margin: int = 15 * MIN) -> bool:
    return any(abs(t - f) < margin for rows in st.prices.values() for f, _ in rows)
