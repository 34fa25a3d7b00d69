"""Passwords (密码): argon2id (argon2-cffi's RFC 9106 defaults), the rules, and rehashing
when the parameters change.

The rules: at least 12 characters (at most 1024), not blank, not the username, not one
character repeated, not a repetition of a short piece (``abcabcabcabc``) nor a straight
run (``123456789012``, ``abcdefghijkl``), and not a common password: neither the
password nor what is left of it without its trailing digits and punctuation
(``Password2026!`` → ``password``), case-folded, is in the list shipped beside this
module, ``common-passwords.txt.gz`` — the 20,000 common passwords (19,640 after
lower-casing and de-duplication) compiled by Royce Williams and shipped by Django
(``django/contrib/auth/common-passwords.txt.gz`` of Django 5.2.19, byte for byte,
SHA-256 ``3c1baed62596de36860824eb3f436d5932d37ca8b06e59df78f5a44ec175afe4``), under
Django's BSD-3-Clause licence (``COMMON-PASSWORDS-LICENSE`` beside it)."""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from anxin.i18n import t

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing megabytes of "password" is a denial of service, not security
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")
_TRAILING = re.compile(r"[\d\W_]+$")
_RUNS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")

HASHER = PasswordHasher(type=Type.ID)  # replaced only to change the parameters (old hashes are then rehashed)


class AuthError(ValueError):
    """A refused account operation; the message is for the person (in the console language)."""


class PasswordRejected(AuthError):
    pass


class UserError(AuthError):
    """A refused change of an account (:mod:`anxin.auth.users`: its name, role, stations…;
    an account that exists already, or does not)."""


def check_password_rules(password: str, *, username: str | None = None) -> None:
    """Raise PasswordRejected with a clear message when the password is not acceptable."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise PasswordRejected(t("pw_too_short").format(n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(t("pw_too_long").format(n=MAX_LENGTH))
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PasswordRejected(t("pw_bad_text")) from exc
    if not password.strip():
        raise PasswordRejected(t("pw_blank"))
    if username is not None and password.strip().casefold() == username.strip().casefold():
        raise PasswordRejected(t("pw_is_username"))
    if len(set(password)) == 1:
        raise PasswordRejected(t("pw_one_char"))
    if is_common(password):
        raise PasswordRejected(t("pw_common"))


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def is_common(password: str) -> bool:
    """True for a common password, a repetition of a short piece, or a straight run."""
    folded = password.strip().casefold()
    known = common_passwords()
    if folded in known:
        return True
    stem = _TRAILING.sub("", folded)
    if len(stem) >= 4 and stem in known:
        return True
    compact = folded.replace(" ", "")
    n = len(compact)
    for size in range(1, n // 2 + 1):  # "abcabcabcabc", "1212121212", "passwordpassword"
        piece = compact[:size]
        if (size <= 4 or n % size == 0) and compact == (piece * (n // size + 1))[:n]:
            return True
    for run in _RUNS:  # straight runs, forwards or backwards ("123456789012" wraps the digits)
        for line in (run, run[::-1]):
            if compact and compact in line * (n // len(line) + 2):
                return True
    return False


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    return (hasher or HASHER).hash(password)


def verify_password(stored_hash: str, password: str, *, hasher: PasswordHasher | None = None) -> bool:
    """Constant-time check of ``password`` against an argon2 hash (any parameters)."""
    try:
        return (hasher or HASHER).verify(stored_hash, password)
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


def needs_rehash(stored_hash: str, *, hasher: PasswordHasher | None = None) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return (hasher or HASHER).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


_dummy: list[tuple[PasswordHasher, str]] = []


def dummy_hash() -> str:
    """A hash with the current parameters for unknown usernames to be verified against,
    so that they take as long as known ones."""
    if not _dummy or _dummy[0][0] is not HASHER:
        _dummy[:] = [(HASHER, HASHER.hash("anxin: no such user, but take the same time"))]
    return _dummy[0][1]
