"""The published JSON Schemas of the export files (``docs/schema/export-tax.schema.json``,
``docs/schema/export-commerce.schema.json``; the API describes its answers with them):
made here, written by ``python -m anxin.exports.schema docs/schema``, and compared with
the files by the tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _obj(props: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "required": list(props)}
    out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def _int(description: str, minimum: int | None = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "description": description}
    if minimum is not None:
        out["minimum"] = minimum
    return out


TEXT = {"type": "string"}
DAY = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


def _head(kind: str) -> dict[str, Any]:
    return {
        "format": {"const": f"anxin.export.{kind}/1"},
        "kind": {"const": kind},
        "period": _obj({"from": DAY, "to": DAY}, "local calendar days (UTC+08:00), both inclusive"),
        "as_of": {"type": "string", "description": "RFC 3339: when the figures were computed"},
        "exported_by": {"type": "string", "description": "the console user, the agency (API) or 'system' (CLI)"},
        "scope": _obj(
            {"district": {"type": ["string", "null"]}, "stations": {"type": "array", "items": TEXT}},
            "the district the file covers (null: the asker's whole scope) and the stations in it",
        ),
        "units": _obj({"volume": {"const": "mL"}, "amount": {"const": "fen"}}),
    }


STATION = {
    "station_id": TEXT,
    "name": TEXT,
    "operator": TEXT,
    "district": TEXT,
}

SALES = {
    "product": TEXT,
    "metered_n": _int("signed dispensings (independent module, signature verified, not quarantined)"),
    "metered_ml": _int("their volume, by the local day of `end`"),
    "metered_value_fen": _int("their volume at the posted price in force at `start`"),
    "unpriced_n": _int("signed dispensings with no posted price in force (not in the value)"),
    "board_n": _int("dispensings of nozzles without an independent module (main board): never metered"),
    "board_ml": _int("their volume"),
    "settled_n": _int("settlements (first arrival of each order, not quarantined), by the local day of `ts`"),
    "settled_ml": _int("their volume"),
    "settled_fen": _int("their gross amount (`amount_fen`)"),
    "settled_board_ml": _int("of settled_ml: on nozzles without an independent module"),
    "settled_board_fen": _int("of settled_fen: on nozzles without an independent module"),
    "difference_ml": _int("settled_ml − settled_board_ml − metered_ml", None),
    "difference_fen": _int("settled_fen − settled_board_fen − metered_value_fen", None),
}

QUALITY = {
    "alarms": _int("alarms of the station with their event time in the day"),
    "alarms_by_rule": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
    "excluded_records": _int("records quarantined or not verified: never counted"),
    "outage_minutes": _int("station-level data outage within the expected time (DATA_OUTAGE)"),
    "doubtful": {"type": "boolean", "description": "alarms, excluded records, an outage, or no data at all"},
}


def tax_schema() -> dict[str, Any]:
    day = _obj(
        {
            "day": DAY,
            "products": {"type": "array", "items": _obj(SALES)},
            "quality": _obj(
                {**QUALITY, "no_data": {"type": "boolean", "description": "not one record of the station in the day"}}
            ),
        }
    )
    period_quality = _obj(
        {**QUALITY, "outage_days": _int("days with an outage"), "no_data_days": _int("days without any record")}
    )
    station = _obj(
        {
            **STATION,
            "days": {"type": "array", "items": day, "description": "every day of the period"},
            "period": _obj({"products": {"type": "array", "items": _obj(SALES)}, "quality": period_quality}),
        }
    )
    return {
        "$schema": DRAFT,
        "title": "anxin agency export — tax (以销核税): signed metering against settlements",
        **_obj({**_head("tax"), "stations": {"type": "array", "items": station}}),
    }


COMMERCE = {
    "product": TEXT,
    "sales_ml": _int("volume the dispensers measured: metered_ml + board_ml"),
    "metered_ml": _int("of which signed by an independent module"),
    "board_ml": _int("of which from nozzles without an independent module"),
    "dispensings": _int("dispensings"),
    "settled_ml": _int("volume the POS settled"),
    "settled_n": _int("settlements"),
}


def commerce_schema() -> dict[str, Any]:
    station = _obj(
        {
            **STATION,
            "products": {"type": "array", "items": _obj(COMMERCE)},
            "quality": _obj(
                {
                    "alarms": _int("alarms in the period"),
                    "outage_days": _int("days with a data outage"),
                    "no_data_days": _int("days without any record"),
                    "doubtful": {"type": "boolean"},
                }
            ),
        }
    )
    district = _obj(
        {
            "district": TEXT,
            "stations": _int("stations in the file"),
            "doubtful_stations": _int("of which doubtful"),
            "products": {"type": "array", "items": _obj(COMMERCE)},
        }
    )
    return {
        "$schema": DRAFT,
        "title": "anxin agency export — commerce statistics (商务部门): sales volume per fuel grade",
        **_obj(
            {
                **_head("commerce"),
                "stations": {"type": "array", "items": station},
                "districts": {"type": "array", "items": district},
            }
        ),
    }


SCHEMAS = {"export-tax": tax_schema, "export-commerce": commerce_schema}


def _camel(key: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in key.split("_"))


def _hoisted(node: Any, name: str, out: dict[str, Any], names: dict[str, str]) -> Any:
    """``node`` with every object inside it a reference to a component of its own (named by
    its path; one component for objects alike): client generators name an inline object by
    its path and failed on these ("duplicate models")."""
    if isinstance(node, list):
        return [_hoisted(v, name, out, names) for v in node]
    if not isinstance(node, dict):
        return node
    inner = {}
    for k, v in node.items():
        if k == "properties":
            inner[k] = {p: _hoisted(sub, name + _camel(p), out, names) for p, sub in v.items()}
        elif k == "items":
            inner[k] = _hoisted(v, name.removesuffix("s") if name.endswith("s") else name + "Item", out, names)
        elif k == "additionalProperties" and isinstance(v, dict):
            inner[k] = _hoisted(v, name + "Value", out, names)
        else:
            inner[k] = v
    if inner.get("type") != "object" or not ("properties" in inner or "additionalProperties" in inner):
        return inner
    key = repr(sorted(inner.items(), key=lambda kv: kv[0]))
    if key not in names:
        names[key] = name if name not in out else f"{name}{len(out)}"
        out[names[key]] = {"title": names[key], **inner}
    return {"$ref": f"#/components/schemas/{names[key]}"}


def components() -> dict[str, Any]:
    """The API description's ``AgencyExport``: the tax or the commerce file."""
    out: dict[str, Any] = {}
    names: dict[str, str] = {}
    bodies = [
        _hoisted({k: v for k, v in f().items() if k not in ("$schema", "title")}, name, out, names)
        for f, name in ((tax_schema, "AgencyExportTax"), (commerce_schema, "AgencyExportCommerce"))
    ]
    return {"AgencyExport": {"title": "AgencyExport", "oneOf": bodies}, **out}


def text_of(name: str) -> str:
    return json.dumps(SCHEMAS[name](), ensure_ascii=False, indent=2) + "\n"


def write(directory: Path) -> list[Path]:
    out = []
    for name in SCHEMAS:
        path = directory / f"{name}.schema.json"
        path.write_text(text_of(name), encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":  # python -m anxin.exports.schema docs/schema
    for p in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schema")):
        print(p)
