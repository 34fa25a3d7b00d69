"""Messages by key (issue 13): what the code says is a catalog key and its parameters,
worded from the message catalogs (:mod:`anxin.i18n.po`) only when someone reads it — in
the language asked for, else the request's or the process's (``--lang``, ANXIN_LANG).

* :class:`Message` — a finding (a problem or a note of ``anxin bundle verify``): its
  table (``msgctxt``), key and parameters, language-neutral data (a msgspec struct: what
  a machine reads is the key and the parameters, never the words).
* :class:`KeyedError` — an error worded the same way: ``exc.text(lang)`` where a page or
  the command line shows it, ``str(exc)`` in the process's language for logs (or in the
  language a class fixes: a contract reason stations read stays English).

A parameter is data (a file name, a line number, a key id) shown as it is in both
languages, or a :class:`Message` (a verdict, an error inside a finding), worded in the
same language. One language's template may leave out a parameter the other shows (a
library's English detail kept off a Chinese text).

The catalogs are read on first use, not on import: the contract and the crypto modules
(the minimal install, the station's gateway) raise these errors without loading them.
"""

from __future__ import annotations

import errno
from typing import Any, ClassVar

import msgspec

__all__ = ["KeyedError", "Message", "os_reason", "render"]


class _Values(dict[str, Any]):
    """A template's values; one not given shows as a dash rather than failing the text."""

    def __missing__(self, key: str) -> str:
        return "—"


def _index(lang: str | None) -> int:
    if lang is None:
        from anxin.i18n.language import lang as current

        lang = current()
    return 1 if lang.lower().startswith("en") else 0


def render(ctx: str, key: str, params: dict[str, Any], lang: str | None = None) -> str:
    """The catalog's ``ctx``/``key`` template in ``lang`` ("zh" or "en"; None: the
    request's, else the process's), filled with ``params``."""
    from anxin.i18n.po import table

    i = _index(lang)
    entry = table(ctx).get(key)
    if entry is None:  # a key the catalog lacks: never a raw key in a Chinese text
        return ("（无法显示的说明）", key)[i]
    language = ("zh", "en")[i]
    values = _Values({k: v.text(language) if isinstance(v, Message) else v for k, v in params.items()})
    return entry[i].format_map(values)


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """A catalog key and its parameters: ``ctx`` is the table, ``key`` the entry."""

    ctx: str
    key: str
    params: dict[str, Any] = {}

    def text(self, lang: str | None = None) -> str:
        return render(self.ctx, self.key, self.params, lang)

    def __str__(self) -> str:
        return self.text()


def _restore(cls: type[KeyedError], key: str, params: dict[str, Any]) -> KeyedError:
    return cls(key, **params)


class KeyedError(Exception):
    """An error named by a key of the catalog's ``context`` table, with its parameters."""

    context: ClassVar[str] = "operator_error"
    str_lang: ClassVar[str | None] = None  # the language of str(exc); None: the process's

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    @property
    def message(self) -> Message:
        """The error as data (a parameter of a finding, a machine's output)."""
        return Message(ctx=self.context, key=self.key, params=self.params)

    def text(self, lang: str | None = None) -> str:
        """The error in ``lang`` ("zh" or "en"; None: the request's, else the process's)."""
        return render(self.context, self.key, self.params, lang)

    def __str__(self) -> str:
        return self.text(self.str_lang)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.key, self.params))


_OS_REASONS = {
    errno.ENOENT: "not_found",
    errno.ENOTDIR: "not_found",
    errno.EACCES: "permission",
    errno.EPERM: "permission",
    errno.EISDIR: "is_directory",
}


def os_reason(exc: OSError | UnicodeDecodeError) -> Message:
    """Why a file could not be read, as a key of the ``os_error`` table: the common
    reasons in words, another one as the system's own words in English only."""
    if isinstance(exc, UnicodeDecodeError):
        return Message(ctx="os_error", key="not_utf8")
    key = _OS_REASONS.get(exc.errno or 0, "other")
    return Message(ctx="os_error", key=key, params={} if key != "other" else {"detail": exc.strerror or str(exc)})
