"""Passwords (密码): argon2id (argon2-cffi's RFC 9106 defaults), the minimum rules, and
rehashing when the parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from anxin.i18n import t

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing megabytes of "password" is a denial of service, not security

HASHER = PasswordHasher(type=Type.ID)  # replaced only to change the parameters (old hashes are then rehashed)


class AuthError(ValueError):
    """A refused account operation; the message is for the person (in the console language)."""


class PasswordRejected(AuthError):
    pass


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
