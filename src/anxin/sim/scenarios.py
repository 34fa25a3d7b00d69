"""Scenario switches of the city simulator (场景开关): which honest structures and which
kinds of dishonesty a simulated city contains, and at what rate.

Every switch is a rate; 0 is off. What the rate counts depends on the scenario's
``unit`` (see ``SCENARIOS``): a fraction of sales, of nozzles, of tanks, of stations,
of lines or of files. When a switch is on, at least one instance is injected in the
city whatever its size (so a 3-station test city shows every behaviour).
"""

from __future__ import annotations

from typing import Literal

import msgspec

Unit = Literal["sales", "nozzles", "tanks", "stations", "lines", "files"]


class ScenarioInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    unit: Unit
    default_rate: float  # rate used by ScenarioSet.all() and by a bare name in parse()
    primary_rule: str | None  # the rule that must find it (None: honest structure / no alarm)
    record_level: bool
    zh: str
    en: str
    # contract v1.1 §F: on only when asked for ("firmware" in a scenario list), never by
    # "all" — the cities of before stay byte for byte what they were
    firmware: bool = False


SCENARIOS: tuple[ScenarioInfo, ...] = (
    ScenarioInfo(
        name="rigged_inflate",
        unit="nozzles",
        default_rate=0.004,
        primary_rule="VOLUME_MISMATCH",
        record_level=True,
        zh="主板作弊虚增销售量",
        en="rigged main board inflates the sale",
    ),
    ScenarioInfo(
        name="amount_fraud",
        unit="sales",
        default_rate=0.0005,
        primary_rule="AMOUNT_MISMATCH",
        record_level=True,
        zh="金额与单价×数量不符",
        en="amount differs from price × volume",
    ),
    ScenarioInfo(
        name="price_fraud",
        unit="sales",
        default_rate=0.0005,
        primary_rule="PRICE_MISMATCH",
        record_level=True,
        zh="高于挂牌价销售",
        en="unit price above the posted price",
    ),
    ScenarioInfo(
        name="deleted_metering",
        unit="sales",
        default_rate=0.0005,
        primary_rule="SEQUENCE_GAP",
        record_level=True,
        zh="删除计量记录",
        en="metering record deleted",
    ),
    ScenarioInfo(
        name="off_book",
        unit="sales",
        default_rate=0.0005,
        primary_rule="UNMATCHED_METERING",
        record_level=True,
        zh="加油未入账",
        en="dispensing never settled",
    ),
    ScenarioInfo(
        name="forged",
        unit="sales",
        default_rate=0.0003,
        primary_rule="BAD_SIGNATURE",
        record_level=True,
        zh="篡改计量记录（签名不符）",
        en="altered metering record, old signature",
    ),
    ScenarioInfo(
        name="cloned",
        unit="sales",
        default_rate=0.0003,
        primary_rule="UNKNOWN_DEVICE",
        record_level=True,
        zh="冒用其他油枪身份",
        en="record re-labelled as another nozzle",
    ),
    ScenarioInfo(
        name="unknown_device",
        unit="sales",
        default_rate=0.0002,
        primary_rule="UNKNOWN_DEVICE",
        record_level=True,
        zh="未登记油枪",
        en="unregistered nozzle",
    ),
    ScenarioInfo(
        name="duplicate_seq",
        unit="sales",
        default_rate=0.0003,
        primary_rule="DUPLICATE_SEQ",
        record_level=True,
        zh="同序号不同内容",
        en="same seq, different content",
    ),
    ScenarioInfo(
        name="totalizer_jump",
        unit="sales",
        default_rate=0.0003,
        primary_rule="TOTALIZER_JUMP",
        record_level=True,
        zh="累计数跳变",
        en="totalizer jump",
    ),
    ScenarioInfo(
        name="inconsistent",
        unit="sales",
        default_rate=0.0003,
        primary_rule="METROLOGY_INCONSISTENT",
        record_level=True,
        zh="计量记录自相矛盾",
        en="pulses disagree with volume",
    ),
    ScenarioInfo(
        name="implausible_flow",
        unit="sales",
        default_rate=0.0003,
        primary_rule="FLOW_IMPLAUSIBLE",
        record_level=True,
        zh="流量不合理",
        en="implausible flow or times",
    ),
    ScenarioInfo(
        name="k_change_unauthorised",
        unit="nozzles",
        default_rate=0.002,
        primary_rule="SEAL_BREACH",
        record_level=True,
        zh="未经检定修改K系数",
        en="K changed without verification",
    ),
    ScenarioInfo(
        name="k_change_authorised",
        unit="nozzles",
        default_rate=0.002,
        primary_rule=None,
        record_level=True,
        zh="检定时合法调整K系数",
        en="K changed at a verification (honest)",
    ),
    ScenarioInfo(
        name="undeclared_k",
        unit="nozzles",
        default_rate=0.002,
        primary_rule="K_FACTOR_CHANGE",
        record_level=True,
        zh="未申报的K系数变化",
        en="undeclared K on some records",
    ),
    ScenarioInfo(
        name="seal_unauthorised",
        unit="nozzles",
        default_rate=0.002,
        primary_rule="SEAL_BREACH",
        record_level=True,
        zh="擅自开启铅封",
        en="seal opened without verification",
    ),
    ScenarioInfo(
        name="expired_verification",
        unit="nozzles",
        default_rate=0.003,
        primary_rule="UNVERIFIED_USE",
        record_level=True,
        zh="超期未检仍在使用",
        en="used past its verification due date",
    ),
    ScenarioInfo(
        name="failed_verification",
        unit="nozzles",
        default_rate=0.002,
        primary_rule="UNVERIFIED_USE",
        record_level=True,
        zh="检定不合格仍在使用",
        en="used after a failed verification",
    ),
    ScenarioInfo(
        name="legacy_rigged",
        unit="nozzles",
        default_rate=0.01,
        primary_rule="METER_DRIFT",
        record_level=False,
        zh="老旧加油机计量与销售同步作弊",
        en="legacy board falsifies meter and sale",
    ),
    ScenarioInfo(
        name="meter_drift",
        unit="nozzles",
        default_rate=0.005,
        primary_rule="METER_DRIFT",
        record_level=False,
        zh="计量误差漂移",
        en="meter error drifted beyond ±3‰",
    ),
    ScenarioInfo(
        name="tank_leak",
        unit="tanks",
        default_rate=0.005,
        primary_rule="TANK_LOSS",
        record_level=False,
        zh="油罐渗漏",
        en="tank leaking 0.76 L/h",
    ),
    ScenarioInfo(
        name="firmware_approved",
        unit="nozzles",
        default_rate=0.01,
        primary_rule=None,
        record_level=True,
        zh="检定时升级为批准的计量软件",
        en="approved firmware installed at a verification (honest)",
        firmware=True,
    ),
    ScenarioInfo(
        name="firmware_revoked",
        unit="nozzles",
        default_rate=0.004,
        primary_rule="UNAPPROVED_FIRMWARE",
        record_level=True,
        zh="升级为已撤销的计量软件版本",
        en="firmware updated to a revoked version",
        firmware=True,
    ),
    ScenarioInfo(
        name="firmware_cheat",
        unit="nozzles",
        default_rate=0.003,
        primary_rule="UNAPPROVED_FIRMWARE",
        record_level=True,
        zh="擅自刷入已知作弊程序",
        en="known cheat program flashed without verification",
        firmware=True,
    ),
    ScenarioInfo(
        name="self_lock_authorised",
        unit="nozzles",
        default_rate=0.004,
        primary_rule=None,
        record_level=True,
        zh="加油机自锁，检定后解锁",
        en="dispenser self-locked, unlocked at a verification (honest)",
        firmware=True,
    ),
    ScenarioInfo(
        name="self_lock_unauthorised",
        unit="nozzles",
        default_rate=0.003,
        primary_rule="SELF_LOCK_CLEARED",
        record_level=True,
        zh="自锁后未经检定擅自解锁",
        en="self-lock bypassed and cleared without verification",
        firmware=True,
    ),
    ScenarioInfo(
        name="resends",
        unit="lines",
        default_rate=0.002,
        primary_rule=None,
        record_level=True,
        zh="重复上传",
        en="identical resends",
    ),
    ScenarioInfo(
        name="legacy_pos",
        unit="stations",
        default_rate=0.10,
        primary_rule=None,
        record_level=True,
        zh="老式收银系统（无枪序号）",
        en="legacy POS without pump_seq",
    ),
    ScenarioInfo(
        name="malformed",
        unit="files",
        default_rate=0.10,
        primary_rule=None,
        record_level=True,
        zh="格式错误的行",
        en="malformed lines",
    ),
)

