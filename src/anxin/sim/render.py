"""Rendering planned records into JSON lines (and malformed lines into broken ones).

Signed records: the dict (with ``kind``) → ``canonical_of_dict`` → signature →
the canonical bytes with ``"sig"`` appended (keys sorted except ``sig``; the
checker re-derives the canonical form, so key order on the wire is free).
"""

from __future__ import annotations

import base64
import random
from typing import Any

import msgspec

from anxin.contract.canonical import canonical_of_dict
from anxin.sim.model import MIN, Disp, Ev, ms
from anxin.sim.signing import derive_int
from anxin.sim.specs import CityConfig, group_name
from anxin.sim.station import Emission, StationPlan

# (arrival_us, event_us, station index, position, source file name, line, tag)
Item = tuple[int, int, int, int, str, bytes, str]

MALFORMED_MODES = (
    "truncated",
    "wrong_type",
    "unknown_kind",
    "missing_field",
    "bad_date",
    "bad_hour",
    "non_utf8",
    "huge",
)
UNSIGNED_ONLY = frozenset({"non_utf8", "huge"})
REQUIRED = {
    "metering": "pulses",
    "event": "event",
    "settlement": "amount_fen",
    "tank_reading": "level_um",
    "delivery": "volume_ml",
    "verification": "runs",
}
TIME_FIELD = {"metering": "end", "delivery": "end"}
# Stored lines: msgspec's bytes are exact-size (no spare buffer per line, which would add up).
_enc = msgspec.json.encode


def _signed(d: dict, sig: bytes) -> bytes:
    return canonical_of_dict(d)[:-1] + b',"sig":"' + base64.b64encode(sig) + b'"}'


def metering_dict(d: Disp) -> dict:
    nz = d.nz
    return {
        "kind": "metering",
        "station_id": nz.station_id,
        "nozzle_id": nz.nozzle_id,
        "seq": d.seq,
        "start": StationPlan.fmt(d.start),
        "end": StationPlan.fmt(d.rec_end),
        "pulses": d.pulses + (d.fx["dp"] if d.fault == "inconsistent" and d.fx else 0),
        "k_pulses_per_m3": d.k,
        "volume_ml": d.vol,
        "totalizer_start_ml": d.tot0,
        "totalizer_end_ml": d.tot0 + d.vol,
        "key_id": nz.key_id,
    }


def _metering(d: Disp) -> bytes:
    rec = metering_dict(d)
    return _signed(rec, d.nz.signer.sign(canonical_of_dict(rec)))


def _forged(d: Disp) -> bytes:
    rec = metering_dict(d)
    sig = d.nz.signer.sign(canonical_of_dict(rec))
    assert d.fx is not None
    rec["volume_ml"] = d.fx["vol"]
    return _signed(rec, sig)


def _cloned(d: Disp) -> bytes:
    rec = metering_dict(d)
    sig = d.nz.signer.sign(canonical_of_dict(rec))
    assert d.fx is not None
    rec["nozzle_id"] = d.fx["as"].nozzle_id
    return _signed(rec, sig)


def _duplicate(d: Disp) -> bytes:
    """Same nozzle and seq, different (self-consistent) content, validly signed."""
    rec = metering_dict(d)
    assert d.fx is not None
    pulses = max(1, round(d.pulses * d.fx["factor"]))
    vol = round(pulses * 1e6 / d.k)
    rec.update(end=StationPlan.fmt(d.rec_end + d.fx["dt"]), pulses=pulses, volume_ml=vol, totalizer_end_ml=d.tot0 + vol)
    return _signed(rec, d.nz.signer.sign(canonical_of_dict(rec)))


def _event(e: Ev) -> bytes:
    nz = e.nz
    rec = {
        "kind": "event",
        "station_id": nz.station_id,
        "nozzle_id": nz.nozzle_id,
        "seq": e.seq,
        "ts": StationPlan.fmt(e.ts),
        "event": e.event,
        "data": e.data,
        "key_id": nz.key_id,
    }
    return _signed(rec, nz.signer.sign(canonical_of_dict(rec)))


def _settlement(d: Disp, legacy_pos: bool) -> bytes:
    return _enc(
        {
            "kind": "settlement",
            "station_id": d.nz.station_id,
            "order_id": d.order_id,
            "nozzle_id": d.nz.nozzle_id,
            "pump_seq": None if legacy_pos else d.seq,
            "ts": StationPlan.fmt(d.sale_ts),
            "volume_ml": d.sale_vol,
            "unit_price_fen": d.price,
            "amount_fen": d.amount,
            "paid_fen": d.paid,
            "payment": d.payment,
        }
    )


