"""Detectors of personal data in free text (pure: no I/O).

Each is precise rather than eager, because it runs on every unknown field of every
record and an honest record must never be refused: a card number is 13–19 digits with
a card scheme's prefix and a valid Luhn check digit; a mobile number is 1[3-9] and nine
digits (optionally +86), not part of a longer run of digits; an ID card number is 18
characters with a real birth date and its ISO 7064 MOD 11-2 check character; a plate is
a province's character, a letter and five (new energy: six) characters of the plate
alphabet (no I, no O). A bank account number has no checksum, so only a field whose
name says it is one (``account``, ``card``, 账号, 卡号…) makes 8–30 digits an account;
likewise a field named ``phone``/``tel``/电话 makes 7–15 digits a phone number.

Digit runs are matched with ASCII digits only, bounded by non-digits, so an order id,
a totalizer, a sequence number or a hex digest is never a number's middle."""

from __future__ import annotations

import re
from typing import NamedTuple

KINDS = ("card", "id_card", "mobile", "phone", "plate", "bank_account")


class Finding(NamedTuple):
    kind: str  # one of KINDS
    start: int  # the span in the text
    end: int
    value: str  # normalised (separators and +86 removed): what a token is made of


_SEP = r"[ \-]"
# A card: contiguous 13–19 digits, or groups of four separated by one space or hyphen.
_CARD = re.compile(r"(?<![0-9])(?:[0-9]{13,19}|[0-9]{4}(?:[ \-][0-9]{4}){2,3}(?:[ \-][0-9]{1,3})?)(?![0-9])")
_CARD_PREFIX = re.compile(
    r"62|4|5[1-5]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)|3[47]|35|30|36|38|39|60|64|65"
)
_MOBILE = re.compile(r"(?<![0-9+])(?:(?:\+|00)86[ \-]?)?(1[3-9][0-9](?:[ \-]?[0-9]{4}){2})(?![0-9])")
_ID = re.compile(
    r"(?<![0-9])[1-8][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # the plate alphabet: no I, no O
_PLATE = re.compile(
    rf"(?<![A-Za-z0-9])[{_PROVINCES}][{_L}][·• ]?"
    rf"(?:[DF][{_L}0-9][0-9]{{4}}|[0-9]{{5}}[DF]|[{_L}0-9]{{4}}[{_L}0-9挂学警港澳])(?![A-Za-z0-9])"
)
_ANY_DIGIT = re.compile(r"[0-9]")
_DIGITS = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9])*(?![0-9])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# Field names that make a plain run of digits personal data (lower-cased, as substrings).
# ASCII words are whole words of the name (``card_no``, ``cardNo``; not ``discard``),
# Chinese ones substrings.
_ACCOUNT_WORDS = frozenset({"account", "acct", "acc", "card", "iban", "bank", "pan"})
_ACCOUNT_ZH = ("账号", "帐号", "卡号", "账户", "帐户", "银行")
_PHONE_WORDS = frozenset({"phone", "mobile", "tel", "telephone", "cellphone", "msisdn"})
_PHONE_ZH = ("手机", "电话", "联系")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def id_card_ok(text: str) -> bool:
    """An 18-character resident ID number whose check character holds (the date is the
    pattern's to check)."""
    if len(text) != 18 or not text[:17].isascii() or not text[:17].isdigit():
        return False
    s = sum(int(c) * w for c, w in zip(text[:17], _ID_WEIGHTS))
    return _ID_CHECK[s % 11] == text[17].upper()


def _strip(text: str) -> str:
    return text.replace(" ", "").replace("-", "")


def find(text: str, *, key: str = "") -> list[Finding]:
    """The personal data in ``text`` (``key``: the field's name, which may say that its
    digits are an account or a phone number), in order, without overlaps."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int, value: str) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Finding(kind, start, end, value))

    if _ANY_DIGIT.search(text) is None:
        return []  # every kind below holds a digit: most text costs this one search
    for m in _ID.finditer(text):
        if id_card_ok(m.group()):
            add("id_card", m.start(), m.end(), m.group().upper())
    for m in _CARD.finditer(text):
        digits = _strip(m.group())
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_ok(digits):
            add("card", m.start(), m.end(), digits)
    for m in _MOBILE.finditer(text):
        add("mobile", m.start(), m.end(), _strip(m.group(1)))
    for m in _PLATE.finditer(text):
        add("plate", m.start(), m.end(), m.group().replace("·", "").replace("•", "").replace(" ", ""))
    if key:
        words = {w.lower() for w in _WORDS.findall(key)}
        account = bool(words & _ACCOUNT_WORDS) or any(h in key for h in _ACCOUNT_ZH)
        phone = bool(words & _PHONE_WORDS) or any(h in key for h in _PHONE_ZH)
        if account or phone:
            for m in _DIGITS.finditer(text):
                digits = _strip(m.group())
                if account and 8 <= len(digits) <= 30:
                    add("bank_account", m.start(), m.end(), digits)
                elif phone and 7 <= len(digits) <= 15:
                    add("phone", m.start(), m.end(), digits)
    found.sort(key=lambda f: f.start)
    return found
