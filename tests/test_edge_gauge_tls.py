"""The Veeder-Root TLS computer interface as the edge agent decodes it (issue 16 item 3):
framing and checksum against frames from public sources and frames computed by hand,
the hex IEEE-754 floats, i201/i202 layouts, the console's units; and, with hypothesis,
that no bytes whatever crash the decoder (only a ProtocolError / GaugeError naming what
is wrong) and that a valid frame round-trips."""

from __future__ import annotations

import json
import logging
import math
import struct
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.edge.gauges import GaugeError
from anxin.edge.gauges.tls import (
    CommandRefused,
    Delivery,
    Inventory,
    ProtocolError,
    checksum,
    command,
    encode_deliveries,
    encode_inventory,
    float_hex,
    frame,
    hex_float,
    parse_deliveries,
    parse_inventory,
    unframe,
)
from anxin.edge.gauges.veeder_root import PRESETS, Units, exchange

# A TLS-350's answer to i10100 as printed in the README of eredden/Veeder-Root-TLS-Socket-Library
# (github.com/eredden/Veeder-Root-TLS-Socket-Library): its checksum FB3B counts the SOH.
PUBLIC_I101 = b"\x01i101002312301342020402&&FB3B\x03"
# Serial Interface Manual 576013-635, section 5: "<SOH>9999FF1B<ETX> … the FF1B is the
# appropriate checksum for the preceding <SOH>9999 string" (quoted by several public clients).
MANUAL_REFUSAL = b"\x019999FF1B\x03"

# By hand: i201 for all tanks, 2026-03-02 08:00, tank 01, product '1', status 0000, 7 fields:
# volume 20000.0 (469C4000), TC volume 19904.0 (469B8000), ullage 8500.0 (4604D000),
# height 1500.0 (44BB8000), water 3.0 (40400000), temperature 18.0 (41900000), water volume 0.
# Checksum: the sum of SOH … && is 0x1099A; −0x1099A mod 2¹⁶ = 0xEF66.
HAND_I201 = b"\x01i201002603020800011000007469C4000469B80004604D00044BB8000404000004190000000000000&&EF66\x03"
# By hand: i202, 2026-03-02 10:30, tank 01, product '1', 01 delivery 09:30 → 09:55, 0A fields:
# start volume 12000.0 (463B8000), TC 12000.0, water 3.0, temp 18.0, end volume 21000.0
# (46A41000), TC 21000.0, water 3.0, temp 18.0, start/end height 1500.0. Checksum E6E6.
HAND_I202 = (
    b"\x01i202002603021030"
    b"01101" + b"2603020930" + b"2603020955" + b"0A"
    b"463B8000463B80004040000041900000"
    b"46A4100046A410004040000041900000"
    b"44BB800044BB8000"
    b"&&E6E6\x03"
)


def test_a_public_frame_and_the_manuals_refusal_check_out():
    assert checksum(PUBLIC_I101[:-5]) == 0xFB3B
    assert unframe(PUBLIC_I101) == b"i101002312301342020402"
    assert checksum(b"\x019999") == 0xFF1B
    with pytest.raises(CommandRefused, match="9999"):
        unframe(MANUAL_REFUSAL)


def test_the_command_format():
    assert command("201") == b"\x01i20100"
    assert command("202", 3, security="ABC123") == b"\x01ABC123i20203"
    with pytest.raises(ValueError):
        command("2011")


def test_floats_as_the_manual_encodes_them():
    assert hex_float(b"42C80000") == 100.0
    assert hex_float(b"44BB8000") == 1500.0
    assert hex_float(b"B8D1B717") == pytest.approx(-0.0001)  # eredden's test vector
    assert float_hex(20000.0) == b"469C4000"
    assert math.isnan(hex_float(b"7FC00000")) and hex_float(b"7F800000") == math.inf
    with pytest.raises(ProtocolError, match="not hexadecimal"):
        hex_float(b"4X800000")


def test_a_hand_computed_inventory():
    rep = parse_inventory(unframe(HAND_I201))
    assert rep.at == datetime(2026, 3, 2, 8, 0) and rep.tank == 0
    (tank,) = rep.items
    assert (tank.tank, tank.product, tank.status) == (1, "1", 0)
    assert (tank.volume, tank.height, tank.water, tank.temperature) == (20000.0, 1500.0, 3.0, 18.0)
    assert tank.fields[1:3] == (19904.0, 8500.0)


