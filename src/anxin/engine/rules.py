"""The record-level rules of contract v1 section 5, as small pure functions that
return alarms. The engine decides *when* a rule is evaluated; these decide
*whether* it fires and what evidence a regulator gets with it."""

from __future__ import annotations

from anxin.contract.alarm import Alarm
from anxin.contract.parse import Parsed
from anxin.contract.records import MAX_INT, Event, Metering, Settlement
from anxin.contract.registry import Nozzle
from anxin.contract.times import US_PER_MIN, format_ts
from anxin.engine.nozzle import NozzleState, PendingMetering, PendingSale, SeqEntry
from anxin.engine.outputs import make_alarm, record_evidence
from anxin.engine.settings import EngineSettings


def round_half_up_div(num: int, den: int) -> int:
    """round_half_up(num / den) in exact integer arithmetic (den > 0)."""
    return (2 * num + den) // (2 * den)


def expected_amount_fen(volume_ml: int, unit_price_fen: int) -> int:
    return round_half_up_div(volume_ml * unit_price_fen, 1000)


def exact(n: int) -> int | str:
    """An integer computed for evidence: as is within a record's bounds (±(2⁵³ − 1),
    contract v1.1 §A), else its decimal digits — exact, and encodable by every consumer
    (msgpack stops at 64 bits, JavaScript at 53). Only absurd inputs get there (a
    product of two bounded values)."""
    return n if -MAX_INT <= n <= MAX_INT else str(n)


# ------------------------------------------------------------- metering itself
def metering_checks(rec: Metering, p: Parsed, reg: Nozzle, s: EngineSettings, out: list) -> None:
    """METROLOGY_INCONSISTENT and FLOW_IMPLAUSIBLE: the record against itself and the registry."""
    k, vol, pulses = rec.k_pulses_per_m3, rec.volume_ml, rec.pulses
    problems = []
    # |volume − pulses·10⁶/K| > tol  ⇔  |volume·K − pulses·10⁶| > tol·K  (exact, K > 0)
    if k <= 0:
        problems.append(f"K factor {k} is not positive")
    elif abs(vol * k - pulses * 1_000_000) > s.metrology_volume_tolerance_ml * k:
        problems.append(f"pulses {pulses} at K {k} give {pulses * 1e6 / k:.1f} mL, record says {vol} mL")
    if rec.totalizer_end_ml - rec.totalizer_start_ml != vol:
        problems.append(f"totalizers advance {rec.totalizer_end_ml - rec.totalizer_start_ml} mL, record says {vol} mL")
    if vol < 0 or pulses < 0:
        problems.append("negative volume or pulses")
    if problems:
        out.append(
            make_alarm(
                "METROLOGY_INCONSISTENT",
                key=(rec.nozzle_id, rec.seq),
                station_id=rec.station_id,
                nozzle_id=rec.nozzle_id,
                seq=rec.seq,
                ts_us=p.t,
                message="; ".join(problems),
                evidence={"metering": record_evidence(rec), "problems": problems},
            )
        )
    duration = p.t - p.t0
    limit = reg.max_flow_ml_per_min * s.flow_limit_ratio
    if duration <= 0:
        msg = f"end is not after start ({format_ts(p.t0)} → {format_ts(p.t)})"
    elif vol * US_PER_MIN > limit * duration:
        flow = vol * US_PER_MIN / duration
        msg = f"mean flow {flow:.0f} mL/min exceeds {limit:.0f} (110 % of max {reg.max_flow_ml_per_min})"
    else:
        return
    out.append(
        make_alarm(
            "FLOW_IMPLAUSIBLE",
            key=(rec.nozzle_id, rec.seq),
            station_id=rec.station_id,
            nozzle_id=rec.nozzle_id,
            seq=rec.seq,
            ts_us=p.t,
            message=msg,
            evidence={
                "metering": record_evidence(rec),
                "duration_s": duration / 1e6,
                "max_flow_ml_per_min": reg.max_flow_ml_per_min,
            },
        )
    )


