"""Veeder-Root TLS-3xx/4xx consoles over TCP (the console's serial-to-Ethernet port, or
a serial device server) or a serial port (RS-232, opened as a device file with termios:
no pyserial needed on the station's box).

One exchange: drop whatever the line holds (a late answer to an earlier command), send
the command, read until a frame that answers it ends (garbage before SOH and frames
answering something else are skipped), within the timeout. Any failure closes the
connection so the next poll starts clean, and raises :class:`GaugeError` naming it.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import time
from dataclasses import dataclass
from typing import Protocol

from anxin.edge.gauges import Answer, GaugeError, Level, Unload
from anxin.edge.gauges.tls import (
    DELIVERIES,
    ETX,
    INVALID_HEIGHT,
    INVENTORY,
    MAX_FRAME,
    PARSERS,
    SOH,
    ProtocolError,
    Report,
    command,
    finite,
    unframe,
)

log = logging.getLogger("anxin.edge.gauges")

# The console's units setting → SI: litres per volume unit, mm per length unit.
VOLUME_L = {"l": 1.0, "us_gal": 3.785411784, "imp_gal": 4.54609}
LENGTH_MM = {"mm": 1.0, "in": 25.4}
TEMPERATURES = ("c", "f")
PRESETS = {"metric": ("l", "mm", "c"), "us": ("us_gal", "in", "f"), "imperial": ("imp_gal", "mm", "c")}


@dataclass(frozen=True, slots=True)
class Units:
    """The console's configured units (the computer format sends numbers in them)."""

    volume: str = "l"
    length: str = "mm"
    temperature: str = "c"

    def litres(self, v: float) -> float:
        return v * VOLUME_L[self.volume]

    def mm(self, v: float) -> float:
        return v * LENGTH_MM[self.length]

    def celsius(self, v: float) -> float:
        return (v - 32.0) * 5.0 / 9.0 if self.temperature == "f" else v


# ---------------------------------------------------------------- transports
class Transport(Protocol):
    def send(self, data: bytes) -> None: ...
    def recv(self, timeout: float) -> bytes: ...  # b"" on timeout; raises OSError when the line is gone
    def close(self) -> None: ...


class TcpTransport:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None

    def _open(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        return self.sock

    def send(self, data: bytes) -> None:
        self._open().sendall(data)

    def recv(self, timeout: float) -> bytes:
        sock = self._open()
        sock.settimeout(max(timeout, 0.001))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return b""
        if not data:
            raise ConnectionResetError("the console closed the connection")
        return data

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __str__(self) -> str:
        return f"tcp://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SerialSettings:
    baud: int = 9600  # the console's factory setting: 9600 baud, 7 data bits, odd parity, 1 stop bit
    data_bits: int = 7
    parity: str = "odd"  # odd | even | none
    stop_bits: int = 1


class SerialTransport:
    """A serial device (``/dev/ttyS0``, ``/dev/ttyUSB0``) in raw mode, set with termios."""

    def __init__(self, path: str, settings: SerialSettings) -> None:
        self.path, self.s = path, settings
        self.fd: int | None = None

    def _open(self) -> int:
        if self.fd is None:
            import termios

            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
                speed = getattr(termios, f"B{self.s.baud}")
                iflag = termios.IGNBRK | (termios.INPCK if self.s.parity != "none" else 0)
                oflag = 0
                lflag = 0
                cflag = termios.CREAD | termios.CLOCAL | (termios.CS7 if self.s.data_bits == 7 else termios.CS8)
                if self.s.parity != "none":
                    cflag |= termios.PARENB | (termios.PARODD if self.s.parity == "odd" else 0)
                if self.s.stop_bits == 2:
                    cflag |= termios.CSTOPB
                cc[termios.VMIN], cc[termios.VTIME] = 0, 0
                termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc])
            except termios.error as exc:  # a file, a socket …: not a terminal device
                os.close(fd)
                raise OSError(errno.ENOTTY, f"{self.path} is not a serial port ({exc.args[-1]})") from None
            except Exception:
                os.close(fd)
                raise
            self.fd = fd
        return self.fd

    def send(self, data: bytes) -> None:
        fd = self._open()
        view = memoryview(data)
        while view:
            select.select([], [fd], [], 5)
            view = view[os.write(fd, view) :]

    def recv(self, timeout: float) -> bytes:
        fd = self._open()
        ready, _, _ = select.select([fd], [], [], max(timeout, 0))
        if not ready:
            return b""
        try:
            return os.read(fd, 65536)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __str__(self) -> str:
        return f"serial:{self.path}"


