"""An alarm's evidence as a regulator reads it (issue 13, item 2): every field under its
name in the reader's language with its unit (升 to 2 decimals, 元, ‰ to 2 decimals, local
time), the metering record and the settlement side by side with the fields that disagree
marked, and the rest of the evidence labelled. The stored evidence stays as it is
(language-neutral data, the bundle's); this is only how it is shown. A field the catalog
does not know — a station may send fields the contract does not define, and they are
kept as evidence — is shown as it came, under its own name, in a list of its own."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec

from anxin.contract.times import format_ts
from anxin.i18n import EVENT_NAMES, reason_text, witness_text

# field → (zh, en, how its value is shown)
FIELDS: dict[str, tuple[str, str, str]] = {
    "station_id": ("加油站", "Station", "text"),
    "nozzle_id": ("油枪", "Nozzle", "text"),
    "tank_id": ("油罐", "Tank", "text"),
    "order_id": ("订单号", "Order", "text"),
    "seq": ("计量模块序号", "Module sequence", "int"),
    "pump_seq": ("对应计量序号", "Metering sequence", "int"),
    "start": ("开始时间", "Start", "ts"),
    "end": ("结束时间", "End", "ts"),
    "ts": ("时间", "Time", "ts"),
    "pulses": ("脉冲数", "Pulses", "int"),
    "k_pulses_per_m3": ("K 系数（脉冲/立方米）", "K factor (pulses/m³)", "int"),
    "k_in_force": ("在用 K 系数", "K factor in force", "int"),
    "volume_ml": ("体积", "Volume", "ml"),
    "totalizer_start_ml": ("累计数（起）", "Totalizer at start", "ml"),
    "totalizer_end_ml": ("累计数（止）", "Totalizer at end", "ml"),
    "previous_totalizer_end_ml": ("上一条累计数（止）", "Previous totalizer at end", "ml"),
    "key_id": ("签名密钥", "Signing key", "text"),
    "unit_price_fen": ("单价", "Unit price", "price"),
    "posted_price_fen": ("挂牌价", "Posted price", "price"),
    "amount_fen": ("应收金额", "Amount", "fen"),
    "expected_amount_fen": ("按量价应收", "Amount at volume × price", "fen"),
    "paid_fen": ("实付金额", "Paid", "fen"),
    "payment": ("支付方式", "Payment", "payment"),
    "difference_ml": ("体积差（结算 − 计量）", "Difference (sale − metered)", "ml_signed"),
    "tolerance_ml": ("容差", "Tolerance", "ml"),
    "jump_ml": ("累计数跳变", "Totalizer jump", "ml_signed"),
    "previous_seq": ("上一条序号", "Previous sequence", "int"),
    "missing_seq": ("缺失序号", "Missing sequence", "text"),
    "max_flow_ml_per_min": ("最大流量", "Maximum flow", "flow"),
    "duration_s": ("用时", "Duration", "seconds"),
    "error_permille": ("计量误差", "Meter error", "permille"),
    "ci95_permille": ("95% 置信区间", "95 % interval", "permille_pair"),
    "dispensings": ("加油笔数", "Dispensings", "int"),
    "tank_hours": ("油罐数据时长（小时）", "Tank data (hours)", "hours"),
    "loss_l_per_h": ("不明损耗", "Unexplained loss", "l_per_h"),
    "loss_ci95_l_per_h": ("损耗 95% 置信区间", "Loss 95 % interval", "l_per_h_pair"),
    "readings_used": ("采用的液位读数", "Readings used", "int"),
    "readings_rejected": ("剔除的液位读数", "Readings rejected", "json"),
    "residual_sd_ml": ("残差标准差", "Residual SD", "ml"),
    "reason": ("原因", "Reason", "reason"),
    "problems": ("问题", "Problems", "reasons"),
    "event": ("事件", "Event", "event"),
    "window_start": ("数据窗口起", "Window from", "ts"),
    "window_end": ("数据窗口止", "Window to", "ts"),
    "hours": ("数据时长（小时）", "Data (hours)", "hours"),
    "deliveries_declared": ("申报的卸油", "Deliveries declared", "int"),
    "deliveries_used": ("采用的进油单", "Delivery notes used", "int"),
    "scale_anchored": ("容积表比例由进油单锚定", "Chart scale anchored by the notes", "bool"),
    "pooled_permille": ("油罐合并误差", "Tank's pooled error", "permille"),
    "register_nozzles": ("检定记录锚定的油枪", "Nozzles anchored by their verification", "int"),
    "register_shift_permille": ("进油单共同偏差修正", "Notes' common bias corrected", "permille"),
    "method": ("方法", "Method", "method"),
    "price_basis": ("挂牌价依据", "Posted price taken at", "text"),
    "first_dispensing_of_day": ("当日首笔加油", "First dispensing of the day", "ts"),
    "n_nozzles": ("油枪数", "Nozzles", "int"),
    "n_positive": ("误差为正的油枪", "Nozzles erring positive", "int"),
    "n_negative": ("误差为负的油枪", "Nozzles erring negative", "int"),
    "mean_error_permille": ("平均误差", "Mean error", "permille"),
    "mean_ci95_permille": ("平均误差 95% 置信区间", "Mean error 95 % interval", "permille_pair"),
    "note_bias_allowance_permille": ("进油单共同偏差容许", "Allowance for the notes' common bias", "permille"),
    "p_value": ("p 值", "p-value", "float"),
    "first_arrival_ts": ("首条到达时间", "First arrival", "ts"),
    "first_digest": ("首条记录摘要", "First record's digest", "text"),
    "duplicate_digest": ("重复记录摘要", "Duplicate's digest", "text"),
}

PAYMENTS: dict[str, tuple[str, str]] = {
    "wechat": ("微信支付", "WeChat Pay"),
    "alipay": ("支付宝", "Alipay"),
    "unionpay": ("银联卡", "UnionPay card"),
    "cash": ("现金", "cash"),
    "fuel_card": ("加油卡", "fuel card"),
}

# the record fields shown side by side, in this order (metering field, settlement field)
SIDE_BY_SIDE: tuple[tuple[str, str | None, str | None], ...] = (
    ("nozzle_id", "nozzle_id", "nozzle_id"),
    ("seq", "seq", "pump_seq"),
    ("ts", "end", "ts"),
    ("volume_ml", "volume_ml", "volume_ml"),
    ("unit_price_fen", None, "unit_price_fen"),
    ("amount_fen", None, "amount_fen"),
    ("paid_fen", None, "paid_fen"),
    ("payment", None, "payment"),
    ("order_id", None, "order_id"),
    ("start", "start", None),
    ("pulses", "pulses", None),
    ("k_pulses_per_m3", "k_pulses_per_m3", None),
    ("totalizer_start_ml", "totalizer_start_ml", None),
    ("totalizer_end_ml", "totalizer_end_ml", None),
    ("key_id", "key_id", None),
)


def event_name(event: str | None, lang: str) -> str:
    """A module event (``seal_open`` …) in words; one the contract does not define is
    shown as the module sent it (it is the module's evidence)."""
    entry = EVENT_NAMES.get(event or "")
    return (event or "—") if entry is None else entry[0 if lang == "zh" else 1]


def event_data(event: str | None, data: Any, lang: str) -> str:
    """A module event's data in words where the contract defines it (a K factor change:
    old → new), else as the module sent it."""
    if data is None:
        return ""
    if event == "k_factor_change" and isinstance(data, dict) and {"old", "new"} <= data.keys():
        old, new = data["old"], data["new"]
        return f"K 系数 {old} → {new}" if lang == "zh" else f"K factor {old} → {new}"
    return msgspec.json.encode(data).decode() if isinstance(data, (dict, list)) else str(data)


def label(key: str, lang: str) -> str:
    entry = FIELDS.get(key)
    return key if entry is None else entry[0 if lang == "zh" else 1]


def _litres(ml: float, signed: bool = False) -> str:
    """mL as litres to 2 decimals, rounded half up from the exact value (40215 mL → 40.22)."""
    d = (Decimal(int(ml)) if float(ml).is_integer() else Decimal(repr(float(ml)))) / 1000
    q = d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{q:+,}" if signed else f"{q:,}"


def _num(v: Any) -> float | None:
    """A finite number within ±2⁵³ (what the contract's integers allow), else None."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) and abs(f) <= 2**53 else None


def _unit(zh: bool, zh_unit: str, en_unit: str) -> str:
    return zh_unit if zh else en_unit


# how a number is shown, by the field's kind (zh: in Chinese)
_NUMBERS: dict[str, Callable[[float, bool], str]] = {
    "ml": lambda n, zh: f"{_litres(n)} {_unit(zh, '升', 'L')}",
    "ml_signed": lambda n, zh: f"{_litres(n, True)} {_unit(zh, '升', 'L')}",
    "fen": lambda n, zh: f"{n / 100:,.2f} {_unit(zh, '元', 'yuan')}",
    "price": lambda n, zh: f"{n / 100:,.2f} {_unit(zh, '元/升', 'yuan/L')}",
    "permille": lambda n, zh: f"{n:+.2f}‰",
    "l_per_h": lambda n, zh: f"{n:.2f} L/h",
    "flow": lambda n, zh: f"{n / 1000:.1f} {_unit(zh, '升/分钟', 'L/min')}",
    "seconds": lambda n, zh: f"{n:.0f} {_unit(zh, '秒', 's')}",
    "hours": lambda n, zh: f"{n:.1f}",
    "int": lambda n, zh: f"{int(n)}",
    "float": lambda n, zh: f"{n:.3g}",
}


def value(key: str, v: Any, lang: str) -> str:
    """A field's value with its unit; a value that is not what the field holds is shown
    as it came (a hostile record's field is evidence too)."""
    kind = FIELDS.get(key, ("", "", "json"))[2]
    zh = lang == "zh"
    n = _num(v)
    if n is not None and kind in _NUMBERS:
        return _NUMBERS[kind](n, zh)
    if kind in ("permille_pair", "l_per_h_pair") and isinstance(v, (list, tuple)) and len(v) == 2:
        a, b = (_num(x) for x in v)
        if a is not None and b is not None:
            return f"{a:+.2f}…{b:+.2f}‰" if kind == "permille_pair" else f"{a:.2f}…{b:.2f} L/h"
    if kind == "ts" and n is not None:  # µs since the epoch
        try:
            return format_ts(int(n))[:19].replace("T", " ")
        except (OverflowError, ValueError):
            return str(v)
    if kind == "ts" and isinstance(v, str):
        return v[:19].replace("T", " ")
    if kind == "payment" and isinstance(v, str) and v in PAYMENTS:
        return PAYMENTS[v][0 if zh else 1]
    if kind == "event" and isinstance(v, dict) and isinstance(v.get("event"), str):
        name = event_name(v["event"], lang)
        return name + (f" · {value('ts', v.get('ts'), lang)}" if v.get("ts") is not None else "")
    if kind == "reason" and isinstance(v, str):
        return reason_text(v, lang)
    if kind == "reasons" and isinstance(v, list) and all(isinstance(x, str) for x in v):
        return "；".join(reason_text(x, lang) for x in v) if zh else "; ".join(v)
    if kind == "method" and isinstance(v, str):
        return witness_text(v if v.startswith("witness.") else f"method.{v}", lang)
    if isinstance(v, (dict, list)):
        return msgspec.json.encode(v).decode()
    if isinstance(v, bool):
        return ("是" if v else "否") if zh else ("yes" if v else "no")
    return "—" if v is None else str(v)


def present(evidence: dict[str, Any], lang: str) -> dict[str, Any]:
    """The evidence as the alarm page shows it: ``records`` (rows of label, metering
    value, settlement value, whether they disagree), ``fields`` (the rest, labelled) and
    ``unknown`` (fields no catalog names, as they came)."""
    ev = dict(evidence)
    rec = ev.get("record") if ev.get("quarantined") else None
    metering = (
        ev.pop("metering", None)
        or (rec if isinstance(rec, dict) and rec.get("kind") == "metering" else None)
        or ev.pop("duplicate", None)  # DUPLICATE_SEQ: the second record under the same seq
    )
    settlement = ev.pop("settlement", None)
    quarantined = bool(ev.pop("quarantined", False))
    ev.pop("record", None)
    metering = metering if isinstance(metering, dict) else None
    settlement = settlement if isinstance(settlement, dict) else None
    rows = []
    if metering or settlement:
        for key, mk, sk in SIDE_BY_SIDE:
            mv = metering.get(mk) if metering and mk else None
            sv = settlement.get(sk) if settlement and sk else None
            if mv is None and sv is None:
                continue
            differ = key == "volume_ml" and mv is not None and sv is not None and mv != sv
            rows.append(
                {
                    "label": label(key, lang),
                    "metering": "" if mv is None else value(mk or key, mv, lang),
                    "settlement": "" if sv is None else value(sk or key, sv, lang),
                    "differ": differ,
                }
            )
    fields, unknown = [], []
    for k, v in ev.items():
        if k in FIELDS:
            fields.append({"label": label(k, lang), "value": value(k, v, lang)})
        else:
            unknown.append({"label": k, "value": value(k, v, lang)})
    return {
        "records": rows,
        "has_metering": metering is not None,
        "has_settlement": settlement is not None,
        "quarantined": quarantined,
        "fields": fields,
        "unknown": unknown,
    }
