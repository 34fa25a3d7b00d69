"""A simulated Veeder-Root TLS console: a TCP server (or a serial line, e.g. a pty)
answering the computer-format ``i201`` (inventory) and ``i202`` (delivery report)
commands with the manual's framing and checksums. Its tanks lose volume with sales and
gain it with deliveries; the console keeps its last 10 deliveries per tank, as a real
one does. Any other command gets the console's ``9999`` refusal.

Tests drive its clock by hand (:meth:`TlsSimulator.advance`, :meth:`TlsSimulator.deliver`)
and can make it misbehave (:attr:`TlsSimulator.fault`); ``anxin edge gauge-sim`` runs it
on the real clock for vendors and installers.
"""

from __future__ import annotations

import os
import select
import socket
import socketserver
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from anxin.contract.times import LOCAL_TZ
from anxin.edge.gauges.tls import (
    DELIVERIES,
    INVENTORY,
    SOH,
    Delivery,
    Inventory,
    encode_deliveries,
    encode_inventory,
    frame,
    unframe,
)
from anxin.edge.gauges.veeder_root import PRESETS, Units

REFUSAL = SOH + b"9999FF1B\x03"  # the manual's answer to a command the console does not know
FAULTS = ("bad_checksum", "truncated", "garbage", "junk", "silent", "nan", "absurd", "refuse", "wrong_echo")
# A 2.5 m deep, 30 m³ tank: (level mm, volume L), strictly increasing (the tests' registry chart).
DEFAULT_CHART = ((0.0, 0.0), (1000.0, 10_000.0), (2000.0, 25_000.0), (2500.0, 30_000.0))


@dataclass
class SimTank:
    number: int
    volume_l: float
    sales_l_per_min: float = 5.0
    product: str = "1"
    water_mm: float = 3.0
    temp_c: float = 18.0
    chart: tuple[tuple[float, float], ...] = DEFAULT_CHART
    deliveries: deque = field(default_factory=lambda: deque(maxlen=10))  # (start, end, start L, end L, …)

    @property
    def capacity_l(self) -> float:
        return self.chart[-1][1]

    def level_mm(self, volume_l: float | None = None) -> float:
        v = min(max(self.volume_l if volume_l is None else volume_l, 0.0), self.capacity_l)
        i = max(1, bisect_left([c[1] for c in self.chart], v))
        (h0, v0), (h1, v1) = self.chart[i - 1], self.chart[i]
        return h0 + (h1 - h0) * (v - v0) / (v1 - v0)


def chart_from_registry(chart: list[list[int]]) -> tuple[tuple[float, float], ...]:
    """A registry tank's ``chart`` ([level_um, volume_ml] pairs) in mm and litres."""
    return tuple((um / 1000.0, ml / 1000.0) for um, ml in chart)


