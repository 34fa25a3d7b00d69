"""What the wording tests share: the package's source, the catalogs as (table, key) →
text, a template's placeholders, and what tells Chinese from English in a text."""

from __future__ import annotations

import ast
import functools
import re
import string
from collections.abc import Iterator
from pathlib import Path

from anxin.i18n.po import parse_po, po_path

SRC = Path(__file__).resolve().parents[1] / "src" / "anxin"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")  # ideographs and full-width punctuation
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}[,:;]?\s+[A-Za-z]{2,}")  # two Latin words in a row


@functools.cache
def _entries(lang: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(parse_po(po_path(lang).read_text(encoding="utf-8")))


def catalog(lang: str, tables: frozenset[str] | set[str] | None = None) -> dict[tuple[str, str], str]:
    """The ``lang`` catalog's entries as (table, key) → text, of ``tables`` (None: all)."""
    return {(c, m): s for c, m, s in _entries(lang) if c and (tables is None or c in tables)}


def table(ctx: str, lang: str) -> dict[str, str]:
    """One table of the ``lang`` catalog as key → text."""
    return {m: s for c, m, s in _entries(lang) if c == ctx}


def fields(text: str) -> set[str]:
    """The placeholders a template fills (``{name}``)."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@functools.cache
def tree(rel: str) -> ast.Module:
    """The syntax tree of the package's module ``rel`` (``register/csvfile.py``), parsed once."""
    return ast.parse((SRC / rel).read_text(encoding="utf-8"))


def calls() -> Iterator[tuple[str, ast.Call, str | None]]:
    """Every call in the package's source: (its module's path in the package, the call,
    the name called — a function's or a method's — or None)."""
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(tree(rel)):
            if isinstance(node, ast.Call):
                f = node.func
                yield rel, node, f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
