"""The message catalogs as gettext files (one message catalog, zh_CN first, English as
the switch): ``locale/zh_CN/LC_MESSAGES/anxin.po`` and ``locale/en/LC_MESSAGES/anxin.po``.

Each message is a table's entry: ``msgctxt`` names the table (``rule``, ``console``,
``state.alarm``…), ``msgid`` is the key the code uses (``VOLUME_MISMATCH``,
``penalty_yuan``), ``msgstr`` the words; ``{name}`` placeholders are filled by
``str.format``. Translators edit the ``.po`` files with any gettext tool (Poedit,
Weblate, ``msgfmt --check``); the platform reads them as they are — a small reader of
the subset the files use (no plural forms), checked entry for entry against Babel's in
the tests — so the minimal install needs no compiler step and no further dependency,
and a table keeps the order its file gives it (a status list, a rule list)."""

from __future__ import annotations

import functools
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "anxin"
LOCALES = {"zh": "zh_CN", "en": "en"}

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


class CatalogError(ValueError):
    """A catalog file the reader cannot take (names the file and line)."""


def _unquote(s: str, where: str) -> str:
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise CatalogError(f"{where}: expected a quoted string")
    out, i, body = [], 0, s[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPES:
                raise CatalogError(f"{where}: unknown escape")
            out.append(_ESCAPES[body[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_po(text: str, name: str = "<po>") -> list[tuple[str | None, str, str]]:
    """(msgctxt, msgid, msgstr) of every message in file order; the header (empty msgid)
    and obsolete entries (``#~``) are left out."""
    entries: list[tuple[str | None, str, str]] = []
    cur: dict[str, str] = {}
    field: str | None = None

    def close() -> None:
        if "msgid" in cur and cur["msgid"]:
            if "msgstr" not in cur:
                raise CatalogError(f"{name}: message {cur['msgid']!r} has no msgstr")
            entries.append((cur.get("msgctxt"), cur["msgid"], cur["msgstr"]))
        cur.clear()

    for n, raw in enumerate(text.split("\n"), 1):  # not splitlines(): \x0b, \x1c, \u2028… are words
        line = raw.strip()
        where = f"{name}:{n}"
        if not line or line.startswith("#"):
            if not line and cur:
                close()
                field = None
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid", "msgstr"):
            if keyword in ("msgctxt", "msgid") and "msgid" in cur:
                close()
            field = keyword
            cur[field] = _unquote(rest.strip(), where)
        elif keyword in ("msgid_plural",) or keyword.startswith("msgstr["):
            raise CatalogError(f"{where}: plural forms are not used in these catalogs")
        elif line.startswith('"') and field is not None:
            cur[field] += _unquote(line, where)
        else:
            raise CatalogError(f"{where}: cannot read {line[:40]!r}")
    close()
    return entries


def po_path(lang: str) -> Path:
    return LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def _entries(lang: str) -> tuple[tuple[str | None, str, str], ...]:
    path = po_path(lang)
    return tuple(parse_po(path.read_text(encoding="utf-8"), str(path)))


@functools.cache
def table(context: str) -> dict[str, tuple[str, str]]:
    """One table: key → (zh, en), in the Chinese file's order. A key the English file
    lacks reads as its Chinese (the tests keep the two files in step)."""
    en = {m: s for c, m, s in _entries("en") if c == context}
    return {m: (s, en.get(m) or s) for c, m, s in _entries("zh") if c == context}


__all__ = ["CatalogError", "LOCALES", "LOCALE_DIR", "parse_po", "po_path", "table"]