BY_NAME: dict[str, ScenarioInfo] = {s.name: s for s in SCENARIOS}
NAMES: tuple[str, ...] = tuple(BY_NAME)

# Scenarios that act on individual sales (chosen per station) vs on whole nozzles/tanks.
SALE_SCENARIOS: tuple[str, ...] = tuple(s.name for s in SCENARIOS if s.unit == "sales")
NOZZLE_SCENARIOS: tuple[str, ...] = tuple(s.name for s in SCENARIOS if s.unit == "nozzles")
FIRMWARE_SCENARIOS: tuple[str, ...] = tuple(s.name for s in SCENARIOS if s.firmware)
V1_SCENARIOS: tuple[str, ...] = tuple(s.name for s in SCENARIOS if not s.firmware)
# Sale faults that rely on pump_seq pairing, injected only at stations with a modern POS.
PUMP_SEQ_ONLY: frozenset[str] = frozenset({"deleted_metering", "off_book", "implausible_flow"})


class ScenarioSet(msgspec.Struct, frozen=True, kw_only=True):
    """Rates of every scenario; 0.0 switches it off. See ``SCENARIOS`` for units."""

    rigged_inflate: float = 0.0
    amount_fraud: float = 0.0
    price_fraud: float = 0.0
    deleted_metering: float = 0.0
    off_book: float = 0.0
    forged: float = 0.0
    cloned: float = 0.0
    unknown_device: float = 0.0
    duplicate_seq: float = 0.0
    totalizer_jump: float = 0.0
    inconsistent: float = 0.0
    implausible_flow: float = 0.0
    k_change_unauthorised: float = 0.0
    k_change_authorised: float = 0.0
    undeclared_k: float = 0.0
    seal_unauthorised: float = 0.0
    expired_verification: float = 0.0
    failed_verification: float = 0.0
    legacy_rigged: float = 0.0
    meter_drift: float = 0.0
    tank_leak: float = 0.0
    firmware_approved: float = 0.0
    firmware_revoked: float = 0.0
    firmware_cheat: float = 0.0
    self_lock_authorised: float = 0.0
    self_lock_unauthorised: float = 0.0
    resends: float = 0.0
    legacy_pos: float = 0.0
    malformed: float = 0.0

    def __post_init__(self) -> None:
        for name in NAMES:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"scenario {name}: rate {rate} is outside [0, 1]")

    @classmethod
    def honest(cls) -> ScenarioSet:
        """Every switch off: a city where nothing should raise an alarm."""
        return cls()

    @classmethod
    def all(cls) -> ScenarioSet:
        """Every v1 switch on at its modest default rate (the firmware and self-lock
        scenarios of contract v1.1 §F are asked for by name: ``all,firmware``)."""
        return cls(**{s.name: s.default_rate for s in SCENARIOS if not s.firmware})

    @classmethod
    def parse(cls, text: str) -> ScenarioSet:
        """``"all"``, ``"honest"`` or a comma list of names, each optionally ``name=rate``.

        ``all`` and ``honest`` may start a list: ``"all,resends=0"`` or
        ``"honest,legacy_pos"``. ``firmware`` anywhere switches on every scenario of
        contract v1.1 §F (firmware and self-lock) at its default rate: ``"all,firmware"``.
        """
        rates: dict[str, float] = {}
        for i, raw in enumerate(p.strip() for p in text.split(",")):
            if not raw:
                continue
            if raw in ("all", "honest"):
                if i != 0:
                    raise ValueError(f"{raw!r} may only come first in a scenario list")
                if raw == "all":
                    rates.update({s.name: s.default_rate for s in SCENARIOS if not s.firmware})
                continue
            if raw == "firmware":
                rates.update({s.name: s.default_rate for s in SCENARIOS if s.firmware})
                continue
            name, _, value = raw.partition("=")
            name = name.strip()
            if name not in BY_NAME:
                raise ValueError(f"unknown scenario {name!r}; known: all, honest, firmware, {', '.join(NAMES)}")
            if value:
                try:
                    rates[name] = float(value)
                except ValueError:
                    raise ValueError(f"scenario {name}: rate {value!r} is not a number") from None
            else:
                rates[name] = BY_NAME[name].default_rate
        return cls(**rates)

    def enabled(self) -> tuple[str, ...]:
        return tuple(n for n in NAMES if getattr(self, n) > 0)

    @property
    def firmware(self) -> bool:
        """Whether any firmware or self-lock scenario is on (the city then has a firmware
        register and dispenser models; else its registry is v1's)."""
        return any(getattr(self, n) > 0 for n in FIRMWARE_SCENARIOS)

    def rate(self, name: str) -> float:
        return float(getattr(self, name))

    def describe(self) -> str:
        on = self.enabled()
        return "honest" if not on else ",".join(f"{n}={getattr(self, n):g}" for n in on)
