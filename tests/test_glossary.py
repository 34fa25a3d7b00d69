"""One term per concept (issue 13): ``docs/glossary.md`` fixes each domain term, and no
string a user can see uses a wording it rules out (unannounced was 四不两直 in one
module and 飞行检查 in another; substantiated 属实 in one and 查实 in another)."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "anxin"


def _glossary() -> list[tuple[str, list[str]]]:
    """(term, wordings not used) per row of the glossary's table."""
    rows = []
    for line in (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.search(r"[\u4e00-\u9fff]", cells[0]):
            rows.append((cells[0], [w.strip() for w in re.split(r"[,，、]", cells[3]) if w.strip()]))
    return rows


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


@functools.cache
def _visible_strings() -> list[tuple[str, str]]:
    """(where, text) of every template, every word of the gettext catalogs and every
    non-docstring string literal."""
    from anxin.i18n.po import parse_po

    out = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in PACKAGE.rglob("*.html")]
    for p in PACKAGE.rglob("*.po"):
        where = str(p.relative_to(ROOT))
        out += [(f"{where} {ctx}/{key}", words) for ctx, key, words in parse_po(p.read_text(encoding="utf-8"))]
    for p in PACKAGE.rglob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                out.append((f"{p.relative_to(ROOT)}:{node.lineno}", node.value))
    return out


def test_the_glossary_is_read() -> None:
    rows = _glossary()
    assert any(" console/" in where for where, _ in _visible_strings())  # the catalogs are read
    assert len(rows) >= 30
    assert ("四不两直", ["飞行检查"]) in rows and ("属实", ["查实"]) in rows


@pytest.mark.parametrize("term,banned", [r for r in _glossary() if r[1]], ids=lambda x: str(x))
def test_no_user_visible_string_uses_a_wording_the_glossary_rules_out(term: str, banned: list[str]) -> None:
    found = [(where, w) for where, text in _visible_strings() for w in banned if w in text]
    assert not found, f"use {term!r}, not: {found}"


def test_the_inspection_kinds_and_complaint_outcomes_are_worded_once() -> None:
    from anxin.reports import figures
    from anxin.supervision import complaints, inspections

    assert figures.INSPECTION_KIND_ZH == inspections.KIND_ZH
    assert complaints.OUTCOME_ZH["substantiated"] == "属实" and inspections.KIND_ZH["unannounced"] == "四不两直"
