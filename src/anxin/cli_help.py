"""The command line's help as users read it (Typer renders it; this tidies it): every
text from the catalogs' ``cli`` table in the process's one language (:func:`h` names a
text by its key where a command or option is declared; :func:`tidy_help` puts in the
words when the help is asked for, so ``--lang`` and the locale, decided by then, apply),
Typer's and Click's own options and headings in that language too, a plain word for an
option's value (TEXT, INTEGER, PATH, zh|en) and none for a flag (Typer prints
``<bool>``), arguments by their name in capitals, and long runs of Chinese folded
instead of cut off with "…".

It relies on Typer ≥ 0.29's rendering (``display_type``, ``rich_utils._make_rich_text``,
the panel titles as module constants); ``tests/test_cli.py`` fails if that changes."""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperOption

from anxin.i18n import lang
from anxin.i18n.po import table

CONTEXT = "cli"  # the catalogs' table of the command line's help
_KEY = "cli:"  # a help text that is a key of that table (see h)

_TYPE_LABELS = {
    "str": "TEXT",
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "FLOAT",
    "float range": "FLOAT",
    "path": "PATH",
    "list[str]": "TEXT",
}
# A Latin word right after Chinese (or its punctuation) starts a word of its own, so that
# folding a long run of Chinese never cuts it (Rich breaks lines at spaces only).
_BREAK_BEFORE_LATIN = re.compile(r"(?<=[\u4e00-\u9fff\u3001\u3002\uff09\uff0c\uff1a\uff1b])(?=[A-Za-z0-9])")


def breakable(text: str | None) -> str | None:
    return None if text is None else _BREAK_BEFORE_LATIN.sub(" ", text)


def h(key: str) -> str:
    """The help text ``key`` of the ``cli`` table (``serve``, ``serve.port``), as a
    command or option declares it: the words go in when the help is shown."""
    return _KEY + key


def help_text(key: str) -> str:
    """The words of ``key`` (a key of the ``cli`` table) in the process's language."""
    zh, en = table(CONTEXT)[key]
    return en if lang() == "en" else zh


def words(text: str | None) -> str | None:
    """A declared help text as it is shown: a key's words (see :func:`h`), breakable."""
    if text is not None and text.startswith(_KEY):
        text = help_text(text.removeprefix(_KEY))
    return breakable(text)


_OWN_OPTIONS = {  # the options Typer and Click add, by their key in the cli table
    "--help": "option.help",
    "--install-completion": "option.install_completion",
    "--show-completion": "option.show_completion",
}
# Typer's headings and notes (typer.rich_utils' constants, read as it renders), by key.
_TYPER_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "typer.arguments",
    "OPTIONS_PANEL_TITLE": "typer.options",
    "COMMANDS_PANEL_TITLE": "typer.commands",
    "DEFAULT_STRING": "typer.default",
    "ENVVAR_STRING": "typer.envvar",
    "REQUIRED_LONG_STRING": "typer.required",
    "DEPRECATED_STRING": "typer.deprecated",
    "ERRORS_PANEL_TITLE": "typer.error",
    "ABORTED_TEXT": "typer.aborted",
    "RICH_HELP": "typer.try_help",
}
# The usage line's words, which Typer's bundled Click writes in English: its prefix and
# the placeholders for options and a group's commands (set on each command).
_USAGE_WORDS = {
    "prefix": "typer.usage",
    "options_metavar": "typer.options_metavar",
    "subcommand_metavar": "typer.subcommand_metavar",
}


