"""The Veeder-Root TLS-3xx/4xx serial (RS-232) computer interface, as far as the edge
agent speaks it: framing, checksum, the hex IEEE-754 floats, and the two reports it reads
— in-tank inventory (function 201) and delivery report (function 202).

Source: Veeder-Root "Serial Interface Manual for TLS-300/350/350R", 576013-635
(sections 5–7; the TLS-4xx manual 577013-950 keeps the same computer format):

* command: ``<SOH>`` [6-character security code, when the port has one] ``i`` + 3-digit
  function + 2-digit tank (``00``: all tanks), e.g. ``<SOH>i20100``;
* answer: ``<SOH>`` + the command echoed (``i20100``) + date/time ``YYMMDDHHmm`` + data +
  ``&&`` + checksum (4 hex digits) + ``<ETX>``;
* checksum: the two's complement of the 16-bit sum of every character from ``<SOH>`` up
  to and including ``&&`` — the sum of all of them and the checksum is 0 (mod 2¹⁶);
* a command the console does not know: ``<SOH>9999FF1B<ETX>`` (no ``&&``);
* floats: 8 hex digits, the IEEE-754 single-precision bit pattern (``42C80000`` = 100.0).

i201, per tank: ``TT`` tank, ``p`` product code, ``ssss`` status bits (hex; bit 1 a delivery
in progress, bit 2 a leak test, bit 3 an invalid fuel height), ``NN`` number of floats
(hex), then volume, TC volume, ullage, height, water, temperature, water volume.
i202, per tank: ``TT``, ``p``, ``dd`` deliveries (decimal), each: start ``YYMMDDHHmm``, end
``YYMMDDHHmm``, ``NN`` (hex), then start volume, start TC volume, start water, start
temperature, end volume, end TC volume, end water, end temperature, start height, end height.

Every decoding error is a :class:`ProtocolError` naming what is wrong; nothing else
escapes, whatever the bytes (tests/test_edge_gauge_tls.py checks it with hypothesis).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import datetime

SOH, ETX = b"\x01", b"\x03"
TERMINATOR = b"&&"
UNKNOWN_COMMAND = b"9999"
MAX_FRAME = 256 * 1024  # a console with 99 tanks of 10 deliveries answers i202 in ~100 KiB
INVENTORY, DELIVERIES = "201", "202"
INVALID_HEIGHT = 0x0004  # status bit 3: the probe's fuel height is not valid


class ProtocolError(ValueError):
    """An answer that is not what the protocol says, with what is wrong (for the log)."""


class CommandRefused(ProtocolError):
    """The console answered ``9999``: it does not know the command (or the security code is wrong)."""


# ---------------------------------------------------------------- framing
def checksum(message: bytes) -> int:
    """The checksum of ``message`` (from SOH up to and including ``&&``)."""
    return -sum(message) & 0xFFFF


def command(function: str, tank: int = 0, *, security: str = "") -> bytes:
    """The computer-format command for ``function`` ("201") on ``tank`` (0: all)."""
    if not (len(function) == 3 and function.isalnum() and 0 <= tank <= 99):
        raise ValueError(f"bad command: function {function!r}, tank {tank}")
    return SOH + security.encode("ascii") + f"i{function}{tank:02d}".encode()


def frame(payload: bytes) -> bytes:
    """An answer frame around ``payload`` (the echoed command, date and data)."""
    message = SOH + payload + TERMINATOR
    return message + b"%04X" % checksum(message) + ETX


def unframe(raw: bytes) -> bytes:
    """The payload of one answer frame (between SOH and ``&&``), its checksum checked."""
    if len(raw) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(raw)} bytes, over the {MAX_FRAME}-byte limit")
    if not raw.startswith(SOH):
        raise ProtocolError("frame does not start with SOH")
    if not raw.endswith(ETX):
        raise ProtocolError("frame does not end with ETX (truncated?)")
    body = raw[1:-1]
    if body.startswith(UNKNOWN_COMMAND) and len(body) == 8:
        raise CommandRefused("console answered 9999: command not recognised (or wrong security code)")
    if len(body) < 6 or body[-6:-4] != TERMINATOR:
        raise ProtocolError("no '&&' and 4-digit checksum before ETX (truncated frame?)")
    try:
        given = _hex(body[-4:], "checksum")
    except ProtocolError:
        raise ProtocolError(f"checksum {body[-4:]!r} is not 4 hex digits") from None
    message = raw[:-5]  # SOH … &&
    if (sum(message) + given) & 0xFFFF:
        raise ProtocolError(f"bad checksum {given:04X}, expected {checksum(message):04X}")
    payload = body[:-6]
    if any(not 0x20 <= b <= 0x7E for b in payload):
        raise ProtocolError("non-printable characters inside the frame")
    return payload


# ---------------------------------------------------------------- fields
def float_hex(value: float) -> bytes:
    """8 hex digits of ``value`` as IEEE-754 single precision (big-endian bit pattern)."""
    return struct.pack(">f", value).hex().upper().encode()


def hex_float(text: bytes, what: str = "float") -> float:
    """The float of 8 hex digits (NaN and ±inf come back as such: the caller judges)."""
    if len(text) != 8:
        raise ProtocolError(f"{what}: {text!r} is not 8 hex digits")
    return struct.unpack(">f", _hex(text, what).to_bytes(4, "big"))[0]


def _hex(text: bytes, what: str) -> int:
    if not text or any(b not in b"0123456789ABCDEFabcdef" for b in text):
        raise ProtocolError(f"{what}: {text!r} is not hexadecimal")
    return int(text, 16)


def _dec(text: bytes, what: str) -> int:
    if not text or not text.isdigit():
        raise ProtocolError(f"{what}: {text!r} is not a decimal number")
    return int(text)


def console_time(text: bytes, what: str = "date/time") -> datetime:
    """``YYMMDDHHmm`` → a naive datetime (the console's local time; years 2000–2099)."""
    if len(text) != 10 or not text.isdigit():
        raise ProtocolError(f"{what}: {text!r} is not YYMMDDHHmm")
    try:
        return datetime(2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]))
    except ValueError:
        raise ProtocolError(f"{what}: {text.decode()} is not a date and time") from None


