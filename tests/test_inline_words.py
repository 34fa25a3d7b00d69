"""Words out of the code (issue 13): the pairs of a Chinese and an English literal that
were written next to their code — an evidence value, a station named in an oversight
line, the demo map's attribution — are catalog entries now, and no new pair creeps in:
the source is scanned (``ast``) for a Chinese literal next to an English one, a
language ternary with a Chinese side, and a ``{"zh": …, "en": …}`` dict; the few left
are listed below with why."""

from __future__ import annotations

import ast
import functools
import re

import pytest
from wording import CJK, ENGLISH_SENTENCE, SRC, catalog, fields, tree

LATIN = re.compile(r"[A-Za-z]{2,}")

# The modules whose words moved, and the helper each reads a table with.
MOVED = {"web/evidence.py": "evidence", "reports/oversight.py": "station_ref", "demo/districts.py": "demo"}

# What the scan still finds, by file: (count, why it stays).
LEFT = {
    # the demo's accounts: (username, display name, role, stations) — a name is data
    "demo/console.py": (3, "demo accounts' display names"),
    # a list separator chosen by language, punctuation only
    "i18n/alarms.py": (1, "separator"),
    # the catalog reader's own {"zh": …, "en": …} shapes
    "i18n/catalog.py": (1, "catalog reader"),
    "i18n/po.py": (1, "locale directories"),
    # a witness key the catalog lacks: a placeholder in Chinese, the key in English
    "i18n/language.py": (1, "fallback"),
    # a simulated station's name (data): a retry count in parentheses
    "sim/layout.py": (1, "simulated name"),
    # a test fill's invalid runs: Chinese names them, English shows the verification's reasons
    "supervision/inspections/__init__.py": (1, "test fill reasons"),
}


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return None


def _zh(node: ast.AST) -> bool:
    t = _text(node)
    return t is not None and bool(CJK.search(t))


def _en(node: ast.AST) -> bool:
    t = _text(node)
    return t is not None and not CJK.search(t) and bool(LATIN.search(t))


def _pairs(tree: ast.AST) -> list[str]:
    out = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.Tuple, ast.List, ast.Call)):
            elts = n.args if isinstance(n, ast.Call) else n.elts
            if any(_zh(a) and _en(b) for a, b in zip(elts, elts[1:])):
                out.append(ast.unparse(n))
        elif isinstance(n, ast.IfExp) and (_zh(n.body) or _zh(n.orelse)):
            out.append(ast.unparse(n))
        elif isinstance(n, ast.Dict):
            keys = {_text(k) for k in n.keys if k is not None}
            if {"zh", "en"} <= keys:
                out.append(ast.unparse(n))
    return out


@functools.cache
def _found() -> dict[str, list[str]]:
    out = {}
    for p in sorted(SRC.rglob("*.py")):
        rel = p.relative_to(SRC).as_posix()
        if rel.startswith("engine/stats/"):  # another change's (its words are the witness table's)
            continue
        found = _pairs(tree(rel))
        if found:
            out[rel] = found
    return out


def test_no_new_inline_pair_of_words() -> None:
    found = _found()
    counts = {rel: len(v) for rel, v in found.items()}
    expected = {rel: n for rel, (n, _) in LEFT.items()}
    assert counts == expected, {
        rel: found.get(rel) for rel in set(counts) | set(expected) if counts.get(rel) != expected.get(rel)
    }


def _catalog(lang: str) -> dict[tuple[str, str], str]:
    return catalog(lang)


def _keys(rel: str, ctx: str) -> set[str]:
    """The keys of ``ctx`` a module reads: ``table("ctx")["key"]`` and its small helper's
    literal keys (``_evidence_word("yes" if v else "no", …)`` gives both)."""
    out: set[str] = set()
    for n in ast.walk(tree(rel)):
        if (
            isinstance(n, ast.Subscript)
            and isinstance(n.value, ast.Call)
            and getattr(n.value.func, "id", "") == "table"
            and _text(n.value.args[0]) == ctx
            and isinstance(n.slice, ast.Constant)
        ):
            out.add(n.slice.value)
        elif isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_evidence_word":
            key = n.args[0]
            out |= {_text(k) for k in ([key.body, key.orelse] if isinstance(key, ast.IfExp) else [key])}  # type: ignore[misc]
    return out