# ---------------------------------------------------------------- exchanges
def exchange(transport: Transport, cmd: bytes, timeout: float) -> bytes:
    """Send ``cmd``; the payload of the frame answering it. Raises GaugeError, having
    closed the transport (a half-read answer must not leak into the next one)."""
    echo = cmd[-6:]
    try:
        stale = 0
        while stale < MAX_FRAME and (chunk := transport.recv(0)):  # a late answer to an earlier command
            stale += len(chunk)  # (bounded: a console that never stops talking is read below, to the timeout)
        transport.send(cmd)
        deadline = time.monotonic() + timeout
        buf = b""
        said: set[str] = set()  # each oddity logged once per exchange: a flooding console floods no log
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                what = (
                    f"{len(buf)} bytes of an unfinished answer"
                    if buf
                    else "no answer: check the address, the wiring, the port settings and the security code"
                )
                raise GaugeError(f"{transport}: timeout after {timeout:g} s waiting for {echo.decode()} ({what})")
            buf += transport.recv(left)
            while (end := buf.find(ETX)) >= 0:  # a frame holds no SOH or ETX inside: the last SOH before ETX
                start = buf.rfind(SOH, 0, end)
                if start != 0:
                    noise = end + 1 if start < 0 else start
                    _once(said, "gauge sent bytes outside a frame", gauge=str(transport), bytes=noise)
                    buf = buf[noise:]
                    if start < 0:
                        continue
                    end -= noise
                raw, buf = buf[: end + 1], buf[end + 1 :]
                payload = unframe(raw)
                if payload[:6] == echo:
                    return payload
                answer = payload[:6].decode("ascii", "replace")
                _once(said, "gauge answered another command: skipped", gauge=str(transport), answer=answer)
            if SOH not in buf:
                buf = b""  # noise: nothing of a frame yet
            elif len(buf) > MAX_FRAME:
                raise GaugeError(f"{transport}: no ETX within {MAX_FRAME} bytes")
    except ProtocolError as exc:
        transport.close()
        raise GaugeError(f"{transport}: {exc}") from None
    except OSError as exc:
        transport.close()
        raise GaugeError(f"{transport}: {exc.strerror or exc}") from None
    except GaugeError:
        transport.close()
        raise


def _once(said: set[str], event: str, **extra) -> None:
    if event not in said:
        said.add(event)
        log.warning(event, extra=extra)


class VeederRoot:
    """A TLS console (a :class:`~anxin.edge.gauges.Gauge`)."""

    def __init__(
        self, name: str, transport: Transport, *, units: Units, timeout_s: float = 10.0, security: str = ""
    ) -> None:
        self.name, self.transport, self.units = name, transport, units
        self.timeout_s, self.security = timeout_s, security

    def close(self) -> None:
        self.transport.close()

    def report(self, function: str) -> Report:
        payload = exchange(self.transport, command(function, 0, security=self.security), self.timeout_s)
        try:
            return PARSERS[function](payload)
        except ProtocolError as exc:
            raise GaugeError(f"{self.transport}: i{function}: {exc}") from None

    def levels(self) -> Answer:
        rep = self.report(INVENTORY)
        items, problems = [], []
        u = self.units
        for inv in rep.items:
            if not finite(inv.height, inv.water, inv.temperature):
                problems.append(f"tank {inv.tank}: height/water/temperature not a number ({inv.fields[3:6]})")
            elif inv.status & INVALID_HEIGHT:
                problems.append(f"tank {inv.tank}: the console flags its fuel height invalid (status {inv.status:04X})")
            else:
                height, water, temp = u.mm(inv.height), u.mm(inv.water), u.celsius(inv.temperature)
                items.append(Level(inv.tank, rep.at, height, water, temp, inv.status))
        return Answer(rep.at, tuple(items), tuple(problems))

    def unloads(self) -> Answer:
        rep = self.report(DELIVERIES)
        items, problems = [], []
        for d in rep.items:
            if not finite(d.start_volume, d.end_volume):
                problems.append(f"tank {d.tank}: delivery {d.start:%Y-%m-%d %H:%M}: volumes not a number")
                continue
            start_l, end_l = self.units.litres(d.start_volume), self.units.litres(d.end_volume)
            items.append(Unload(d.tank, d.start, d.end, end_l - start_l, start_l, end_l))
        return Answer(rep.at, tuple(items), tuple(problems))