def duplicate_seq(rec: Metering | Event, p: Parsed, first: SeqEntry) -> Alarm:
    return make_alarm(
        "DUPLICATE_SEQ",
        key=(rec.nozzle_id, rec.seq, p.digest.hex()),
        station_id=rec.station_id,
        nozzle_id=rec.nozzle_id,
        seq=rec.seq,
        ts_us=p.t,
        message=f"seq {rec.seq} arrived again with different content; the first arrival is kept",
        evidence={
            "duplicate": record_evidence(rec),
            "first_arrival_ts": format_ts(first.t),
            "first_digest": first.digest.hex(),
            "duplicate_digest": p.digest.hex(),
        },
    )


def totalizer_jump(reg: Nozzle, seq: int, e: SeqEntry, prev_seq: int, prev: SeqEntry) -> Alarm:
    jump = e.tot_start - prev.tot_end
    return make_alarm(
        "TOTALIZER_JUMP",
        key=(reg.nozzle_id, seq),
        station_id=reg.station_id,
        nozzle_id=reg.nozzle_id,
        seq=seq,
        ts_us=e.t,
        message=f"totalizer starts at {e.tot_start} mL, previous metering (seq {prev_seq}) "
        f"ended at {prev.tot_end} mL ({jump:+d} mL unaccounted)",
        evidence={
            "seq": seq,
            "totalizer_start_ml": e.tot_start,
            "previous_seq": prev_seq,
            "previous_totalizer_end_ml": prev.tot_end,
            "jump_ml": jump,
        },
    )


def sequence_gap(nz: NozzleState, n: int, t_next: int, jump: int, max_gap: int) -> Alarm:
    reg = nz.reg
    ev: dict = {"missing_seq": n}  # nothing that depends on when the decision ran
    if jump > max_gap:  # one alarm for a counter that jumped, not one per number
        ev["counter_jump"] = jump
    return make_alarm(
        "SEQUENCE_GAP",
        key=(reg.nozzle_id, n),
        station_id=reg.station_id,
        nozzle_id=reg.nozzle_id,
        seq=n,
        ts_us=t_next,
        message=f"module record seq {n} never arrived (deleted or withheld)",
        evidence=ev,
    )


# ---------------------------------------------------------------- settlement
def amount_mismatch(rec: Settlement, p: Parsed, s: EngineSettings) -> Alarm | None:
    expected = expected_amount_fen(rec.volume_ml, rec.unit_price_fen)
    if abs(rec.amount_fen - expected) <= s.amount_tolerance_fen:
        return None
    return make_alarm(
        "AMOUNT_MISMATCH",
        key=(rec.station_id, rec.order_id),
        station_id=rec.station_id,
        nozzle_id=rec.nozzle_id,
        seq=rec.pump_seq,
        order_id=rec.order_id,
        ts_us=p.t,
        message=f"amount {rec.amount_fen} fen ≠ {rec.volume_ml} mL × {rec.unit_price_fen} fen/L = {expected} fen",
        evidence={"settlement": record_evidence(rec), "expected_amount_fen": exact(expected)},
    )


def _price_alarm(sale: Settlement, t: int, posted: int, basis: str, ev: dict) -> Alarm:
    return make_alarm(
        "PRICE_MISMATCH",
        key=(sale.station_id, sale.order_id),
        station_id=sale.station_id,
        nozzle_id=sale.nozzle_id,
        seq=sale.pump_seq,
        order_id=sale.order_id,
        ts_us=t,
        message=f"unit price {sale.unit_price_fen} fen/L ≠ posted {posted} fen/L at {basis}",
        evidence={**ev, "posted_price_fen": posted, "price_basis": basis},
    )


