"""The command line's help as users read it (Typer renders it; this tidies it): Chinese
first in Typer's own options, a plain word for an option's value (TEXT, INTEGER, PATH,
zh|en) and none for a flag (Typer prints ``<bool>``), arguments by their name in capitals,
and long runs of Chinese folded instead of cut off with "…".

It relies on Typer ≥ 0.29's rendering (``display_type``, ``rich_utils._make_rich_text``);
``tests/test_cli.py`` fails if that changes."""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperOption

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


_HELP_TEXTS = {  # options Typer and Click add, in the console's languages
    "--help": "显示帮助并退出。Show this message and exit.",
    "--install-completion": "为当前 shell 安装命令补全。Install completion for the current shell.",
    "--show-completion": "显示当前 shell 的补全脚本（可复制或自定义）。Show the completion script for the current shell.",
}


def tidy_help(cmd: Any) -> None:
    """Help as users read it: no value shown for a flag (Typer prints ``<bool>``), a plain
    word for an option's value (TEXT, INTEGER, PATH, zh|en), an argument by its name in
    capitals, Chinese first in Typer's own options; the same for every command below."""
    if not getattr(cmd, "_anxin_tidy", False):
        cmd.help, cmd.short_help, cmd.epilog = breakable(cmd.help), breakable(cmd.short_help), breakable(cmd.epilog)
        cmd._anxin_tidy = True
    ctx = cmd.context_class(cmd, info_name=cmd.name)
    for p in [*cmd.params, cmd.get_help_option(ctx)]:
        if getattr(p, "_anxin_tidy", False):
            continue
        if isinstance(p, TyperOption):
            if p.is_flag or p.count:
                p.metavar = ""
            elif p.metavar is None:
                p.metavar = _label(p.display_type(ctx))
            p.help = breakable(_HELP_TEXTS.get(p.opts[0], p.help))
        elif isinstance(p, TyperArgument):
            p.help = breakable(p.help)
            p.metavar = p.metavar or (p.name or "").upper()
            _show_argument(p, _label(p.display_type(ctx)))
        if p is not None:
            p._anxin_tidy = True
    for sub in getattr(cmd, "commands", {}).values():
        if sub is not None:
            tidy_help(sub)


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
