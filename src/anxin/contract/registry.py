"""The registry (登记信息, contract section 2): stations, tanks, products, nozzles, prices.

``load_registry`` validates the whole file and raises ``RegistryError`` with a
one-line reason naming the offending entry (a key of the catalog's ``registry_error``
table: worded for the operator in the process's language, the admin API's in English); a broken registry stops a run
before any record is read. Key rotation: a nozzle's current key is
``key_id``/``public_key``; keys it used before are listed under the optional
``previous_keys`` with the time each was retired, and records signed with a
retired key are accepted only if they happened before its retirement.
"""

from __future__ import annotations

import bisect
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from anxin.contract.times import TimestampError, to_us
from anxin.keyed import KeyedError, Message, os_reason

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class RegistryError(KeyedError):
    """The registry cannot be used: a one-line reason naming the offending entry, a key of
    the catalog's ``registry_error`` table. From :func:`parse_registry` it is ``in_source``:
    the document's name (``source``) and the problem (``problem``, a :class:`Message`).
    Who reads it is an operator (``str(exc)``: the process's language); the admin API
    answers ``exc.text("en")``."""

    context = "registry_error"


def _at(part: str, index: int, ident: str | None = None) -> str | Message:
    """An entry of the document: ``prices[0]`` (data, as it is), ``tanks[3] (T1)``."""
    if ident is None:
        return f"{part}[{index}]"
    return Message(ctx="registry_error", key="at", params={"part": part, "index": index, "id": ident})


def _invalid(exc: msgspec.ValidationError) -> Message:
    """What the document's shape gets wrong, and where (its JSON path)."""
    detail, _, at = str(exc).partition(" - at `")
    path = at.removesuffix("`") or "$"
    if m := re.fullmatch(r"Object missing required field `(.+)`", detail):
        return Message(ctx="registry_error", key="missing_field", params={"field": m[1], "path": path})
    return Message(ctx="registry_error", key="invalid", params={"detail": detail, "path": path})


HourText = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class Station(msgspec.Struct, kw_only=True, frozen=True):
    station_id: Id
    name: str
    operator: str
    district: str
    lat: float
    lon: float
    # Opening hours, local time ["06:00", "23:00"] (contract v1.1 §D): the station is expected
    # to report between them (past midnight when the first is later); None: learned activity.
    hours: tuple[HourText, HourText] | None = None

    def open_minutes(self) -> tuple[int, int] | None:
        """The opening hours as minutes after local midnight (open, close), or None."""
        if self.hours is None:
            return None
        a, b = (int(h[:2]) * 60 + int(h[3:]) for h in self.hours)
        return a, b


class Tank(msgspec.Struct, kw_only=True, frozen=True):
    tank_id: Id
    station_id: Id
    product: str
    capacity_ml: int
    chart: list[tuple[int, int]]


class Product(msgspec.Struct, kw_only=True, frozen=True):
    product: str
    expansion_ppm_per_c: int


class RetiredKey(msgspec.Struct, kw_only=True, frozen=True):
    key_id: Id
    key_alg: Literal["ed25519", "sm2"]
    public_key: str
    retired_at: datetime


class Nozzle(msgspec.Struct, kw_only=True, frozen=True):
    nozzle_id: Id
    station_id: Id
    dispenser_id: str
    tank_id: Id
    product: str
    anti_cheat: bool
    key_alg: Literal["ed25519", "sm2"]
    key_id: Id
    public_key: str
    k_pulses_per_m3: int
    max_flow_ml_per_min: int
    verified_until: datetime
    last_verification_passed: bool
    previous_keys: list[RetiredKey] = []
    # contract v1.1 §F: the dispenser's model, whose approved firmware the register lists
    dispenser_model: Id | None = None


FirmwareStatus = Literal["approved", "revoked", "known_cheat"]
Sha256Hex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]
VersionText = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Firmware(msgspec.Struct, kw_only=True, frozen=True):
    """One metrology software build of a dispenser model (contract v1.1 §F), entered by
    the verification institute: ``approved`` may run; ``revoked`` no longer may;
    ``known_cheat`` is a cheat program identified by its hash (a critical finding)."""

    dispenser_model: Id
    version: VersionText
    sha256: Sha256Hex
    status: FirmwareStatus


