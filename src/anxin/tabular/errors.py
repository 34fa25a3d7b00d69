"""Errors of a vendor's file, named by line and column, worded from the ``tabular``
table of the catalogs when read (zh-CN first): a problem is a key and its parameters
(:class:`anxin.keyed.Message`), never a sentence made here."""

from __future__ import annotations

from dataclasses import dataclass

from anxin.keyed import Message

CONTEXT = "tabular"


def problem(key: str, /, **params: object) -> Message:
    """A problem of the file, a line or a cell: the ``tabular`` table's ``key``."""
    return Message(ctx=CONTEXT, key=key, params=params)


@dataclass(frozen=True, slots=True)
class TableError:
    line: int  # CSV: the line the row starts on (1 = the header); XLSX: the sheet's row number
    column: str | None  # the header as written in the file; None: the whole line or file
    problem: Message  # a catalog key and its parameters (any table: the consumers add their own)

    @property
    def message(self) -> str:
        """The problem in the request's or the process's language (for logs)."""
        return self.problem.text()

    def text(self, lang: str | None = None) -> str:
        """The line, the column and the problem in ``lang`` ("zh" or "en")."""
        if self.column is None:
            return problem("at_line", line=self.line, problem=self.problem).text(lang)
        return problem("at_cell", line=self.line, column=self.column, problem=self.problem).text(lang)


def errors_text(errors: list[TableError], lang: str | None = None, *, limit: int = 20) -> str:
    """The first ``limit`` errors in one text, and how many more there are."""
    sep = problem("separator").text(lang)
    parts = [e.text(lang) for e in errors[:limit]]
    if len(errors) > limit:
        parts.append(problem("more", count=len(errors) - limit).text(lang))
    return sep.join(parts)
