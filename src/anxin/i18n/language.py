"""Which language: a command line's for its process, a web request's for the request
alone (:func:`language_scope`), never one reader's leaking into another's page."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from anxin.i18n.catalog import MESSAGES, RULE_NAMES_EN, RULE_NAMES_ZH, WITNESS

# The request's language while it is being answered (None: the process's).
_REQUEST_LANG: ContextVar[str | None] = ContextVar("anxin_request_lang", default=None)


def _norm(value: str) -> str:
    return "en" if value.lower().startswith("en") else "zh"


def lang() -> str:
    """The language of the request being answered, else the process's (its command line)."""
    current = _REQUEST_LANG.get()
    if current is not None:
        return current
    return _norm(os.environ.get("ANXIN_LANG", "zh"))


def set_lang(value: str | None) -> None:
    """The command line's language, for its process (and the workers it starts)."""
    if value:
        os.environ["ANXIN_LANG"] = value


def process_lang(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> str:
    """A command line's language, decided before it prints anything (its help included):
    the last ``--lang zh|en`` of ``argv`` (as the options apply: a command's after the
    global one), else ``ANXIN_LANG``, else the locale as gettext reads it (the first of
    ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set: English when it starts with
    ``en``), else Chinese. A ``--lang`` value other than zh or en is left to the option
    itself to refuse."""
    chosen = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        value = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else arg.removeprefix("--lang=")
        if (arg == "--lang" or arg.startswith("--lang=")) and value in ("zh", "en"):
            chosen = value
    if chosen is not None:
        return chosen
    if environ.get("ANXIN_LANG"):
        return _norm(environ["ANXIN_LANG"])
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            return _norm(environ[name])
    return "zh"


@contextmanager
def language_scope(value: str) -> Iterator[str]:
    """Everything run inside (and the tasks and threads it starts) speaks ``value``."""
    token = _REQUEST_LANG.set(_norm(value))
    try:
        yield _REQUEST_LANG.get() or "zh"
    finally:
        _REQUEST_LANG.reset(token)


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """A web request's language: ``?lang=`` first, then the cookie the language switch
    set, then the browser's ``Accept-Language`` (the first of zh / en it names, by
    quality), else Chinese."""
    for v in (query, cookie):
        if v in ("zh", "en"):
            return v
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = tag.split("-")[0]
        if code in ("zh", "en") and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, code)
    return best[2] if best else "zh"


def t(key: str) -> str:
    return MESSAGES[key][lang()]


def rule_name(rule: str, language: str | None = None) -> str:
    """A rule's name in ``language`` (default: the request's, else the process's) — the
    name alone, never its code: no command takes a rule code as input, so an operator has
    no use for it in a table (a code the catalog lacks is shown as it is)."""
    names = RULE_NAMES_ZH if (language or lang()) == "zh" else RULE_NAMES_EN
    return names.get(rule, rule)


def witness_text(key: str, language: str | None = None) -> str:
    """The witness word for ``key`` (with or without its ``witness.`` prefix) in
    ``language`` (default: the request's, else the process's). A key the catalog lacks is shown as it is
    in English and as a plain placeholder in Chinese (never a raw key on a Chinese page)."""
    i = 0 if (language or lang()) == "zh" else 1
    entry = WITNESS.get(key.removeprefix("witness."))
    if entry is not None:
        return entry[i]
    return "（其他说明）" if i == 0 else key
