"""The JSON Schema under docs/ is the models' own, and real records validate against it."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import msgspec
import pytest
from factory import T0, City

from anxin.contract.schema import render, schemas

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schema"


@pytest.mark.parametrize("name", sorted(schemas()))
def test_committed_schema_equals_the_models(name: str) -> None:
    path = DOCS / f"{name}.schema.json"
    assert path.read_bytes() == render(schemas()[name]), f"run `anxin schema` to refresh {path}"


def test_records_validate_and_wrong_types_do_not() -> None:
    city = City()
    m = city.metering("S1-N1", T0)
    records = [m, city.sale(m), city.event("S1-N1", T0, "power_loss"), city.verification("S1-N1", T0)]
    for rec in records:
        jsonschema.validate(rec, schemas()[rec["kind"]])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(m, volume_ml="30000"), schemas()["metering"])
    jsonschema.validate(msgspec.json.decode(msgspec.json.encode(city.registry_dict())), schemas()["registry"])


def test_descriptions_do_not_depend_on_how_docstrings_are_rendered() -> None:
    from anxin.contract.schema import _normalised

    raw = {"description": "One alarm.\n\n    Details here,\n    indented.", "x": [{"description": "  a\n  b"}]}
    clean = {"description": "One alarm.\n\nDetails here,\nindented.", "x": [{"description": "a\nb"}]}
    assert _normalised(raw) == _normalised(clean) == clean
