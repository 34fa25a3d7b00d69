"""Console language: Chinese first (zh-CN), English on request (``--lang en`` or ANXIN_LANG=en)."""

from __future__ import annotations

import os

RULE_NAMES_ZH = {
    "VOLUME_MISMATCH": "油量不符",
    "AMOUNT_MISMATCH": "金额不符",
    "PRICE_MISMATCH": "单价不符",
    "UNMATCHED_SETTLEMENT": "有结算无计量",
    "UNMATCHED_METERING": "有计量无结算",
    "BAD_SIGNATURE": "签名无效",
    "UNKNOWN_DEVICE": "未登记设备",
    "SEQUENCE_GAP": "序号缺失",
    "DUPLICATE_SEQ": "序号重复",
    "METROLOGY_INCONSISTENT": "计量数据自相矛盾",
    "TOTALIZER_JUMP": "累计数跳变",
    "FLOW_IMPLAUSIBLE": "流量异常",
    "K_FACTOR_CHANGE": "K系数变更",
    "SEAL_BREACH": "铅封/防作弊破坏",
    "UNVERIFIED_USE": "未经检定使用",
    "METER_DRIFT": "计量误差超差",
    "TANK_LOSS": "油罐损耗异常",
}

MESSAGES: dict[str, dict[str, str]] = {
    "checking": {"zh": "比对中", "en": "Checking"},
    "simulating": {"zh": "模拟城市数据", "en": "Simulating city"},
    "summary": {"zh": "比对结果", "en": "Check summary"},
    "records": {"zh": "记录", "en": "Records"},
    "kind": {"zh": "类型", "en": "Kind"},
    "count": {"zh": "数量", "en": "Count"},
    "rule": {"zh": "规则", "en": "Rule"},
    "alarms": {"zh": "报警", "en": "Alarms"},
    "rejects": {"zh": "拒收（格式错误）", "en": "Rejected (malformed)"},
    "quarantined": {"zh": "隔离（伪造/未登记）", "en": "Quarantined (forged/unknown)"},
    "resends": {"zh": "重复上传（已忽略）", "en": "Identical resends (ignored)"},
    "pending": {"zh": "仍在判定窗口内（未报警）", "en": "Still inside horizon (not alarmed)"},
    "verifications": {"zh": "检定记录（不合格）", "en": "Verifications (failed)"},
    "wall": {"zh": "用时", "en": "Wall time"},
    "output": {"zh": "结果目录", "en": "Output"},
    "error": {"zh": "错误", "en": "Error"},
    "none": {"zh": "无", "en": "none"},
    "sim_done": {"zh": "模拟完成", "en": "Simulation done"},
    "truth": {"zh": "真值（评估用）", "en": "Ground truth"},
}


def lang() -> str:
    value = os.environ.get("ANXIN_LANG", "zh").lower()
    return "en" if value.startswith("en") else "zh"


def set_lang(value: str | None) -> None:
    if value:
        os.environ["ANXIN_LANG"] = value


def t(key: str) -> str:
    return MESSAGES[key][lang()]


def rule_name(rule: str) -> str:
    return f"{RULE_NAMES_ZH.get(rule, rule)} {rule}" if lang() == "zh" else rule
