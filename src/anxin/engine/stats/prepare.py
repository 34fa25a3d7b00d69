"""One tank's data made ready for the fit: readings validated and converted to the
20 °C book volume, the dispensings accumulated per nozzle segment, the segments cut at
deliveries and long gaps (pure NumPy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anxin.engine.stats import readings as _rd
from anxin.engine.stats.models import TankData

__all__ = ["Prepared", "prepare"]


@dataclass(slots=True)
class Prepared:
    """Arrays over the valid readings (sorted by time) and the nozzle segments."""

    t0: int
    t_us: np.ndarray
    t_h: np.ndarray
    level: np.ndarray
    vol: np.ndarray
    z: np.ndarray  # V20 + Σ M (mL)
    z_raw: np.ndarray  # the same with the probe's temperatures as read (not smoothed)
    m: np.ndarray  # (readings, nozzle segments) cumulative 20 °C metered volume (mL)
    seg: np.ndarray
    step: np.ndarray  # the reading starts a segment at an unexplained step
    cause: np.ndarray  # what started a segment at this reading ("" inside one)
    keys: list[tuple[str, int]]
    counts: np.ndarray
    rejected: dict[str, int]
    chart: np.ndarray
    dl_us: np.ndarray
    dl_ml: np.ndarray
    beta: float  # the product's expansion coefficient (1/°C)
    d_start_s: np.ndarray  # dispensings: start, end (s since t0) and 20 °C volume (mL)
    d_end_s: np.ndarray
    d_v20: np.ndarray

    def take(self, keep: np.ndarray) -> None:
        """Keep only these readings (what started a segment passes to the reading kept
        after the one that goes)."""
        self.cause = _pass_on(self.cause, keep, self.seg)
        for name in ("t_us", "t_h", "level", "vol", "z", "z_raw", "m", "seg", "step", "cause"):
            setattr(self, name, getattr(self, name)[keep])

    def renumber(self) -> int:
        """Segments numbered 0… in order; a segment of a single reading carries no
        information and goes. Returns the number of segments."""
        seg = np.unique(self.seg, return_inverse=True)[1]
        keep = np.bincount(seg)[seg] >= 2
        if not keep.all():
            # the cause of a dropped segment's start passes to the next segment
            self.cause = _pass_on(self.cause, keep)
            self.take(keep)
            seg = np.unique(self.seg, return_inverse=True)[1]
        self.seg = seg
        return int(seg.max()) + 1 if seg.size else 0

    def first_last(self) -> tuple[np.ndarray, np.ndarray]:
        first = np.r_[0, np.flatnonzero(np.diff(self.seg)) + 1]
        last = np.r_[first[1:] - 1, self.seg.size - 1]
        return first, last

    def declared(self) -> np.ndarray:
        """Declared volume (mL) across each boundary: the deliveries that started
        between the two segments; 0 across a plain gap; NaN after an unexplained step."""
        first, last = self.first_last()
        out = np.zeros(max(first.size - 1, 0))
        for k in range(out.size):
            a, b = int(self.t_us[last[k]]), int(self.t_us[first[k + 1]])
            sel = (self.dl_us[:, 0] >= a) & (self.dl_us[:, 0] < b)
            out[k] = float(self.dl_ml[sel].sum())
        out[self.step[first[1:]]] = np.nan
        return out


def _pass_on(cause: np.ndarray, keep: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
    """What started a segment at a reading that goes passes to the next reading kept
    (within the same segment when ``seg`` is given)."""
    out = cause.copy()
    for i in np.flatnonzero(~keep & (cause != "")):
        j = i + 1
        while j < keep.size and not keep[j] and (seg is None or seg[j] == seg[i]):
            j += 1
        if j < keep.size and (seg is None or seg[j] == seg[i]) and out[j] == "":
            out[j] = out[i]
    return out


def prepare(data: TankData, s) -> Prepared | None:
    chart = np.asarray(data.chart, dtype=np.float64).reshape(-1, 2)
    if chart.shape[0] < 2 or len(data.reading_t) < 3:
        return None
    t_all = np.asarray(data.reading_t, dtype=np.int64)
    t0 = int(t_all.min())
    dl = np.asarray(data.deliveries, dtype=np.float64).reshape(-1, 3)
    dl_us = np.asarray([(a, b) for a, b, _ in data.deliveries], dtype=np.int64).reshape(-1, 2)
    disp = data.dispensings
    d_nz = [d[0] for d in disp]
    d_seg = np.asarray([d[1] for d in disp], dtype=np.int64)
    d_s = (np.asarray([d[2] for d in disp], dtype=np.int64) - t0) / 1e6  # seconds since t0
    d_e = (np.asarray([d[3] for d in disp], dtype=np.int64) - t0) / 1e6
    d_v = np.asarray([d[4] for d in disp], dtype=np.float64)
    idx, rejected = _rd.validate(
        t_all,
        np.asarray(data.reading_level_um, dtype=np.float64),
        np.asarray(data.reading_water_um, dtype=np.float64),
        np.asarray(data.reading_temp_mc, dtype=np.float64),
        chart_max_um=float(chart[-1, 0]),
        deliveries=dl_us,
        disp_start=d_s,
        disp_end=d_e,
        disp_vol=d_v,
        s=s,
    )
    if idx.size < 3:
        return None
    t_us = t_all[idx]
    ts = (t_us - t0) / 1e6
    t_h = ts / 3600.0
    level = np.asarray(data.reading_level_um, dtype=np.float64)[idx]
    water = np.asarray(data.reading_water_um, dtype=np.float64)[idx]
    temp = np.asarray(data.reading_temp_mc, dtype=np.float64)[idx] / 1000.0
    seg, _ = _rd.segment_ids(t_us, dl_us, s.segment_gap_us, s.gap_us)
    n_gaps = int((np.diff(np.unique(t_all)) > s.gap_us).sum())  # gaps in what the gauge sent
    if n_gaps:
        rejected["gap"] = n_gaps
    cause = np.full(seg.size, "", dtype=object)
    cause[0] = "window"
    starts = np.flatnonzero(np.diff(seg)) + 1
    for i in starts:
        a, b = int(t_us[i - 1]), int(t_us[i])
        cause[i] = "delivery" if ((dl_us[:, 0] >= a) & (dl_us[:, 0] < b)).any() else "gap"
    beta = data.expansion_ppm_per_c * 1e-6
    temp_s = _rd.smooth_temperature(t_h, temp, seg, s.temp_smooth_h, s.temp_smooth_max, tank=data.tank_id)
    if s.water_smooth_um > 0:
        water = _rd.smooth_water(t_h, water, seg, s.water_smooth_um)
    vol = np.interp(level, chart[:, 0], chart[:, 1]) - np.interp(water, chart[:, 0], chart[:, 1])
    v20 = vol / (1.0 + beta * (temp_s - 20.0))

    # Nozzle segments (unknowns) and their cumulative 20 °C metered volume at each reading.
    keys = sorted(set(zip(d_nz, d_seg.tolist())))
    kidx = {k: i for i, k in enumerate(keys)}
    d_k = np.asarray([kidx[(a, b)] for a, b in zip(d_nz, d_seg.tolist())], dtype=np.int64)
    d_temp = np.interp((d_s + d_e) / 2.0, ts, temp_s) if d_v.size else d_v
    d_v20 = d_v / (1.0 + beta * (d_temp - 20.0))
    m = np.zeros((ts.size, len(keys)))
    counts = np.zeros(len(keys), dtype=np.int64)
    for j in range(len(keys)):
        sel = d_k == j
        counts[j] = int(sel.sum())
        m[:, j] = _rd.cumulative(d_s[sel], d_e[sel], d_v20[sel], ts)
    metered = m.sum(axis=1)
    p = Prepared(
        t0=t0,
        t_us=t_us,
        t_h=t_h,
        level=level,
        vol=vol,
        z=v20 + metered,
        z_raw=vol / (1.0 + beta * (temp - 20.0)) + metered,
        m=m,
        seg=seg,
        step=np.zeros(seg.size, dtype=bool),
        cause=cause,
        keys=keys,
        counts=counts,
        rejected=rejected,
        chart=chart,
        dl_us=dl_us,
        dl_ml=dl[:, 2],
        beta=beta,
        d_start_s=d_s,
        d_end_s=d_e,
        d_v20=d_v20,
    )
    # Jumps: the book volume away from its running median (sudden level steps, spikes).
    med = _rd.rolling_median(p.z, p.seg, s.jump_window)
    ok = np.abs(p.z - med) <= s.jump_ml
    if not ok.all():
        rejected["jump"] = rejected.get("jump", 0) + int((~ok).sum())
        p.take(ok)
    return p
