"""What the command line says, through the catalogs (issue 13): the demo's live view and
its lines (table ``demo``), the simulation's evaluation (``evaluation``). The sites are
found in the source (``ast``), not listed by hand: each key is in both catalogs with every
placeholder given; each table's Chinese has no English sentence, its English no Chinese
character; the live view renders in one language at a time."""

from __future__ import annotations

import ast
import functools
import io
import re
import string
from pathlib import Path

import pytest
from rich.console import Console

from anxin.contract.alarm import Alarm
from anxin.i18n.language import language_scope
from anxin.i18n.po import parse_po, po_path

SRC = Path(__file__).resolve().parents[1] / "src" / "anxin"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}[,:;]?\s+[A-Za-z]{2,}")
# What a Chinese text shows as it is: a product's and a key's name, a URL's placeholder.
DATA = re.compile(r"SQLite|Ctrl-C|\{\w+\}")

# (module, helper) → the table its keys are in; the helper's positional arguments after
# the key (the language) are not parameters.
HELPERS = {
    ("demo/live.py", "_t"): "demo",
    ("sim/evaluate.py", "_l"): "evaluation",
}
TABLES = set(HELPERS.values())


@functools.cache
def _catalog(lang: str) -> dict[tuple[str, str], str]:
    return {(c, m): s for c, m, s in parse_po(po_path(lang).read_text(encoding="utf-8")) if c in TABLES}


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@functools.cache
def _sites() -> tuple[tuple[str, str, str, frozenset[str]], ...]:
    """(where, table, key, parameters given) of every call of a helper above."""
    out = []
    for (rel, helper), ctx in HELPERS.items():
        for node in ast.walk(ast.parse((SRC / rel).read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == helper):
                continue
            where = f"{rel}:{node.lineno}"
            key = node.args[0]
            if isinstance(key, ast.IfExp):  # "same" if … else "differ": both keys
                keys = [key.body, key.orelse]
            else:
                keys = [key]
            assert all(k.arg is not None for k in node.keywords), f"{where}: parameters by name, no **"
            given = frozenset(k.arg for k in node.keywords if k.arg)
            for k in keys:
                if isinstance(k, ast.Name):  # a loop's key: the loop's literals are checked below
                    continue
                assert isinstance(k, ast.Constant) and isinstance(k.value, str), f"{where}: the key is a literal"
                out.append((where, ctx, k.value, given))
    return tuple(out)


def test_the_sites_are_found() -> None:
    count = {ctx: sum(s[1] == ctx for s in _sites()) for ctx in TABLES}
    assert count["demo"] >= 20 and count["evaluation"] >= 5, count


def test_every_key_is_in_both_catalogs_with_its_placeholders_given() -> None:
    zh, en = _catalog("zh"), _catalog("en")
    for where, ctx, key, given in _sites():
        assert (ctx, key) in zh and (ctx, key) in en, f"{where}: {ctx}/{key} missing from a catalog"
        wanted = _fields(zh[ctx, key]) | _fields(en[ctx, key])
        assert wanted == given, f"{where}: {ctx}/{key} wants {sorted(wanted)}, given {sorted(given)}"
    # the evaluation's columns and levels are keys in a loop: each is there too
    for key in ("rule", "level", "injected", "detected", "recall", "alarms", "false", "record", "stat", "none"):
        assert ("evaluation", key) in zh and ("evaluation", key) in en, key


@pytest.mark.parametrize("ctx", sorted(TABLES))
def test_each_language_speaks_alone(ctx: str) -> None:
    zh, en = _catalog("zh"), _catalog("en")
    keys = [k for k in zh if k[0] == ctx]
    assert keys
    for k in keys:
        assert not ENGLISH_SENTENCE.search(DATA.sub(" ", zh[k])), (k, zh[k])
        assert not CJK.search(en[k]), (k, en[k])


def _alarm() -> Alarm:
    return Alarm(
        alarm_id="a1",
        rule="VOLUME_MISMATCH",
        severity="major",
        station_id="S0001",
        nozzle_id="S0001-D1-N1",
        order_id="O1",
        ts="2026-03-01T12:00:00.000+08:00",
        message="volume mismatch",
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_live_view_speaks_one_language(lang: str) -> None:
    from anxin.demo.live import LiveView

    view = LiveView(3)
    view.clock, view.records = "2026-03-01 12:00:00", 1234
    view.add(_alarm())
    buf = io.StringIO()
    with language_scope(lang):
        Console(file=buf, width=200).print(view.render())
    text = buf.getvalue()
    if lang == "zh":
        assert "模拟时钟" in text and "实时报警" in text and "油量不符" in text
        assert not ENGLISH_SENTENCE.search(text), text
    else:
        assert "Sim clock" in text and "Live alarms" in text and "VOLUME_MISMATCH" in text
        assert not CJK.search(text), text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_demo_speaks_one_language(tmp_path: Path, lang: str) -> None:
    """``anxin demo`` end to end (no pacing): every line it prints in the language asked
    for — the simulation, the live view, the comparison, the evaluation, where the data is."""
    from anxin.demo.live import run_demo

    out = tmp_path / "console.txt"
    with out.open("w") as f, language_scope(lang):
        result = run_demo(out=tmp_path / "d", stations=2, days=1, seed=5, speed=0, console=Console(file=f, width=200))
    assert result.batch_equals_live
    text = out.read_text()
    paths = re.compile(r"/\S+")  # the data's paths, shown as they are
    if lang == "zh":
        assert "模拟 2 座加油站" in text and "批量比对与实时比对结果一致" in text and "数据位置" in text
        assert not ENGLISH_SENTENCE.search(DATA.sub(" ", paths.sub(" ", text))), text
    else:
        assert "Simulating 2 stations" in text and "Batch and live raised the same alarms" in text
        assert "Where the data is" in text and "Evaluation against the simulated truth" in text
        assert not CJK.search(text), text
