"""The shared file reader's words (issue 16 item 4): every problem made in
:mod:`anxin.tabular`, the register's verification file and the station's POS import is
a key of the ``tabular`` table with its parameters, found in the source (``ast``): each
key in both catalogs with every placeholder given, none unused; the Chinese says no
English sentence, the English no Chinese character."""

from __future__ import annotations

import ast
import functools
import re

from wording import CJK, ENGLISH_SENTENCE, calls, fields, table

from anxin.tabular import CONTEXT

HELPERS = {"problem", "table_problem"}  # anxin.tabular.errors.problem, under its names
MODULES = ("tabular/", "register/csvfile.py", "edge/posfile.py")
# What a Chinese text may show as it is: formats, a command, a path, encodings, a package.
DATA = re.compile(
    r"\{[^}]*\}|%[A-Za-z]|UTF-8|UTF-16|GB18030|GBK|CSV|XLSX|TOML|JSON|openpyxl|pip install|anxin\[server\]"
)


@functools.cache
def _sites() -> tuple[tuple[str, str, frozenset[str]], ...]:
    out = []
    for rel, node, name in calls():
        if name not in HELPERS or not rel.startswith(MODULES):
            continue
        where = f"{rel}:{node.lineno}"
        key = node.args[0]
        assert isinstance(key, ast.Constant) and isinstance(key.value, str), f"{where}: the key is a literal"
        assert all(k.arg is not None for k in node.keywords), f"{where}: parameters by name, no **"
        out.append((where, key.value, frozenset(k.arg for k in node.keywords if k.arg)))
    return tuple(out)


def test_every_key_is_in_both_catalogs_with_its_placeholders_given() -> None:
    sites = _sites()
    assert len(sites) >= 60 and {w.split("/")[0] for w, _, _ in sites} == {"tabular", "register", "edge"}
    zh, en = table(CONTEXT, "zh"), table(CONTEXT, "en")
    for where, key, given in sites:
        assert key in zh and key in en, f"{where}: {CONTEXT}/{key} missing from a catalog"
        wanted = fields(zh[key]) | fields(en[key])
        assert wanted == given, f"{where}: {key} wants {sorted(wanted)}, given {sorted(given)}"
    assert set(zh) == set(en) == {key for _, key, _ in sites}  # (none unused)


def test_each_language_speaks_alone() -> None:
    for key, words in table(CONTEXT, "zh").items():
        assert CJK.search(words) and not ENGLISH_SENTENCE.search(DATA.sub(" ", words)), (key, words)
    for key, words in table(CONTEXT, "en").items():
        assert not CJK.search(words), (key, words)
