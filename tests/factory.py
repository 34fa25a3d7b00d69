"""Hand-made, fully controlled contract-v1 data for engine tests: a registry with
real keys and helpers that build signed records line by line."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import msgspec

from anxin.check.book import AlarmBook
from anxin.contract.canonical import canonical_of_dict
from anxin.contract.parse import Parsed, parse_line
from anxin.contract.registry import Registry, parse_registry
from anxin.contract.times import US_PER_MIN, US_PER_S, format_ts, parse_ts
from anxin.crypto.keys import KeyRing, authenticate
from anxin.crypto.schemes import generate_signer
from anxin.engine import Engine, EngineSettings

T0 = parse_ts("2026-03-02T08:00:00.000+08:00")
K = 100_000
PRICE = 800


def vol_from_pulses(pulses: int, k: int = K) -> int:
    return round(pulses * 1e6 / k)


@dataclass
class Nozzle:
    nozzle_id: str
    alg: str
    signer: Any
    seq: int = 1000
    totalizer: int = 5_000_000
    anti_cheat: bool = True


@dataclass
class City:
    """One or two stations, a tank each, a few nozzles with real Ed25519/SM2 keys."""

    nozzles: dict[str, Nozzle] = field(default_factory=dict)
    registry_extra: dict[str, Any] = field(default_factory=dict)
    verified_until: str = "2026-09-01T00:00:00.000+08:00"
    orders: int = 0

    def __post_init__(self) -> None:
        for nid, alg, ac in (
            ("S1-N1", "ed25519", True),
            ("S1-N2", "sm2", True),
            ("S1-N3", "ed25519", False),
            ("S2-N1", "ed25519", True),
        ):
            self.nozzles[nid] = Nozzle(nid, alg, generate_signer(alg, nid.encode() * 8), anti_cheat=ac)

    def registry_dict(self) -> dict[str, Any]:
        chart = [[0, 0], [1_000_000, 10_000_000], [2_000_000, 25_000_000], [2_500_000, 30_000_000]]
        reg = {
            "stations": [
                {
                    "station_id": s,
                    "name": f"测试站{s}",
                    "operator": "中国石化",
                    "district": "上城区",
                    "lat": 30.25,
                    "lon": 120.17,
                }
                for s in ("S1", "S2")
            ],
            "tanks": [
                {"tank_id": f"{s}-T1", "station_id": s, "product": "92", "capacity_ml": 30_000_000, "chart": chart}
                for s in ("S1", "S2")
            ],
            "products": [{"product": "92", "expansion_ppm_per_c": 1200}],
            "nozzles": [
                {
                    "nozzle_id": n.nozzle_id,
                    "station_id": n.nozzle_id[:2],
                    "dispenser_id": "D1",
                    "tank_id": f"{n.nozzle_id[:2]}-T1",
                    "product": "92",
                    "anti_cheat": n.anti_cheat,
                    "key_alg": n.alg,
                    "key_id": f"{n.nozzle_id}-k1",
                    "public_key": n.signer.public_key_text,
                    "k_pulses_per_m3": K,
                    "max_flow_ml_per_min": 50_000,
                    "verified_until": self.verified_until,
                    "last_verification_passed": True,
                }
                for n in self.nozzles.values()
            ],
            "prices": [
                {"station_id": s, "product": "92", "from": "2026-01-01T00:00:00.000+08:00", "unit_price_fen": PRICE}
                for s in ("S1", "S2")
            ],
        }
        for k, v in self.registry_extra.items():
            reg[k] = v
        return reg

    def registry(self) -> Registry:
        return parse_registry(msgspec.json.encode(self.registry_dict()))

    # ----------------------------------------------------------- records
    def sign(self, nozzle_id: str, rec: dict[str, Any]) -> dict[str, Any]:
        n = self.nozzles[nozzle_id]
        rec["sig"] = base64.b64encode(n.signer.sign(canonical_of_dict(rec))).decode()
        return rec

    def metering(
        self,
        nozzle_id: str,
        start_us: int,
        volume_ml: int = 30_000,
        *,
        duration_s: float = 60,
        k: int = K,
        seq: int | None = None,
        sign: bool = True,
        **over: Any,
    ) -> dict[str, Any]:
        n = self.nozzles[nozzle_id]
        if seq is None:
            n.seq += 1
            seq = n.seq
        pulses = round(volume_ml * k / 1e6)
        vol = vol_from_pulses(pulses, k)
        rec = {
            "kind": "metering",
            "station_id": nozzle_id[:2],
            "nozzle_id": nozzle_id,
            "seq": seq,
            "start": format_ts(start_us),
            "end": format_ts(start_us + int(duration_s * US_PER_S)),
            "pulses": pulses,
            "k_pulses_per_m3": k,
            "volume_ml": vol,
            "totalizer_start_ml": n.totalizer,
            "totalizer_end_ml": n.totalizer + vol,
            "key_id": f"{nozzle_id}-k1",
        }
        n.totalizer += vol
        rec.update(over)
        return self.sign(nozzle_id, rec) if sign else rec

    def event(self, nozzle_id: str, ts_us: int, event: str, data: dict | None = None, **over: Any) -> dict:
        n = self.nozzles[nozzle_id]
        n.seq += 1
        rec = {
            "kind": "event",
            "station_id": nozzle_id[:2],
            "nozzle_id": nozzle_id,
            "seq": n.seq,
            "ts": format_ts(ts_us),
            "event": event,
            "data": data or {},
            "key_id": f"{nozzle_id}-k1",
        }
        rec.update(over)
        return self.sign(nozzle_id, rec)

    def sale(
        self,
        m: dict[str, Any],
        *,
        delay_s: float = 20,
        legacy: bool = False,
        price: int = PRICE,
        volume_ml: int | None = None,
        **over: Any,
    ) -> dict[str, Any]:
        self.orders += 1
        vol = volume_ml if volume_ml is not None else 10 * ((m["volume_ml"] + 5) // 10)
        rec = {
            "kind": "settlement",
            "station_id": m["station_id"],
            "order_id": f"O{self.orders:06d}",
            "nozzle_id": m["nozzle_id"],
            "pump_seq": None if legacy else m["seq"],
            "ts": format_ts(parse_ts(m["end"]) + int(delay_s * US_PER_S)),
            "volume_ml": vol,
            "unit_price_fen": price,
            "amount_fen": (vol * price + 500) // 1000,
            "paid_fen": (vol * price + 500) // 1000,
            "payment": "wechat",
        }
        rec.update(over)
        return rec

    def verification(
        self, nozzle_id: str, ts_us: int, *, passed: bool = True, k: int = K, valid_days: int = 180
    ) -> dict[str, Any]:
        ind = 20_010 if passed else 20_100
        runs = [
            {
                "flow_ml_per_min": f,
                "standard_ml": 20_000,
                "indicated_ml": ind,
                "standard_temp_mc": 20_000,
                "dispenser_temp_mc": 20_000,
            }
            for f in (40_000, 40_000, 8_000, 8_000)
        ]
        return {
            "kind": "verification",
            "station_id": nozzle_id[:2],
            "nozzle_id": nozzle_id,
            "ts": format_ts(ts_us),
            "type": "periodic",
            "org": "杭州市计量检定测试院",
            "certificate_no": f"JD-{ts_us}",
            "k_pulses_per_m3": k,
            "valid_until": format_ts(ts_us + valid_days * 24 * 3600 * US_PER_S),
            "runs": runs,
        }

    def honest_day(
        self, nozzle_id: str, start_us: int, n: int, *, gap_min: float = 7, legacy: bool = False
    ) -> list[dict[str, Any]]:
        """n honest dispensings with their sales, in arrival order."""
        out = []
        t = start_us
        for i in range(n):
            m = self.metering(nozzle_id, t, 20_000 + 997 * (i % 23))
            out += [m, self.sale(m, legacy=legacy)]
            t += int(gap_min * US_PER_MIN)
        return out


def line(rec: dict[str, Any]) -> bytes:
    return msgspec.json.encode(rec)


def run(
    registry: Registry,
    records: list[dict[str, Any]] | list[bytes],
    *,
    settings: EngineSettings | None = None,
    keyring: KeyRing | None = None,
) -> AlarmBook:
    """Parse, authenticate and feed records one by one; the alarms in a book."""
    engine = Engine(registry, settings) if settings else Engine(registry)
    ring = keyring or KeyRing.from_registry(registry)
    book = AlarmBook()
    for r in records:
        p = parse_line(r if isinstance(r, bytes) else line(r))
        assert isinstance(p, Parsed), p
        book.add(engine.feed(p, authenticate(p, ring)))
    book.engine = engine  # type: ignore[attr-defined]
    return book


def rules_of(book: AlarmBook) -> list[tuple]:
    return sorted((a.rule, a.nozzle_id, a.seq, a.order_id) for a in book.alarms.values())


def flush_after(city: City, nozzle_id: str, t_us: int, hours: float = 4) -> list[dict[str, Any]]:
    """An honest dispensing on another nozzle much later, to push the watermark past horizons."""
    m = city.metering(nozzle_id, t_us + int(hours * 3600 * US_PER_S))
    return [m, city.sale(m)]


def one_nozzle_registry(
    *, key_id: str, public_key: str, unit_price_fen: int, verified_until: str, name: str = "测试站"
) -> dict[str, Any]:
    """A registry document of one station S0001, one tank and one Ed25519 nozzle N0001-1
    (K 998 700, 50 L/min): what a vendor's or an API test's server starts with."""
    return {
        "stations": [
            {"station_id": "S0001", "name": name, "operator": "测试", "district": "上城区", "lat": 30.2, "lon": 120.1}
        ],
        "tanks": [
            {
                "tank_id": "S0001-T1",
                "station_id": "S0001",
                "product": "92",
                "capacity_ml": 30_000_000,
                "chart": [[0, 0], [2_500_000, 30_000_000]],
            }
        ],
        "products": [{"product": "92", "expansion_ppm_per_c": 1200}],
        "nozzles": [
            {
                "nozzle_id": "N0001-1",
                "station_id": "S0001",
                "dispenser_id": "D1",
                "tank_id": "S0001-T1",
                "product": "92",
                "anti_cheat": True,
                "key_alg": "ed25519",
                "key_id": key_id,
                "public_key": public_key,
                "k_pulses_per_m3": 998_700,
                "max_flow_ml_per_min": 50_000,
                "verified_until": verified_until,
                "last_verification_passed": True,
            }
        ],
        "prices": [
            {
                "station_id": "S0001",
                "product": "92",
                "from": "2026-01-01T00:00:00.000+08:00",
                "unit_price_fen": unit_price_fen,
            }
        ],
    }
