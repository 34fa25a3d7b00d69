"""Contract v1.1 §A at parse time: every integer within ±(2⁵³ − 1), the non-negative
quantities within 0 … 2⁵³ − 1, nesting at most 16 levels, no U+0000 — a reject that
names the field, decided by the line alone, never an exception (hypothesis: random
integers around the limits in every numeric field and in unknown fields, random
nesting depths)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from factory import T0, City
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anxin.contract.canonical import canonical_of_line, canonical_reference
from anxin.contract.parse import MAX_DEPTH, Parsed, Reject, nesting_problem, parse_line
from anxin.contract.records import MAX_INT

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = [0, 1, -1, MAX_INT, MAX_INT + 1, -MAX_INT, -MAX_INT - 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 2**100]
AROUND = st.one_of(
    st.sampled_from(LIMITS),
    st.integers(min_value=MAX_INT - 3, max_value=MAX_INT + 3),
    st.integers(min_value=-MAX_INT - 3, max_value=-MAX_INT + 3),
    st.integers(min_value=-(2**70), max_value=2**70),
)


def _records() -> dict[str, dict[str, Any]]:
    city = City()
    m = city.metering("S1-N1", T0)
    return {
        "metering": m,
        "event": city.event("S1-N1", T0, "power_loss"),
        "settlement": city.sale(m),
        "tank_reading": {
            "kind": "tank_reading",
            "station_id": "S1",
            "tank_id": "S1-T1",
            "ts": "2026-03-02T08:00:00.000+08:00",
            "level_um": 1_200_000,
            "water_um": 0,
            "temp_mc": 15_000,
        },
        "delivery": {
            "kind": "delivery",
            "station_id": "S1",
            "tank_id": "S1-T1",
            "start": "2026-03-02T08:00:00.000+08:00",
            "end": "2026-03-02T08:40:00.000+08:00",
            "volume_ml": 5_000_000,
        },
        "verification": city.verification("S1-N1", T0),
    }


RECORDS = _records()
# Every integer field of the contract, by where it is: (kind, path), and whether it may be negative.
NON_NEGATIVE = {
    "metering": ["seq", "pulses", "k_pulses_per_m3", "volume_ml", "totalizer_start_ml", "totalizer_end_ml"],
    "event": ["seq"],
    "settlement": ["pump_seq", "volume_ml", "unit_price_fen", "amount_fen", "paid_fen"],
    "tank_reading": ["level_um", "water_um"],
    "delivery": ["volume_ml"],
    "verification": ["k_pulses_per_m3", "runs.0.standard_ml", "runs.0.indicated_ml"],
}
SIGNED = {
    "tank_reading": ["temp_mc"],
    "verification": ["runs.0.flow_ml_per_min", "runs.0.standard_temp_mc", "runs.0.dispenser_temp_mc"],
}
FIELDS = [(k, f, False) for k, fs in NON_NEGATIVE.items() for f in fs] + [
    (k, f, True) for k, fs in SIGNED.items() for f in fs
]


def _with(rec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    rec = msgspec.json.decode(msgspec.json.encode(rec))  # a deep copy
    *parents, last = path.split(".")
    node: Any = rec
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return rec


def _json_path(path: str) -> str:
    out = "$"
    for p in path.split("."):
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


def _depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


def _breaks_bounds(v: Any) -> bool:
    """The reference: an integer beyond ±(2⁵³ − 1), or U+0000 in a string or key."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return not -MAX_INT <= v <= MAX_INT
    if isinstance(v, str):
        return "\x00" in v
    if isinstance(v, dict):
        return any("\x00" in k or _breaks_bounds(x) for k, x in v.items())
    if isinstance(v, list):
        return any(_breaks_bounds(x) for x in v)
    return False


# ------------------------------------------------------------------ by example
@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_the_contracts_own_records_take_the_fast_path_unchanged(kind: str) -> None:
    line = msgspec.json.encode(RECORDS[kind])
    p = parse_line(line)
    assert isinstance(p, Parsed), p
    assert type(p.rec).__module__ == "anxin.contract.strict"  # no second look for the common line
    careful = parse_line(msgspec.json.encode({**RECORDS[kind], "x_vendor": "fw 1.2"}))
    assert isinstance(careful, Parsed) and type(careful.rec).__module__ == "anxin.contract.records"
    assert msgspec.to_builtins(careful.rec) == msgspec.to_builtins(p.rec)  # the same record either way


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda r: r.update(seq=2**64, sig="AAAA"), "$.seq"),  # issue 11, finding 1
        (lambda r: r.update(seq=-1), "$.seq"),
        (lambda r: r.update(volume_ml=MAX_INT + 1), "$.volume_ml"),
        (lambda r: r.update(x_vendor={"a": [1, 2**53]}), "$.x_vendor.a[1]"),
        (lambda r: r.update(x_vendor=-(2**53)), "$.x_vendor"),
        (lambda r: r.update(x_vendor="a\x00b"), "$.x_vendor"),
        (lambda r: r.update(station_id="S\x001"), "$.station_id"),
    ],
)
def test_out_of_bounds_is_a_reject_naming_the_field(mutate, where: str) -> None:
    rec = dict(RECORDS["metering"])
    mutate(rec)
    got = parse_line(msgspec.json.encode(rec))
    assert isinstance(got, Reject) and f"`{where}`" in got.reason, got


