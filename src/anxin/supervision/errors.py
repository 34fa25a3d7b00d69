"""The refusals of the supervision package, worded once in both languages.

A refusal (:class:`Refusal`: :class:`~anxin.supervision.SupervisionError`,
:class:`~anxin.supervision.cases.CaseError`, :class:`~anxin.supervision.risk.DrawError`)
carries a stable ``code``, the ``field`` it concerns (when there is one) and its
parameters; it is worded in the catalogs (context ``refusal`` of ``anxin/i18n/locale``,
read into :data:`ERRORS`), a template per key in Chinese and in English, and renders
itself with :meth:`Refusal.text` (``"zh"`` or ``"en"``). The words this module gives as
parameters (an input's name, an attachment's) are the catalogs' too (``refusal_words``).

A key is the code, or ``code.variant`` when one code is worded differently at different
places (``concurrent_change.complaint``, ``bad_run.not_finite``): ``.code`` is always the
part before the dot — the code pages, tests and logs know stays the same. A parameter
is data (an id, a nozzle the user typed, a number), given as it is in both languages,
or :class:`Words` — a status, a field's name, a list of the allowed values — given in
both, so that a Chinese sentence never shows a raw code and an English one never a
Chinese word the user did not type.

``str(refusal)`` is ``"<code>: <Chinese>"``: the stable code first for logs and the
command line (grep by code), the words in the platform's first language, as
SupervisionError always was; ``.message`` is the Chinese alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from anxin.i18n.language import lang as current_lang
from anxin.i18n.po import table

__all__ = ["ERRORS", "FIELDS", "Refusal", "Words", "field_words", "joined", "render", "word", "words_table"]


class Words(NamedTuple):
    """A parameter worded in both languages (a status, a field, a list of choices)."""

    zh: str
    en: str


def joined(items: Iterable[Words], zh_sep: str = "/", en_sep: str = ", ") -> Words:
    """Several words as one parameter: ``已受理/已分派`` and ``received, assigned``."""
    parts = list(items)
    return Words(zh_sep.join(w.zh for w in parts), en_sep.join(w.en for w in parts))


# key -> (Chinese template, English template), with named {placeholders}. The Chinese is
# the wording users and tests have known; keep it when touching the English.
ERRORS: dict[str, tuple[str, str]] = table("refusal")

# The words refusals are given as parameters (context ``refusal_words``): the inputs'
# names (``field.*``), an attachment's name or type, the fallbacks, and the concepts'
# packages' own (a case's inputs and sources, a test fill's quantities, a complaint's steps).
_WORDS: dict[str, tuple[str, str]] = table("refusal_words")


def word(key: str, **params: Any) -> Words:
    """The ``refusal_words`` entry ``key`` in both languages, filled with ``params`` (a
    :class:`Words` parameter in each language's own words)."""
    zh, en = _WORDS[key]
    return Words(
        zh.format(**{k: v.zh if isinstance(v, Words) else v for k, v in params.items()}),
        en.format(**{k: v.en if isinstance(v, Words) else v for k, v in params.items()}),
    )


def words_table(prefix: str) -> dict[str, Words]:
    """The ``refusal_words`` entries ``<prefix>.<name>`` by name, in the catalog's order."""
    return {k.removeprefix(f"{prefix}."): Words(*v) for k, v in _WORDS.items() if k.startswith(f"{prefix}.")}


# The inputs of need_text, named as a user knows them ({what} of the first four keys).
FIELDS: dict[str, Words] = words_table("field")
_ATTACHMENT_PART = re.compile(r"attachments\[(\d+)\]\.(name|mime)")


def field_words(field: str) -> Words:
    """An input's name in words (``attachments[0].name``: the name of attachment 1)."""
    if field in FIELDS:
        return FIELDS[field]
    m = _ATTACHMENT_PART.fullmatch(field)
    if m is not None:
        return word(f"attachment.{m.group(2)}", n=int(m.group(1)) + 1)
    return word("other_field", field=field)  # never a raw name on a Chinese page


class _Values(dict[str, Any]):
    """A template's values; one not given shows as a dash rather than failing the refusal."""

    def __missing__(self, key: str) -> str:
        return "—"


def _lang(lang: str | None) -> str:
    if lang is None:
        lang = current_lang()
    return "en" if lang.lower().startswith("en") else "zh"


def render(key: str, params: dict[str, Any], lang: str | None = None) -> str:
    """The refusal ``key`` with ``params`` in ``lang`` ("zh" or "en"; None: the request's,
    else the process's language)."""
    i = 0 if _lang(lang) == "zh" else 1
    entry = ERRORS.get(key)
    if entry is None:  # a key the catalog lacks: the code in English, a plain sentence in Chinese
        return word("unknown_refusal", code=key.partition(".")[0])[i]
    values = _Values({k: (v[i] if isinstance(v, Words) else v) for k, v in params.items()})
    return entry[i].format_map(values)


def _restore(cls: type[Refusal], key: str, field: str | None, params: dict[str, Any]) -> Refusal:
    return cls(key, field=field, **params)


class Refusal(ValueError):
    """A refused input or step; nothing was written. ``code`` names it (stable), ``field``
    the offending input when there is one, ``params`` the values its words show;
    :meth:`text` words it in Chinese or English, ``message`` is the Chinese."""

    def __init__(self, key: str, /, *, field: str | None = None, **params: Any) -> None:
        self.key = key
        self.code = key.partition(".")[0]
        self.field = field
        self.params = params
        self.message = render(key, params, "zh")
        super().__init__(f"{self.code}: {self.message}")

    def text(self, lang: str | None = None) -> str:
        """The refusal in ``lang`` ("zh" or "en"; None: the current request's language)."""
        return render(self.key, self.params, lang)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.key, self.field, self.params))
