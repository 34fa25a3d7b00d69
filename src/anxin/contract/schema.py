"""JSON Schema for every kind of contract v1, generated from the models themselves
(``docs/schema/*.schema.json``; a test keeps the committed files equal to these)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import msgspec

from anxin.contract.alarm import Alarm
from anxin.contract.records import RECORD_TYPES
from anxin.contract.registry import Registry


def schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in RECORD_TYPES:
        kind = t.__struct_config__.tag  # type: ignore[attr-defined]
        out[kind] = _titled(msgspec.json.schema(t), f"anxin contract v1 — {kind} record")
    out["registry"] = _titled(msgspec.json.schema(Registry), "anxin contract v1 — registry.json")
    out["alarm"] = _titled(msgspec.json.schema(Alarm), "anxin contract v1 — alarm (alarms.jsonl)")
    return out


def _titled(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **_normalised(schema)}


def _normalised(node: Any) -> Any:
    """Descriptions come from docstrings, which msgspec versions render with or without
    their indentation: cleaned here (``inspect.cleandoc``), so the files are the same
    whatever version generated them."""
    if isinstance(node, dict):
        return {
            k: inspect.cleandoc(v) if k == "description" and isinstance(v, str) else _normalised(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_normalised(v) for v in node]
    return node


def render(schema: dict[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_bytes(render(schema))
        written.append(path)
    return written