def test_a_hand_computed_delivery_report():
    rep = parse_deliveries(unframe(HAND_I202))
    (d,) = rep.items
    assert (d.tank, d.start, d.end) == (1, datetime(2026, 3, 2, 9, 30), datetime(2026, 3, 2, 9, 55))
    assert (d.start_volume, d.end_volume) == (12000.0, 21000.0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (HAND_I201[:-5] + b"EF67\x03", "bad checksum EF67, expected EF66"),
        (HAND_I201[:40], "does not end with ETX"),
        (HAND_I201[1:], "does not start with SOH"),
        (HAND_I201[:-7] + b"EF66\x03", "no '&&'"),
        (HAND_I201[:-5] + b"EFGG\x03", "not 4 hex digits"),
    ],
)
def test_broken_frames_are_named(raw, reason):
    with pytest.raises(ProtocolError, match=reason):
        unframe(raw)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"i201002613020800", "not a date and time"),  # month 13
        (b"i20100260302", "answer ends inside date/time"),
        (b"i201002603020800011000007469C4000", "tank 1: field 2"),
        (b"i201002603020800011000003469C4000469C4000469C4000", "fewer than the 6"),
        (b"i202002603020800", "answer to b'i202', not to i201"),
    ],
)
def test_broken_inventories_are_named(payload, reason):
    with pytest.raises(ProtocolError, match=reason):
        parse_inventory(payload)


def test_the_consoles_units():
    us = Units(*PRESETS["us"])
    assert us.mm(60.0) == pytest.approx(1524.0) and us.celsius(64.4) == pytest.approx(18.0)
    assert us.litres(1000.0) == pytest.approx(3785.411784)
    imperial = Units(*PRESETS["imperial"])
    assert imperial.litres(1.0) == 4.54609 and imperial.mm(1.0) == 1.0
    metric = Units(*PRESETS["metric"])
    assert (metric.litres(1.5), metric.mm(2.0), metric.celsius(-5.0)) == (1.5, 2.0, -5.0)


# ---------------------------------------------------------------- properties
f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
when = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
product = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_any_bytes_are_a_frame_or_a_named_error(raw):
    for data in (raw, b"\x01" + raw, b"\x01i20100" + raw + b"\x03", b"\x01i20200" + raw + b"\x03"):
        try:
            payload = unframe(data)
            (parse_deliveries if payload.startswith(b"i202") else parse_inventory)(payload)
        except ProtocolError as exc:
            assert str(exc)


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from([b"i201", b"i202"]))
def test_any_payload_decodes_or_names_its_error(tail, fn):
    payload = fn + b"00" + b"2603020800" + tail
    try:
        (parse_inventory if fn == b"i201" else parse_deliveries)(payload)
    except ProtocolError as exc:
        assert str(exc)


