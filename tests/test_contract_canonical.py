"""Canonical bytes: the fast path equals the contract's reference definition."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.contract.canonical import canonical_of_dict, canonical_of_line, canonical_reference

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20
)


@settings(max_examples=300)
@given(record=st.dictionaries(st.text(), values, max_size=8), sig=st.text())
def test_fast_canonical_equals_reference(record: dict, sig: str) -> None:
    record = {**record, "sig": sig}
    line = json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return  # lone surrogates are not UTF-8 input; the parser rejects such lines
    expected = canonical_reference({k: v for k, v in json.loads(line).items() if k != "sig"})
    canonical, got_sig = canonical_of_line(line)
    assert canonical == expected and got_sig == sig
    assert canonical_of_dict(json.loads(line)) == expected


def test_key_order_whitespace_and_unicode_do_not_matter() -> None:
    a = b'{"b": 1, "a": {"z": "\xe5\xae\x89\xe5\xbf\x83", "y": [1, 2]}, "sig": "x"}'
    b = msgspec.json.encode({"a": {"y": [1, 2], "z": "安心"}, "b": 1, "sig": "other"})
    assert canonical_of_line(a)[0] == canonical_of_line(b)[0] == '{"a":{"y":[1,2],"z":"安心"},"b":1}'.encode()
