"""The gettext catalogs (issue 13 item 1): the platform's words live in
``anxin/i18n/locale/{zh_CN,en}/LC_MESSAGES/anxin.po``. Both files hold the same keys;
each entry's placeholders agree between the languages; no word is empty; the
platform's own reader gives, entry for entry, what Babel's does; and the reader refuses
what it cannot take with the file and line named."""

from __future__ import annotations

import io
import re
import string

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from anxin.i18n.po import LOCALES, CatalogError, parse_po, po_path, table

CONTEXTS = (
    "rule",
    "message",
    "witness",
    "event",
    "console",
    "case_source",
    "audit_action",
    "audit_subject",
    "refusal",
    "figure",
    "payment",
    "field",
)


def _entries(lang: str):
    return parse_po(po_path(lang).read_text(encoding="utf-8"), lang)


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def test_both_languages_hold_the_same_keys_in_the_same_order() -> None:
    zh = [(c, m) for c, m, _ in _entries("zh")]
    en = [(c, m) for c, m, _ in _entries("en")]
    assert zh == en
    assert len(set(zh)) == len(zh), "a key twice in one table"
    assert {c for c, _ in zh} >= set(CONTEXTS)


def test_every_word_is_there_with_its_placeholders() -> None:
    zh = {(c, m): s for c, m, s in _entries("zh")}
    en = {(c, m): s for c, m, s in _entries("en")}
    for key, words in zh.items():
        assert words.strip() and en[key].strip(), key
        # one language may leave out what the other says (case_malformed's {detail}: the
        # validator's own English, kept off a Chinese page), never name another field
        a, b = _fields(words), _fields(en[key])
        assert a <= b or b <= a, (key, words, en[key])


def test_chinese_words_are_chinese() -> None:
    """A zh_CN entry in English would be a raw sentence on a Chinese page (units, codes
    and proper names apart: those entries carry some CJK or are short symbols)."""
    latin = [
        (c, m, s)
        for c, m, s in _entries("zh")
        if re.fullmatch(r"[\x00-\x7f]*", s) and len(re.findall(r"[A-Za-z]{4,}", s)) > 1
    ]
    assert not latin, latin[:5]


@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_the_platforms_reader_agrees_with_babel(lang: str) -> None:
    path = po_path(lang)
    babel = read_po(io.BytesIO(path.read_bytes()), locale=LOCALES[lang])
    theirs = {(m.context, m.id): m.string for m in babel if m.id}
    ours = {(c, m): s for c, m, s in parse_po(path.read_text(encoding="utf-8"))}
    assert ours == theirs
    assert babel.locale.language == LOCALES[lang].split("_")[0]


def test_tables_read_both_languages() -> None:
    assert table("rule")["VOLUME_MISMATCH"] == ("油量不符", "Volume mismatch")
    assert table("console")["penalty_yuan"] == ("罚款（元）", "Fine (yuan)")


def _po(messages: list[tuple[str | None, str, str]]) -> str:
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'

    out = ['msgid ""', 'msgstr "Content-Type: text/plain; charset=UTF-8\\n"', ""]
    for ctx, mid, mstr in messages:
        if ctx is not None:
            out.append(f"msgctxt {q(ctx)}")
        out += [f"msgid {q(mid)}", f"msgstr {q(mstr)}", ""]
    return "\n".join(out)


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=30)


@given(st.lists(st.tuples(st.none() | text, text.filter(bool), text), max_size=8, unique_by=lambda m: (m[0], m[1])))
def test_any_message_round_trips_as_babel_reads_it(messages) -> None:
    """What a translator's tool may write (quotes, backslashes, newlines, tabs, any
    script) is read back as written, and as Babel reads it."""
    po = _po(messages)
    ours = parse_po(po)
    assert ours == [(c, m, s) for c, m, s in messages]
    theirs = {(m.context, m.id): m.string for m in read_po(io.StringIO(po)) if m.id}
    assert {(c, m): s for c, m, s in ours} == theirs


@pytest.mark.parametrize(
    ("po", "problem"),
    [
        ('msgid "a"\nmsgstr "b', "expected a quoted string"),
        ('msgid "a"\nmsgstr "\\q"', "unknown escape"),
        ('msgid "a"\nmsgid_plural "as"\nmsgstr[0] "b"', "plural forms"),
        ('msgid "a"\nbogus', "cannot read"),
        ('msgid "a"\n\nmsgid "b"\nmsgstr "c"', "has no msgstr"),
    ],
)
def test_a_file_it_cannot_take_is_refused_by_line(po: str, problem: str) -> None:
    with pytest.raises(CatalogError, match=problem):
        parse_po(po, "x.po")