class Institute(msgspec.Struct, kw_only=True, frozen=True):
    """A verification institute (计量检定机构) whose verification records the platform
    authenticates by signature (contract v1.1 §C); ``previous_keys`` as a nozzle's."""

    institute_id: Id
    name: str
    key_alg: Literal["ed25519", "sm2"]
    key_id: Id
    public_key: str
    previous_keys: list[RetiredKey] = []


class Price(msgspec.Struct, kw_only=True, frozen=True):
    station_id: Id
    product: str
    from_: datetime = msgspec.field(name="from")
    unit_price_fen: int


class Registry(msgspec.Struct, kw_only=True, dict=True):
    stations: list[Station]
    tanks: list[Tank] = []
    products: list[Product] = []
    nozzles: list[Nozzle]
    prices: list[Price] = []
    institutes: list[Institute] = []  # contract v1.1 §C: verifications must then be signed
    firmware: list[Firmware] = []  # contract v1.1 §F: the approved-firmware register per model

    def __post_init__(self) -> None:
        self.station_by_id = {s.station_id: s for s in self.stations}
        self.tank_by_id = {t.tank_id: t for t in self.tanks}
        self.nozzle_by_id = {n.nozzle_id: n for n in self.nozzles}
        self.product_by_id = {p.product: p for p in self.products}
        self.institute_by_id = {i.institute_id: i for i in self.institutes}
        # The firmware register (§F): model → sha256 → entry; (model, version) → its
        # approved or revoked build; sha256 → a known cheat program (any model).
        self.firmware_models: dict[str, dict[str, Firmware]] = {}
        self.firmware_version: dict[tuple[str, str], Firmware] = {}
        self.firmware_cheat: dict[str, Firmware] = {}
        for f in self.firmware:
            sha = f.sha256.lower()
            self.firmware_models.setdefault(f.dispenser_model, {}).setdefault(sha, f)
            if f.status == "known_cheat":
                self.firmware_cheat.setdefault(sha, f)
            else:
                self.firmware_version.setdefault((f.dispenser_model, f.version), f)
        self.tanks_of_station: dict[str, list[str]] = {}
        for t in self.tanks:
            self.tanks_of_station.setdefault(t.station_id, []).append(t.tank_id)
        # (station, product) → sorted list of (from_us, price)
        table: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for p in self.prices:
            table.setdefault((p.station_id, p.product), []).append((to_us(p.from_), p.unit_price_fen))
        for rows in table.values():
            rows.sort()
        self._price_from = {k: [r[0] for r in v] for k, v in table.items()}
        self._price_val = {k: [r[1] for r in v] for k, v in table.items()}

    def posted_price(self, station_id: str, product: str, t_us: int) -> int | None:
        """The posted unit price (fen/L) in force at ``t_us``, or None if none was posted yet."""
        froms = self._price_from.get((station_id, product))
        if not froms:
            return None
        i = bisect.bisect_right(froms, t_us) - 1
        return self._price_val[(station_id, product)][i] if i >= 0 else None