def test_the_limits_themselves_are_accepted() -> None:
    rec = _with(RECORDS["settlement"], "volume_ml", MAX_INT)
    assert isinstance(parse_line(msgspec.json.encode({**rec, "x": -MAX_INT, "y": [MAX_INT]})), Parsed)
    deep: Any = 1
    for _ in range(MAX_DEPTH - 1):  # the record is level 1: 15 more levels inside it
        deep = [deep]
    assert isinstance(parse_line(msgspec.json.encode({**rec, "x": deep})), Parsed)
    assert isinstance(parse_line(msgspec.json.encode({**rec, "x": [deep]})), Reject)


@pytest.mark.parametrize("where", ["first", "last"])
def test_ten_kilobytes_of_nesting_is_a_reject_not_a_recursion_error(where: str) -> None:
    # issue 11, finding 2: 5 000 nested arrays in an unknown field (before or after "kind":
    # msgspec skips fields before the tag to find it)
    deep = b"[" * 5000 + b"]" * 5000
    body = msgspec.json.encode(RECORDS["settlement"])
    line = b'{"x":' + deep + b"," + body[1:] if where == "first" else body[:-1] + b',"x":' + deep + b"}"
    got = parse_line(line)
    assert isinstance(got, Reject) and "nested deeper than 16 levels" in got.reason and "`$.x[0]" in got.reason
    assert nesting_problem(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        b'{"a":"' + b"[" * 100 + b'"}',  # brackets inside a string do not count
        b'{"a":"\\"' + b"[" * 100 + b'"}',  # nor after an escaped quote
        b'{"a":"\\\\"}',
    ],
)
def test_nesting_is_measured_outside_strings(line: bytes) -> None:
    assert nesting_problem(line) is None


def test_nesting_scan_is_linear_on_hostile_strings() -> None:
    import time

    line = b"[" + b'"\\' * 30_000  # unterminated strings and escapes: no backtracking
    t = time.perf_counter()
    nesting_problem(line + b"[" * 20)
    assert time.perf_counter() - t < 1.0
    assert isinstance(parse_line(line), Reject)


def test_canonical_bytes_unchanged_for_accepted_lines() -> None:
    for kind in ("metering", "event"):
        rec = {**RECORDS[kind], "x_vendor": {"n": MAX_INT, "s": "备注"}}
        canonical, _sig = canonical_of_line(msgspec.json.encode(rec))
        assert canonical == canonical_reference({k: v for k, v in rec.items() if k != "sig"})


# ------------------------------------------------------------------ properties
@SETTINGS
@given(field=st.sampled_from(FIELDS), value=AROUND)
def test_every_numeric_field_rejects_iff_out_of_bounds(field: tuple[str, str, bool], value: int) -> None:
    kind, path, signed = field
    line = msgspec.json.encode(_with(RECORDS[kind], path, value))
    got = parse_line(line)
    inside = (-MAX_INT if signed else 0) <= value <= MAX_INT
    assert isinstance(got, Parsed) == inside, (kind, path, value, got)
    if not inside:
        assert isinstance(got, Reject) and f"`{_json_path(path)}`" in got.reason, got
    assert parse_line(line) == got  # decided by the line alone


JSON_LEAF = st.one_of(
    AROUND,
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
JSON_TREE = st.recursive(
    JSON_LEAF,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=12,
)


@st.composite
def nested(draw) -> Any:
    """A value nested 0…40 levels deep (arrays and objects mixed), a tree at the bottom."""
    v = draw(JSON_TREE)
    for _ in range(draw(st.integers(min_value=0, max_value=40))):
        v = [v] if draw(st.booleans()) else {draw(st.text(max_size=3)): v}
    return v


@SETTINGS
@given(kind=st.sampled_from(sorted(RECORDS)), value=nested(), first=st.booleans())
def test_unknown_fields_reject_iff_out_of_bounds(kind: str, value: Any, first: bool) -> None:
    rec = RECORDS[kind]
    doc = {"x_unknown": value, **rec} if first else {**rec, "x_unknown": value}
    line = msgspec.json.encode(doc)
    got = parse_line(line)  # never raises
    bad = 1 + _depth(value) > MAX_DEPTH or _breaks_bounds(value)
    assert isinstance(got, Reject) == bad, (got, _depth(value))
    if bad:
        assert "`$.x_unknown" in got.reason, got  # type: ignore[union-attr]
    assert parse_line(line) == got


@SETTINGS
@given(data=st.binary(max_size=300), cut=st.integers(min_value=0, max_value=400))
def test_any_bytes_parse_or_reject_never_raise(data: bytes, cut: int) -> None:
    line = msgspec.json.encode(RECORDS["metering"])
    for raw in (data, line[:cut] + data, b'{"x":' + b"[" * 2000 + data):
        assert isinstance(parse_line(raw), Parsed | Reject)