def _delivery(station_id: str, obj: tuple[str, int, int, float]) -> bytes:
    tid, s, e, v = obj
    return _enc(
        {
            "kind": "delivery",
            "station_id": station_id,
            "tank_id": tid,
            "start": StationPlan.fmt(s),
            "end": StationPlan.fmt(e),
            "volume_ml": int(v),
        }
    )


def render(plan: StationPlan, em: Emission) -> bytes:
    _, _, _, op, obj, extra = em
    if op == "M":
        return _metering(obj)
    if op == "S":
        return _settlement(obj, plan.st.legacy_pos)
    if op == "T":
        return obj
    if op == "E":
        return _event(obj)
    if op == "D":
        return _delivery(plan.st.station_id, obj)
    if op == "V":
        return _enc(obj)
    if op == "F":
        return _forged(obj)
    if op == "C":
        return _cloned(obj)
    if op == "U":
        return _duplicate(obj)
    if op == "R":
        return render(plan, obj)
    if op == "B":
        return malform(render(plan, obj), obj[2], extra)
    raise ValueError(f"unknown emission op {op!r}")


def malform(line: bytes, kind: str, mode: str) -> bytes:
    """A broken copy of a genuine line that a strict reader must reject."""
    if mode == "truncated":
        return line[: max(1, len(line) // 2)]
    rec: dict[str, Any] = msgspec.json.decode(line)
    if mode == "wrong_type":
        for field in ("seq", "volume_ml", "level_um", "amount_fen", "k_pulses_per_m3"):
            if isinstance(rec.get(field), int):
                rec[field] = f"{rec[field]}.0"
                break
        else:
            rec["ts" if "ts" in rec else "end"] = 1772323200
    elif mode == "unknown_kind":
        rec["kind"] = "pump_status"
    elif mode == "missing_field":
        rec.pop(REQUIRED[kind], None)
    elif mode in ("bad_date", "bad_hour"):
        field = TIME_FIELD.get(kind, "ts")
        text = str(rec[field])
        if mode == "bad_date":
            rec[field] = "2026-02-30" + text[10:]
        else:
            rec[field] = text[:11] + "25" + text[13:]
    elif mode == "non_utf8":
        out = _enc(rec)
        return out.replace(b'"station_id":"', b'"station_id":"\xff\xfe', 1)
    elif mode == "huge":
        rec["note"] = "备注" + "x" * 100_000
    return _enc(rec)


def plan_malformed(plans: list[StationPlan], group: int, cfg: CityConfig) -> None:
    """Malformed copies of genuine lines in some of the group's files (once per group)."""
    if not plans or plans[0].malformed_planned:
        return
    plans[0].malformed_planned = True
    rate = cfg.scenarios.malformed
    if rate <= 0:
        return
    rng = random.Random(derive_int(cfg.seed, group, "malformed"))
    hosts: dict[str, list[tuple[StationPlan, Emission]]] = {}
    for p in plans:
        for day in sorted(p.buckets):
            for em in p.buckets[day]:
                if em[3] in "MSETDV" and not (isinstance(em[4], Disp) and em[4].busy):
                    hosts.setdefault(em[2], []).append((p, em))
    for kind in ("metering", "settlement", "event", "tank_reading", "delivery", "verification"):
        pool = hosts.get(kind)
        if not pool:
            continue
        modes: list[str]
        if group == 0 and kind == "settlement":
            modes = list(MALFORMED_MODES)  # every variant at least once in the city
        elif rng.random() < rate:
            allowed = [m for m in MALFORMED_MODES if kind not in ("metering", "event") or m not in UNSIGNED_ONLY]
            modes = rng.sample(allowed, rng.randint(1, 3))
        else:
            continue
        for mode in modes:
            p, em = rng.choice(pool)
            t, arr = em[0], em[1]
            when = ms(min(arr + rng.uniform(0, 5) * MIN, t + 29 * MIN))
            p.emit(t, when, kind, "B", em, mode)


def render_group_day(plans: list[StationPlan], group: int, day: int, cfg: CityConfig) -> list[Item]:
    """Every line of the group's stations whose event time falls on ``day``."""
    plan_malformed(plans, group, cfg)
    gname = group_name(group)
    out: list[Item] = []
    for p in plans:
        sidx = p.st.index
        for i, em in enumerate(p.buckets.get(day, ())):
            op = em[3]
            tag = "resend" if op == "R" else (f"bad:{em[5]}" if op == "B" else "")
            out.append((em[1], em[0], sidx, i, f"{gname}.{em[2]}.jsonl", render(p, em), tag))
    return out