class _Line:
    """A transport answering whatever bytes it was given, in chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks, self.closed = list(chunks), False

    def send(self, data: bytes) -> None:
        self.sent = data

    def recv(self, timeout: float) -> bytes:
        if timeout == 0 or not self.chunks:
            return b""
        return self.chunks.pop(0)

    def close(self) -> None:
        self.closed = True

    def __str__(self) -> str:
        return "test-line"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=6))
def test_an_exchange_with_a_hostile_console_ends_in_an_answer_or_a_named_error(chunks):
    line = _Line(chunks)
    try:
        payload = exchange(line, command("201"), timeout=0.005)
        assert payload.startswith(b"i20100")
    except GaugeError as exc:
        assert str(exc).startswith("test-line: ") and line.closed


def test_an_exchange_reads_through_noise_and_stale_answers():
    stale = frame(b"i202002603020800")
    line = _Line([b"\xff\x00noise", stale + HAND_I201[:30], HAND_I201[30:]])
    assert exchange(line, command("201"), timeout=1.0) == unframe(HAND_I201)
    assert not line.closed


inventory = st.builds(
    Inventory,
    tank=st.integers(1, 99),
    product=product,
    status=st.integers(0, 0xFFFF),
    fields=st.tuples(*[f32] * 7),
)


@given(st.lists(inventory, max_size=8), when, st.integers(0, 99))
def test_an_inventory_round_trips(items, at, tank):
    raw = encode_inventory(tank, at, items)
    rep = parse_inventory(unframe(raw))
    assert (rep.tank, rep.at, list(rep.items)) == (tank, at, items)


@given(
    st.dictionaries(
        st.integers(1, 99),
        st.tuples(product, st.lists(st.tuples(when, when, st.tuples(*[f32] * 10)), max_size=3)),
        max_size=4,
    ),
    when,
)
def test_a_delivery_report_round_trips(tanks, at):
    by_tank = {n: (p, [Delivery(n, p, s, e, f) for s, e, f in ds]) for n, (p, ds) in tanks.items()}
    rep = parse_deliveries(unframe(encode_deliveries(0, at, by_tank)))
    assert list(rep.items) == [d for n in sorted(by_tank) for d in by_tank[n][1]]


@given(st.data())
def test_any_change_to_a_valid_frame_is_caught(data):
    raw = HAND_I202
    i = data.draw(st.integers(0, len(raw) - 6), label="position")  # SOH … && (the checksum's own digits aside)
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]), label="byte")
    with pytest.raises(ProtocolError):
        unframe(raw[:i] + bytes([new]) + raw[i + 1 :])


def test_nan_and_infinity_decode_as_such_for_the_adapter_to_judge():
    nan = struct.pack(">f", math.nan).hex().upper().encode()
    raw = frame(b"i201002603020800" + b"011000007" + nan * 7)
    (tank,) = parse_inventory(unframe(raw)).items
    assert math.isnan(tank.height)


class _Flood(_Line):
    """A console that never stops talking."""

    def __init__(self, chunk: bytes) -> None:
        super().__init__([])
        self.chunk = chunk

    def recv(self, timeout: float) -> bytes:
        return self.chunk


@pytest.mark.parametrize("chunk", [b"x" * 4096, b"\x01" + b"y" * 4095, b"\x01i20100&&0000\x03" * 200])
def test_a_console_that_never_stops_talking_ends_in_a_named_error(chunk):
    with pytest.raises(GaugeError, match="test-line: "):
        exchange(_Flood(chunk), command("201"), timeout=0.2)


any_f32 = st.floats(width=32)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 99), st.tuples(*[any_f32] * 7), st.integers(0, 0xFFFF)), max_size=5))
def test_whatever_a_console_measures_only_contract_valid_readings_are_made(tanks):
    """Any floats (NaN, ±inf, subnormal, huge) in an i201 answer: each tank becomes a
    reading the contract parses or a problem naming it, never an exception."""
    from anxin.contract.parse import Parsed, parse_line
    from anxin.edge.gauges.config import parse
    from anxin.edge.gauges.poller import reading_row
    from anxin.edge.gauges.veeder_root import VeederRoot

    items = [Inventory(n, "1", status, fields) for n, fields, status in tanks]
    answer = encode_inventory(0, datetime(2026, 3, 2, 8, 0), items)
    gauge = VeederRoot("g", _Line([answer]), units=Units(*PRESETS["us"]), timeout_s=1.0)
    settings_ = parse(
        {"station_id": "S1", "gauge": [{"address": "tcp://h:1", "units": "us", "tanks": {"1": "T"}}]}, "x"
    )
    got = gauge.levels()
    assert len(got.items) + len(got.problems) == len(items)
    for level in got.items:
        row = reading_row(settings_, "S1-T1", level)
        if isinstance(row, str):
            assert row.startswith(f"tank {level.tank}: ")
            continue
        parsed = parse_line(row[2])
        assert isinstance(parsed, Parsed), parsed
        rec = json.loads(row[2])
        assert 0 <= rec["water_um"] <= rec["level_um"] + 1000 <= 10_001_000


def test_a_stray_soh_before_the_answer_is_noise_logged_once(caplog):
    line = _Line([b"\x01no", b"ise\x01" + HAND_I201[:20], HAND_I201[20:]])
    with caplog.at_level(logging.WARNING, logger="anxin.edge.gauges"):
        assert exchange(line, command("201"), timeout=1.0) == unframe(HAND_I201)
    assert [r.getMessage() for r in caplog.records] == ["gauge sent bytes outside a frame"]


def test_a_flood_of_frame_ends_is_one_warning_and_a_timeout(caplog):
    with caplog.at_level(logging.WARNING, logger="anxin.edge.gauges"), pytest.raises(GaugeError, match="timeout"):
        exchange(_Flood(b"\x03" * 4096), command("201"), timeout=0.2)
    assert len(caplog.records) == 1