@pytest.mark.parametrize(("rel", "ctx"), sorted(MOVED.items()))
def test_the_moved_words_are_in_both_catalogs_each_in_its_language(rel: str, ctx: str) -> None:
    zh, en = _catalog("zh"), _catalog("en")
    keys = _keys(rel, ctx)
    assert keys, rel
    for key in keys:
        assert (ctx, key) in zh and (ctx, key) in en, (rel, ctx, key)
        assert CJK.search(zh[ctx, key]) and not ENGLISH_SENTENCE.search(zh[ctx, key]), zh[ctx, key]
        assert not CJK.search(en[ctx, key]), en[ctx, key]


def test_the_moved_words_read_as_before() -> None:
    from anxin.demo.districts import ATTRIBUTION, ATTRIBUTION_EN
    from anxin.reports.oversight import station_ref
    from anxin.web.evidence import event_data, value

    k = {"old": 1000000, "new": 1002000}
    assert event_data("k_factor_change", k, "zh") == "K 系数 1000000 → 1002000"
    assert event_data("k_factor_change", k, "en") == "K factor 1000000 → 1002000"
    assert (value("x", True, "zh"), value("x", False, "zh"), value("x", True, "en"), value("x", False, "en")) == (
        "是",
        "否",
        "yes",
        "no",
    )
    assert (
        station_ref("城东加油站", "S1") == "城东加油站（S1）"
        and station_ref("城东加油站", "S1", "en") == "城东加油站 (S1)"
    )
    assert ATTRIBUTION == "示意区界，非真实行政区划（演示城市：各区中心的加权泰森多边形）"
    assert ATTRIBUTION_EN.startswith("Schematic districts, not the real boundaries") and not CJK.search(ATTRIBUTION_EN)


def test_every_lifecycle_state_has_words_in_both_languages() -> None:
    """The console's states are the catalog's tables (the request's, the work order's and
    the rectification's were Chinese literals with the code as their English)."""
    from anxin.supervision.lifecycle import CASE, CITIZEN_REQUEST, COMPLAINT, INSPECTION, RECTIFICATION
    from anxin.web.texts import STATES, state_word

    for group, life in (
        ("complaint", COMPLAINT),
        ("inspection", INSPECTION),
        ("case", CASE),
        ("request", CITIZEN_REQUEST),
        ("rectification", RECTIFICATION),
    ):
        assert set(life.statuses) <= set(STATES[group]), group
    assert set(STATES["workorder"]) == {"open", "reported", "closed"}
    for group, words in STATES.items():
        for state, (zh, en) in words.items():
            assert CJK.search(zh) and not LATIN.search(zh), (group, state, zh)
            assert not CJK.search(en), (group, state, en)
    assert (
        state_word("request", "requested", "zh") == "待安排" and state_word("request", "requested", "en") == "requested"
    )
    assert (
        state_word("workorder", "reported", "zh") == "已回报" and state_word("rectification", "open", "zh") == "待整改"
    )
    assert (
        state_word("register", "never", "en") == "never verified"
        and state_word("register", "due_soon", "en") == "due soon"
    )


def test_a_list_of_reasons_names_no_field_by_its_code_in_english() -> None:
    """An evidence's problems in English are worded like a single reason (the list showed
    them as the engine wrote them: ``key_id is not this nozzle's key``)."""
    from anxin.web.evidence import value

    problems = ["key_id is not this nozzle's key", "signature does not verify"]
    assert value("problems", problems, "en") == "the signing key is not this nozzle's key; signature does not verify"
    assert value("problems", problems, "zh") == "签名密钥不属于该油枪；签名验证失败"


def test_the_engines_reasons_are_worded_from_the_catalog() -> None:
    """``anxin.i18n.alarms``: each reason pattern names an ``engine_reason`` key in both
    catalogs (every key used); its English gives the reason back as the engine writes it
    (the pattern matches it), but for a field named by its code (key_id), put in words."""
    import itertools

    from anxin.i18n.alarms import _REASONS

    zh = {k: v for (c, k), v in _catalog("zh").items() if c == "engine_reason"}
    en = {k: v for (c, k), v in _catalog("en").items() if c == "engine_reason"}
    assert [key for _, key in _REASONS] == list(zh) == list(en)
    for pattern, key in _REASONS:
        wanted = fields(zh[key]) | fields(en[key])
        assert wanted == {str(n) for n in range(pattern.groups)}, key
        assert CJK.search(zh[key]) and not CJK.search(en[key]), key
        if "key_id" in pattern.pattern:
            assert "key_id" not in en[key] and "signing key" in en[key]
            continue
        samples = itertools.product(("1", "seal breach", "JD-1"), repeat=pattern.groups)
        assert any(pattern.fullmatch(en[key].format(*s)) for s in samples), (key, en[key])
