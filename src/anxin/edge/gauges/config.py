"""The gauges' configuration: a TOML file the station operator writes (docs/gauges.md).

```toml
station_id = "S0001"
utc_offset = "+08:00"        # the consoles keep the station's local time
interval_s = 60

[[gauge]]
name = "tls"
type = "veeder-root"
address = "tcp://192.168.1.50:10001"     # or "serial:/dev/ttyUSB0"
units = "metric"                         # the console's setting: metric | us | imperial
tanks = { 1 = "S0001-T1", 2 = "S0001-T2" }
```

Every mistake is a :class:`~anxin.edge.gauges.GaugeConfigError` naming the file, the
field and what was expected; the agent does not start on a wrong file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from anxin.edge.gauges import Gauge, GaugeConfigError
from anxin.edge.gauges.veeder_root import (
    LENGTH_MM,
    PRESETS,
    TEMPERATURES,
    VOLUME_L,
    SerialSettings,
    SerialTransport,
    TcpTransport,
    Transport,
    Units,
    VeederRoot,
)
from anxin.keyed import os_reason

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_ID = re.compile(r"^[^\s\x00-\x1f]{1,64}$")


@dataclass(frozen=True)
class GaugeSpec:
    name: str
    type: str
    address: str
    units: Units
    tanks: dict[int, str]  # the gauge's tank number → the registry's tank_id
    timeout_s: float = 10.0
    security_code: str = ""
    serial: SerialSettings = field(default_factory=SerialSettings)

    def open(self) -> Gauge:
        """The adapter for this gauge (nothing is connected until it is asked)."""
        return ADAPTERS[self.type](self)


@dataclass(frozen=True)
class GaugeSettings:
    station_id: str
    tz: timezone
    gauges: tuple[GaugeSpec, ...]
    interval_s: float = 60.0
    clock_skew_warn_s: float = 180.0  # the console's clock this far from the agent's: a warning


def _transport(spec: GaugeSpec) -> Transport:
    if spec.address.startswith("tcp://"):
        host, port = parse_tcp(spec.address)
        return TcpTransport(host, port, spec.timeout_s)
    return SerialTransport(spec.address[len("serial:") :], spec.serial)


def _veeder_root(spec: GaugeSpec) -> Gauge:
    return VeederRoot(
        spec.name, _transport(spec), units=spec.units, timeout_s=spec.timeout_s, security=spec.security_code
    )


# A gauge's ``type`` → its adapter. Another make: a module implementing
# anxin.edge.gauges.Gauge (over the same transports, or its own) and a line here.
ADAPTERS: dict[str, Callable[[GaugeSpec], Gauge]] = {"veeder-root": _veeder_root}
TYPES = tuple(ADAPTERS)


def parse_tcp(address: str) -> tuple[str, int]:
    host, _, port = address[len("tcp://") :].rstrip("/").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(address)
    return host.strip("[]"), int(port)


def load(path: Path) -> GaugeSettings:
    """Read and check the file. Raises GaugeConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GaugeConfigError("unreadable", path=str(path), reason=os_reason(exc)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GaugeConfigError("syntax", path=str(path), detail=str(exc)) from None
    return parse(doc, str(path))


def parse(doc: dict[str, Any], where: str) -> GaugeSettings:
    f = _Fields(doc, where, "")
    station = f.text("station_id", pattern=_ID)
    offset = f.text("utc_offset", default="+08:00", pattern=_OFFSET, expected="±HH:MM")
    m = _OFFSET.match(offset)
    assert m is not None
    sign = -1 if m.group(1) == "-" else 1
    tz = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    interval = f.number("interval_s", default=60.0, lo=1.0, hi=86_400.0)
    skew = f.number("clock_skew_warn_s", default=180.0, lo=0.0, hi=86_400.0)
    raw = doc.get("gauge")
    if not isinstance(raw, list) or not raw or not all(isinstance(g, dict) for g in raw):
        raise GaugeConfigError("no_gauges", path=where)
    gauges, tank_ids, names = [], set(), set()
    for i, g in enumerate(raw):
        spec = _gauge(_Fields(g, where, f"gauge[{i}]."), i)
        if spec.name in names:
            raise GaugeConfigError("name_twice", path=where, name=spec.name)
        names.add(spec.name)
        for tank_id in spec.tanks.values():
            if tank_id in tank_ids:
                raise GaugeConfigError("tank_twice", path=where, tank_id=tank_id)
            tank_ids.add(tank_id)
        gauges.append(spec)
    return GaugeSettings(station, tz, tuple(gauges), interval, skew)


def _gauge(f: _Fields, i: int) -> GaugeSpec:
    name = f.text("name", default=f"gauge{i + 1}", pattern=_ID)
    kind = f.choice("type", TYPES, default="veeder-root")
    address = f.text("address")
    if address.startswith("tcp://"):
        try:
            parse_tcp(address)
        except ValueError:
            f.bad("address", address, "tcp://HOST:PORT | serial:/dev/…")
    elif not address.startswith("serial:/"):
        f.bad("address", address, "tcp://HOST:PORT | serial:/dev/…")
    preset = PRESETS[f.choice("units", tuple(PRESETS))]
    units = Units(
        f.choice("volume_unit", tuple(VOLUME_L), default=preset[0]),
        f.choice("length_unit", tuple(LENGTH_MM), default=preset[1]),
        f.choice("temperature_unit", TEMPERATURES, default=preset[2]),
    )
    tanks_raw = f.doc.get("tanks")
    if not isinstance(tanks_raw, dict) or not tanks_raw:
        raise GaugeConfigError("missing", path=f.where, field=f.prefix + "tanks")
    tanks: dict[int, str] = {}
    for number, tank_id in tanks_raw.items():
        if not (number.isdigit() and 1 <= int(number) <= 99):
            f.bad(f"tanks.{number}", number, "1 … 99")
        if not (isinstance(tank_id, str) and _ID.match(tank_id)):
            f.bad(f"tanks.{number}", tank_id, "tank_id")
        tanks[int(number)] = tank_id
    security = f.text("security_code", default="")
    if security and not (len(security) == 6 and security.isascii() and security.isprintable()):
        f.bad("security_code", security, "6 ASCII characters")
    serial = SerialSettings(
        baud=int(f.number("baud", default=9600, choices=(300, 1200, 2400, 4800, 9600, 19200, 38400))),
        data_bits=int(f.number("data_bits", default=7, choices=(7, 8))),
        parity=f.choice("parity", ("odd", "even", "none"), default="odd"),
        stop_bits=int(f.number("stop_bits", default=1, choices=(1, 2))),
    )
    timeout = f.number("timeout_s", default=10.0, lo=0.1, hi=300.0)
    return GaugeSpec(name, kind, address, units, tanks, timeout, security, serial)


class _Fields:
    """Typed look-ups in one table of the file, each mistake named by its field."""

    def __init__(self, doc: dict[str, Any], where: str, prefix: str) -> None:
        self.doc, self.where, self.prefix = doc, where, prefix

    def bad(self, name: str, value: Any, expected: str) -> None:
        raise GaugeConfigError("invalid", path=self.where, field=self.prefix + name, value=value, expected=expected)

    def _get(self, name: str, default: Any) -> Any:
        if name in self.doc:
            return self.doc[name]
        if default is None:
            raise GaugeConfigError("missing", path=self.where, field=self.prefix + name)
        return default

    def text(self, name: str, *, default: str | None = None, pattern: re.Pattern | None = None, expected="") -> str:
        v = self._get(name, default)
        if not isinstance(v, str) or (pattern is not None and not pattern.match(v)):
            self.bad(name, v, expected or '"…"')
        return v

    def choice(self, name: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
        v = self._get(name, default)
        if v not in choices:
            self.bad(name, v, " | ".join(choices))
        return v

    def number(self, name: str, *, default: float, lo=None, hi=None, choices: tuple[int, ...] = ()) -> float:
        v = self._get(name, default)
        ok = isinstance(v, int | float) and not isinstance(v, bool)
        if ok and choices:
            ok = v in choices
        elif ok:
            ok = lo <= v <= hi
        if not ok:
            self.bad(name, v, " | ".join(map(str, choices)) if choices else f"{lo:g} … {hi:g}")
        return float(v)