def pair_checks(m: PendingMetering, sale: PendingSale, posted: int | None, s: EngineSettings) -> list[Alarm]:
    rec, mrec = sale.rec, m.rec
    out: list[Alarm] = []
    diff = rec.volume_ml - mrec.volume_ml
    wrong_price = posted is not None and rec.unit_price_fen != posted
    if not (wrong_price or abs(diff) > s.volume_tolerance_ml):
        return out
    ev = {"metering": record_evidence(mrec), "settlement": record_evidence(rec)}
    if abs(diff) > s.volume_tolerance_ml:
        out.append(
            make_alarm(
                "VOLUME_MISMATCH",
                key=(rec.station_id, rec.order_id),
                station_id=rec.station_id,
                nozzle_id=rec.nozzle_id,
                seq=mrec.seq,
                order_id=rec.order_id,
                ts_us=sale.t,
                message=f"sold {rec.volume_ml} mL, metered {mrec.volume_ml} mL ({diff:+d} mL, "
                f"{diff / mrec.volume_ml * 100 if mrec.volume_ml else 0:+.2f} %)",
                evidence={**ev, "difference_ml": diff, "tolerance_ml": s.volume_tolerance_ml},
            )
        )
    if wrong_price:
        out.append(_price_alarm(rec, sale.t, posted, "dispensing start " + format_ts(m.t0), ev))  # type: ignore[arg-type]
    return out


def unmatched_metering(m: PendingMetering, s: EngineSettings) -> Alarm:
    rec = m.rec
    return make_alarm(
        "UNMATCHED_METERING",
        key=(rec.nozzle_id, rec.seq),
        station_id=rec.station_id,
        nozzle_id=rec.nozzle_id,
        seq=rec.seq,
        ts_us=m.t,
        message=f"{rec.volume_ml} mL dispensed with no sale within {s.horizon_us // 60_000_000} min",
        evidence={"metering": record_evidence(rec)},
    )


def unmatched_settlement(sale: PendingSale, posted: int | None, s: EngineSettings) -> list[Alarm]:
    rec = sale.rec
    ev = {"settlement": record_evidence(rec)}
    out = []
    if posted is not None and rec.unit_price_fen != posted:
        out.append(_price_alarm(rec, sale.t, posted, "sale time (no metering record)", ev))
    why = sale.note or (
        f"no metering record with seq {rec.pump_seq}"
        if rec.pump_seq is not None
        else "no unpaired metering ended within 15 min before the sale"
    )
    out.append(
        make_alarm(
            "UNMATCHED_SETTLEMENT",
            key=(rec.station_id, rec.order_id),
            station_id=rec.station_id,
            nozzle_id=rec.nozzle_id,
            seq=rec.pump_seq,
            order_id=rec.order_id,
            ts_us=sale.t,
            message=f"sale of {rec.volume_ml} mL has no metering record: {why}",
            evidence={**ev, "reason": why},
        )
    )
    return out


# --------------------------------------------------------- legal state of the nozzle
def undeclared_k(reg: Nozzle, seq: int, k: int, in_force: int, t0: int) -> Alarm:
    return make_alarm(
        "K_FACTOR_CHANGE",
        key=(reg.nozzle_id, seq),
        station_id=reg.station_id,
        nozzle_id=reg.nozzle_id,
        seq=seq,
        ts_us=t0,
        message=f"metering at K {k} pulses/m³ while K {in_force} is in force (undeclared change, "
        f"{(in_force - k) / k * 100:+.2f} % volume)",
        evidence={"seq": seq, "k_pulses_per_m3": k, "k_in_force": in_force},
    )


def unauthorised_event(rule: str, rec: Event, t: int, s: EngineSettings) -> Alarm:
    hours = s.authorisation_window_us / 3_600_000_000
    what = f"K factor changed {rec.data}" if rule == "K_FACTOR_CHANGE" else rec.event.replace("_", " ")
    return make_alarm(
        rule,
        key=(rec.nozzle_id, rec.seq),
        station_id=rec.station_id,
        nozzle_id=rec.nozzle_id,
        seq=rec.seq,
        ts_us=t,
        message=f"{what} with no verification within ±{hours:g} h",
        evidence={"event": record_evidence(rec)},
    )


def unverified_use(reg: Nozzle, seq: int, t0: int, day: int, reason: str) -> Alarm:
    return make_alarm(
        "UNVERIFIED_USE",
        key=(reg.nozzle_id, day),
        station_id=reg.station_id,
        nozzle_id=reg.nozzle_id,
        seq=seq,
        ts_us=t0,
        message=f"dispensing without a valid verification: {reason}",
        evidence={"seq": seq, "reason": reason, "first_dispensing_of_day": format_ts(t0)},
    )