def format_time(at: datetime) -> bytes:
    return at.strftime("%y%m%d%H%M").encode()


class _Cursor:
    """Reads fixed-width fields off a payload, naming what is missing when it ends early."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError(f"answer ends inside {what} (at character {self.pos} of {len(self.data)})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def floats(self, what: str) -> tuple[float, ...]:
        n = _hex(self.take(2, f"{what}: number of fields"), f"{what}: number of fields")
        return tuple(hex_float(self.take(8, f"{what}: field {i + 1}"), f"{what}: field {i + 1}") for i in range(n))

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


# ---------------------------------------------------------------- reports
@dataclass(frozen=True, slots=True)
class Inventory:
    """One tank of an i201 answer, in the console's units."""

    tank: int
    product: str
    status: int
    fields: tuple[float, ...]  # volume, TC volume, ullage, height, water, temperature, water volume …

    volume = property(lambda self: self.fields[0])
    height = property(lambda self: self.fields[3])
    water = property(lambda self: self.fields[4])
    temperature = property(lambda self: self.fields[5])


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of an i202 answer, in the console's units."""

    tank: int
    product: str
    start: datetime
    end: datetime
    fields: tuple[float, ...]  # start volume, TC, water, temp, end volume, TC, water, temp, start/end height

    start_volume = property(lambda self: self.fields[0])
    end_volume = property(lambda self: self.fields[4])


@dataclass(frozen=True, slots=True)
class Report:
    """A decoded answer: the console's clock when it answered, and its items."""

    function: str
    tank: int
    at: datetime
    items: tuple  # Inventory or Delivery


def _header(payload: bytes, function: str) -> tuple[_Cursor, int, datetime]:
    cur = _Cursor(payload)
    echo = cur.take(6, "the echoed command")
    if echo[:4] != b"i" + function.encode():
        raise ProtocolError(f"answer to {echo[:4]!r}, not to i{function}")
    tank = _dec(echo[4:6], "tank number of the command")
    return cur, tank, console_time(cur.take(10, "date/time"), "answer date/time")


def parse_inventory(payload: bytes) -> Report:
    """An i201 payload (from :func:`unframe`)."""
    cur, tank, at = _header(payload, INVENTORY)
    items = []
    while not cur.done:
        n = _dec(cur.take(2, "tank number"), "tank number")
        product = cur.take(1, f"tank {n}: product code").decode("ascii", "replace")
        status = _hex(cur.take(4, f"tank {n}: status"), f"tank {n}: status")
        fields = cur.floats(f"tank {n}")
        if len(fields) < 6:
            raise ProtocolError(f"tank {n}: {len(fields)} fields, fewer than the 6 up to temperature")
        items.append(Inventory(n, product, status, fields))
    return Report(INVENTORY, tank, at, tuple(items))


def parse_deliveries(payload: bytes) -> Report:
    """An i202 payload (from :func:`unframe`)."""
    cur, tank, at = _header(payload, DELIVERIES)
    items = []
    while not cur.done:
        n = _dec(cur.take(2, "tank number"), "tank number")
        product = cur.take(1, f"tank {n}: product code").decode("ascii", "replace")
        count = _dec(cur.take(2, f"tank {n}: number of deliveries"), f"tank {n}: number of deliveries")
        for k in range(count):
            what = f"tank {n}, delivery {k + 1}"
            start = console_time(cur.take(10, f"{what}: start"), f"{what}: start")
            end = console_time(cur.take(10, f"{what}: end"), f"{what}: end")
            fields = cur.floats(what)
            if len(fields) < 5:
                raise ProtocolError(f"{what}: {len(fields)} fields, fewer than the 5 up to the end volume")
            items.append(Delivery(n, product, start, end, fields))
    return Report(DELIVERIES, tank, at, tuple(items))


PARSERS = {INVENTORY: parse_inventory, DELIVERIES: parse_deliveries}


# ---------------------------------------------------------------- encoding (the simulator's side)
def encode_inventory(tank: int, at: datetime, items: list[Inventory]) -> bytes:
    data = b"".join(
        b"%02d%s%04X%02X" % (i.tank, i.product.encode(), i.status, len(i.fields)) + b"".join(map(float_hex, i.fields))
        for i in items
    )
    return frame(b"i201%02d" % tank + format_time(at) + data)


def encode_deliveries(tank: int, at: datetime, by_tank: dict[int, tuple[str, list[Delivery]]]) -> bytes:
    parts = []
    for n, (product, deliveries) in sorted(by_tank.items()):
        parts.append(b"%02d%s%02d" % (n, product.encode(), len(deliveries)))
        for d in deliveries:
            parts.append(format_time(d.start) + format_time(d.end) + b"%02X" % len(d.fields))
            parts.append(b"".join(map(float_hex, d.fields)))
    return frame(b"i202%02d" % tank + format_time(at) + b"".join(parts))


def finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)