class TlsSimulator:
    def __init__(
        self,
        tanks: list[SimTank],
        *,
        units: str = "metric",
        start: datetime | None = None,
        security_code: str = "",
    ) -> None:
        self.tanks = {t.number: t for t in tanks}
        self.units = Units(*PRESETS[units])
        self.now = (start or datetime.now(LOCAL_TZ)).replace(microsecond=0, tzinfo=None)  # a console keeps local time
        self.security = security_code.encode()
        self.fault: str | None = None
        self.commands = 0
        self.lock = threading.Lock()
        self.server: socketserver.ThreadingTCPServer | None = None

    # ------------------------------------------------------------ the tanks' physics
    def advance(self, minutes: float) -> None:
        with self.lock:
            self._advance(minutes)

    def _advance(self, minutes: float, inflow_l_per_min: dict[int, float] | None = None) -> None:
        for t in self.tanks.values():
            rate = (inflow_l_per_min or {}).get(t.number, 0.0) - t.sales_l_per_min
            t.volume_l = min(max(t.volume_l + rate * minutes, 0.0), t.capacity_l)
        self.now += timedelta(minutes=minutes)

    def deliver(self, tank: int, litres: float, minutes: int = 20, *, elapse: bool = True) -> None:
        """A tanker unloads ``litres`` over ``minutes`` while sales go on (``elapse``: the
        clock moves on by ``minutes``; else the delivery has just ended, as on a real clock)."""
        with self.lock:
            t = self.tanks[tank]
            if elapse:
                start, before, temp0 = self.now, t.volume_l, t.temp_c
                self._advance(minutes, {tank: litres / minutes})
            else:
                start, before, temp0 = self.now - timedelta(minutes=minutes), t.volume_l, t.temp_c
                t.volume_l = min(t.volume_l + litres, t.capacity_l)
            t.deliveries.append((start, self.now, before, t.volume_l, temp0, t.temp_c))

    # ------------------------------------------------------------ answers
    def answer(self, cmd: bytes) -> bytes | None:
        """The bytes a console sends for one command (SOH, security code, iFFFTT)."""
        with self.lock:
            self.commands += 1
            body = cmd[1:]
            if self.security and not body.startswith(self.security):
                return None  # a wrong security code: a real console stays silent
            body = body[len(self.security) :]
            if (
                self.fault == "refuse"
                or body[:1] != b"i"
                or body[1:4].decode(errors="replace")
                not in (
                    INVENTORY,
                    DELIVERIES,
                )
            ):
                return REFUSAL
            if not body[4:6].isdigit():
                return REFUSAL
            tank = int(body[4:6])
            function = body[1:4].decode()
            out = self._inventory(tank) if function == INVENTORY else self._deliveries(tank)
            return self._spoil(out)

    def _selected(self, tank: int) -> list[SimTank]:
        return [t for n, t in sorted(self.tanks.items()) if tank in (0, n)]

    def _inventory(self, tank: int) -> bytes:
        u, items = self.units, []
        for t in self._selected(tank):
            height, water, temp = t.level_mm(), t.water_mm, t.temp_c
            if self.fault == "nan":
                height = float("nan")
            elif self.fault == "absurd":
                height = 1e9
            vol = t.volume_l
            fields = (
                vol / u.litres(1),
                vol * (1 - 0.0012 * (temp - 15)) / u.litres(1),
                (t.capacity_l * 0.95 - vol) / u.litres(1),
                height / u.mm(1),
                water / u.mm(1),
                temp * 9 / 5 + 32 if u.temperature == "f" else temp,
                0.0,
            )
            items.append(Inventory(t.number, t.product, 0, fields))
        return encode_inventory(tank, self.now, items)

    def _deliveries(self, tank: int) -> bytes:
        u, by_tank = self.units, {}
        for t in self._selected(tank):
            reports = []
            for start, end, v0, v1, temp0, temp1 in reversed(t.deliveries):  # the latest first, as the console lists
                deg0, deg1 = (x * 9 / 5 + 32 if u.temperature == "f" else x for x in (temp0, temp1))
                fields = (
                    v0 / u.litres(1),
                    v0 * (1 - 0.0012 * (temp0 - 15)) / u.litres(1),
                    t.water_mm / u.mm(1),
                    deg0,
                    v1 / u.litres(1),
                    v1 * (1 - 0.0012 * (temp1 - 15)) / u.litres(1),
                    t.water_mm / u.mm(1),
                    deg1,
                    t.level_mm(v0) / u.mm(1),
                    t.level_mm(v1) / u.mm(1),
                )
                if self.fault == "nan":
                    fields = (float("inf"),) + fields[1:]
                reports.append(Delivery(t.number, t.product, start, end, fields))
            by_tank[t.number] = (t.product, reports)
        return encode_deliveries(tank, self.now, by_tank)

    def _spoil(self, out: bytes) -> bytes | None:
        f = self.fault
        if f == "bad_checksum":
            return out[:-5] + (b"0000" if out[-5:-1] != b"0000" else b"0001") + out[-1:]
        if f == "truncated":
            return out[: len(out) // 2]
        if f == "garbage":  # line noise before a good out: read through
            return b"\x00\xffNOISE\x7f" + out
        if f == "junk":  # a out with nothing in it
            return SOH + b"junk\x03"
        if f == "silent":
            return None
        if f == "wrong_echo":
            return frame(b"i999" + unframe(out)[4:])  # a well-formed answer to another command
        return out

    # ------------------------------------------------------------ serving
    def serve_stream(self, read: Callable[[], bytes], write: Callable[[bytes], object]) -> None:
        """Answer the commands arriving through ``read`` (b"": the line is gone)."""
        need = 1 + len(self.security) + 6
        buf = b""
        while True:
            data = read()
            if not data:
                return
            buf += data
            while True:
                start = buf.find(SOH)
                if start < 0:
                    buf = b""
                    break
                buf = buf[start:]
                if len(buf) < need:
                    break
                cmd, buf = buf[:need], buf[need:]
                out = self.answer(cmd)
                if out:
                    write(out)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve TCP in a background thread; the address it listens on."""
        sim = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                try:
                    sim.serve_stream(lambda: sock.recv(4096), sock.sendall)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, name="tls-simulator", daemon=True).start()
        return self.server.server_address[:2]  # type: ignore[return-value]

    def serve_fd(self, fd: int, stop: threading.Event) -> threading.Thread:
        """Serve a serial line (e.g. a pty's master side) in a background thread."""

        def read() -> bytes:
            while not stop.is_set():
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        return os.read(fd, 4096)
                    except OSError:
                        return b""
            return b""

        th = threading.Thread(target=self.serve_stream, args=(read, lambda b: os.write(fd, b)), daemon=True)
        th.start()
        return th

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