def tidy_help(cmd: Any) -> None:
    """Help as users read it: every text in the process's language (a command tidied in
    another language before — a test runs several in one process — is worded again), no
    value shown for a flag (Typer prints ``<bool>``), a plain word for an option's value
    (TEXT, INTEGER, PATH, zh|en), an argument by its name in capitals; the same for every
    command below."""
    language = lang()
    _speak_typer()
    if not hasattr(cmd, "_anxin_declared"):  # (what the code declared: keys or words)
        cmd._anxin_declared = (cmd.help, cmd.short_help, cmd.epilog)
        _word_when_shown(cmd)
    if getattr(cmd, "_anxin_lang", None) != language:
        cmd.help, cmd.short_help, cmd.epilog = (words(text) for text in cmd._anxin_declared)
        cmd.options_metavar = help_text(_USAGE_WORDS["options_metavar"])
        if getattr(cmd, "subcommand_metavar", None) and not getattr(cmd, "chain", False):
            cmd.subcommand_metavar = help_text(_USAGE_WORDS["subcommand_metavar"])
        cmd._anxin_lang = language
    ctx = cmd.context_class(cmd, info_name=cmd.name)
    for p in [*cmd.params, cmd.get_help_option(ctx)]:
        if p is None:
            continue
        if not hasattr(p, "_anxin_declared"):
            own = None if isinstance(p, TyperArgument) else _OWN_OPTIONS.get(p.opts[0])
            p._anxin_declared = h(own) if own else p.help
            _tidy_param(p, ctx)
        if getattr(p, "_anxin_lang", None) != language:
            p.help = words(p._anxin_declared)
            p._anxin_lang = language
    for sub in getattr(cmd, "commands", {}).values():
        if sub is not None:
            tidy_help(sub)


def _word_when_shown(cmd: Any) -> None:
    """Word ``cmd``'s help again as it is printed: a ``--lang`` on the command line after
    the command was looked up (``anxin --lang zh serve --lang en --help``) has applied by then."""
    format_help = cmd.format_help

    def worded(ctx: Any, formatter: Any) -> None:
        tidy_help(cmd)
        format_help(ctx, formatter)

    cmd.format_help = worded

    def usage(ctx: Any, formatter: Any) -> None:  # Click's own writes "Usage: " whatever the language
        prefix = help_text(_USAGE_WORDS["prefix"])  # ("Usage: " with its space, "用法：" without)
        formatter.write_usage(ctx.command_path, " ".join(cmd.collect_usage_pieces(ctx)), prefix=prefix)

    cmd.format_usage = usage


def _tidy_param(p: Any, ctx: Any) -> None:
    if isinstance(p, TyperOption):
        if p.is_flag or p.count:
            p.metavar = ""
        elif p.metavar is None:
            p.metavar = _label(p.display_type(ctx))
    elif isinstance(p, TyperArgument):
        p.metavar = p.metavar or (p.name or "").upper()
        _show_argument(p, _label(p.display_type(ctx)))


def _speak_typer() -> None:
    """Typer's headings (Arguments, Options, Commands), notes ([default: …], [env var:
    …], [required]) and error words (the panel's title, "Try … for help.") in the
    process's language; the error's own message is Click's English."""
    from typer import rich_utils

    for name, key in _TYPER_WORDS.items():
        if hasattr(rich_utils, name):
            setattr(rich_utils, name, help_text(key))


def _show_argument(p: TyperArgument, label: str) -> None:
    """An argument's type as a word, and in the usage line as NAME ([NAME] if optional)."""
    name = p.metavar or ""

    def display_type_rich(ctx: Any) -> str:
        return label

    def usage_display_name() -> str:
        return (name if p.required else f"[{name}]") + ("..." if p.nargs != 1 else "")

    p.display_type_rich = display_type_rich  # type: ignore[method-assign]
    p._usage_display_name = usage_display_name  # type: ignore[method-assign]


def _label(display: str) -> str:
    inner = display.removeprefix("<").removesuffix(">")
    return _TYPE_LABELS.get(inner, inner if "|" in inner else inner.upper())


def fold_long_words() -> None:
    """Typer renders help in table cells that crop a word too long for the column with
    "…"; a run of Chinese has no spaces, so it is one long word: fold it instead."""
    from typer import rich_utils

    make = getattr(rich_utils, "_make_rich_text", None)
    if make is None or getattr(make, "_anxin", False):
        return

    def make_folding(**kwargs: Any) -> Any:
        text = make(**kwargs)
        if hasattr(text, "overflow"):
            text.overflow = "fold"
        return text

    make_folding._anxin = True  # type: ignore[attr-defined]
    rich_utils._make_rich_text = make_folding
