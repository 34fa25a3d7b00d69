"""Random small cities with faults of every record-level kind, for property tests.

``build(seed)`` returns records in event-time order; the faults it injects are
chosen by the seed, so hypothesis explores many mixes."""

from __future__ import annotations

import random

from factory import T0, City, K

from anxin.contract.times import US_PER_H, US_PER_MIN, format_ts, parse_ts

FAULTS = (
    "inflate",
    "amount",
    "price",
    "delete",
    "off_book",
    "forged",
    "duplicate",
    "jump",
    "inconsistent",
    "flow",
    "k_unauth",
    "k_auth",
    "seal",
    "undeclared_k",
    "failed_verification",
    "stranger",
    "legacy",
)


def event_time(rec: dict) -> int:
    return parse_ts(rec["end"] if rec["kind"] in ("metering", "delivery") else rec["ts"])


def build(seed: int, n_per_nozzle: int = 12) -> tuple[City, list[dict]]:
    rnd = random.Random(seed)
    city = City()
    recs: list[dict] = []
    faults = rnd.sample(FAULTS, k=rnd.randint(2, 7))
    if set(faults) <= {"k_auth", "legacy"}:
        faults.append("inflate")  # every scenario has something to find
    for nozzle in ("S1-N1", "S1-N2", "S1-N3"):
        legacy = nozzle == "S1-N3" and "legacy" in faults
        t = T0 + rnd.randint(0, 5) * US_PER_MIN
        k = K
        for i in range(n_per_nozzle):
            fault = rnd.choice(faults) if i in (3, 7) and nozzle != "S1-N3" else None
            if fault in ("k_unauth", "k_auth"):
                k = K * 98 // 100
                recs += [
                    city.event(nozzle, t, "seal_open"),
                    city.event(nozzle, t + US_PER_MIN, "k_factor_change", {"old": K, "new": k}),
                    city.event(nozzle, t + 2 * US_PER_MIN, "seal_close"),
                ]
                if fault == "k_auth":
                    recs.append(city.verification(nozzle, t + 30 * US_PER_MIN, k=k))
                t += 5 * US_PER_MIN
            if fault == "seal":
                recs.append(city.event(nozzle, t, "seal_open"))
                t += US_PER_MIN
            if fault == "failed_verification":
                recs.append(city.verification(nozzle, t, passed=False))
            vol = rnd.randint(5_000, 60_000)
            mk = K * 97 // 100 if fault == "undeclared_k" else k
            duration = 20 if fault == "flow" else 30 + vol / 40_000 * 60
            if fault == "jump":
                city.nozzles[nozzle].totalizer += rnd.randint(100, 5000)
            m = city.metering(nozzle, t, vol, k=mk, duration_s=duration)
            if fault == "inconsistent":
                m = city.sign(nozzle, {k_: v for k_, v in m.items() if k_ != "sig"} | {"pulses": m["pulses"] + 9})
            s = city.sale(m, legacy=legacy, delay_s=rnd.randint(2, 50))
            if fault == "inflate":
                s["volume_ml"] = 10 * round(m["volume_ml"] * 1.03 / 10)
                s["amount_fen"] = (s["volume_ml"] * s["unit_price_fen"] + 500) // 1000
            elif fault == "amount":
                s["amount_fen"] += 57
            elif fault == "price":
                s["unit_price_fen"] += 30
                s["amount_fen"] = (s["volume_ml"] * s["unit_price_fen"] + 500) // 1000
            if fault != "delete":
                recs.append(m)
            if fault != "off_book":
                recs.append(s)
            if fault == "forged":
                recs.append(dict(m, volume_ml=m["volume_ml"] + 700))
            if fault == "duplicate":  # a cloned module's record, produced a little later
                later = format_ts(parse_ts(m["end"]) + 5_000_000)
                recs.append(
                    city.sign(nozzle, {k_: v for k_, v in m.items() if k_ != "sig"} | {"volume_ml": 1, "end": later})
                )
            if fault == "stranger":
                recs.append(dict(m, nozzle_id="S1-N9"))
            t += rnd.randint(3, 25) * US_PER_MIN
    recs.sort(key=event_time)
    # a late honest dispensing pushes the watermark past every horizon
    last = event_time(recs[-1])
    m = city.metering("S1-N1", last + 6 * US_PER_H, 10_000, k=K if "k_unauth" not in faults else K * 98 // 100)
    recs += [m, city.sale(m)]
    return city, recs


def shuffled_within(recs: list[dict], rnd: random.Random, max_delay_us: int) -> list[dict]:
    """Arrival order = event time plus a random upload delay below ``max_delay_us``."""
    keyed = [[event_time(r) + rnd.randrange(max_delay_us), i, r] for i, r in enumerate(recs)]
    # Versions of one record (same natural key) keep their order: a later version is,
    # by definition, the one that arrived later ("the first arrival is kept").
    groups: dict[tuple, list[list]] = {}
    for item in keyed:
        groups.setdefault(natural_key(item[2]), []).append(item)
    for items in groups.values():
        for item, arrival in zip(items, sorted(it[0] for it in items)):
            item[0] = arrival
    keyed.sort(key=lambda it: (it[0], it[1]))
    return [r for _, _, r in keyed]


def natural_key(r: dict) -> tuple:
    if r["kind"] in ("metering", "event"):
        return (r["nozzle_id"], r["seq"])
    if r["kind"] == "settlement":
        return (r["station_id"], r["order_id"])
    return (r["kind"], r.get("nozzle_id") or r.get("tank_id"), r.get("ts") or r.get("end"))