def _unique(items: list, attr: str, what: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        key = getattr(item, attr)
        if key in seen:
            raise RegistryError("duplicate", where=_at(what, i), attr=attr, key=key)
        seen.add(key)


def validate(reg: Registry) -> None:
    """Cross-reference checks the type system cannot express."""
    from anxin.crypto.schemes import KeyFormatError, load_verifier

    _unique(reg.stations, "station_id", "stations")
    _unique(reg.tanks, "tank_id", "tanks")
    _unique(reg.nozzles, "nozzle_id", "nozzles")
    _unique(reg.products, "product", "products")
    _unique(reg.institutes, "institute_id", "institutes")
    for i, inst in enumerate(reg.institutes):
        try:
            load_verifier(inst.key_alg, inst.public_key)
            for k in inst.previous_keys:
                load_verifier(k.key_alg, k.public_key)
        except KeyFormatError as exc:
            raise RegistryError("bad_key", where=_at("institutes", i, inst.institute_id), problem=exc.message) from None
    _firmware(reg)
    stations = {s.station_id for s in reg.stations}
    for i, s in enumerate(reg.stations):
        if (m := s.open_minutes()) is not None and m[0] == m[1]:
            raise RegistryError("same_hours", where=_at("stations", i, s.station_id))
    for i, t in enumerate(reg.tanks):
        if t.station_id not in stations:
            raise RegistryError("unknown_station", where=_at("tanks", i, t.tank_id), station_id=t.station_id)
        if len(t.chart) < 2:
            raise RegistryError("chart_short", where=_at("tanks", i, t.tank_id))
        for j in range(1, len(t.chart)):
            if t.chart[j][0] <= t.chart[j - 1][0] or t.chart[j][1] <= t.chart[j - 1][1]:
                raise RegistryError("chart_order", where=_at("tanks", i, t.tank_id), point=j)
    tanks = {t.tank_id: t for t in reg.tanks}
    for i, n in enumerate(reg.nozzles):
        where = _at("nozzles", i, n.nozzle_id)
        if n.station_id not in stations:
            raise RegistryError("unknown_station", where=where, station_id=n.station_id)
        if reg.tanks and n.tank_id not in tanks:
            raise RegistryError("unknown_tank", where=where, tank_id=n.tank_id)
        if n.k_pulses_per_m3 <= 0 or n.max_flow_ml_per_min <= 0:
            raise RegistryError("nozzle_not_positive", where=where)
        try:
            load_verifier(n.key_alg, n.public_key)
            for k in n.previous_keys:
                load_verifier(k.key_alg, k.public_key)
        except KeyFormatError as exc:
            raise RegistryError("bad_key", where=where, problem=exc.message) from None
    for i, p in enumerate(reg.prices):
        if p.station_id not in stations:
            raise RegistryError("unknown_station", where=_at("prices", i), station_id=p.station_id)
        if p.unit_price_fen <= 0:
            raise RegistryError("price_not_positive", where=_at("prices", i))


def _firmware(reg: Registry) -> None:
    """The firmware register says one thing of each build: a hash once per model, one
    approved-or-revoked build per (model, version), and no hash both a known cheat
    program and a build that may run."""
    builds: set[tuple[str, str]] = set()
    versions: set[tuple[str, str]] = set()
    runnable = {f.sha256.lower() for f in reg.firmware if f.status != "known_cheat"}
    for i, f in enumerate(reg.firmware):
        where = _at("firmware", i, f"{f.dispenser_model} {f.version}")
        sha = f.sha256.lower()
        if (f.dispenser_model, sha) in builds:
            raise RegistryError("duplicate", where=where, attr="sha256", key=sha)
        builds.add((f.dispenser_model, sha))
        if f.status == "known_cheat":
            if sha in runnable:
                raise RegistryError("firmware_cheat_runnable", where=where, sha256=sha)
        elif (f.dispenser_model, f.version) in versions:
            raise RegistryError("duplicate", where=where, attr="version", key=f.version)
        else:
            versions.add((f.dispenser_model, f.version))


def parse_registry(data: bytes, source: str = "registry.json") -> Registry:
    try:
        reg = msgspec.json.decode(data, type=Registry)
    except msgspec.ValidationError as exc:
        raise RegistryError("in_source", source=source, problem=_invalid(exc)) from None
    except msgspec.DecodeError as exc:
        not_json = Message(ctx="registry_error", key="not_json", params={"detail": str(exc)})
        raise RegistryError("in_source", source=source, problem=not_json) from None
    except TimestampError as exc:
        raise RegistryError("in_source", source=source, problem=exc.message) from None
    try:
        validate(reg)
    except RegistryError as exc:
        raise RegistryError("in_source", source=source, problem=exc.message) from None
    return reg


def load_registry(path: Path) -> Registry:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryError("unreadable", path=str(path), reason=os_reason(exc)) from None
    return parse_registry(data, str(path))
