"""The live service's privacy policy (:mod:`anxin.privacy.policy`) from its configuration:
``privacy`` (refuse | tokenise | keep) and ``privacy_key``, the tokens' HMAC key — a
secret like the others (``ANXIN_PRIVACY_KEY_FILE``); without one, 32 random bytes made on
first use and kept in the database, so every worker, receiver and restart makes the same
token of the same number (an identical resend stays a duplicate)."""

from __future__ import annotations

from anxin.privacy.policy import MODES, Privacy
from anxin.store.database import Store
from anxin.store.throttle import installation_key


def policy(store: Store, *, mode: str = "tokenise", key: str | None = None) -> Privacy:
    if mode not in MODES:
        raise ValueError(f"privacy must be one of {' | '.join(MODES)}, not {mode!r}")
    if mode != "tokenise":
        return Privacy(mode=mode)  # type: ignore[arg-type]
    return Privacy(mode="tokenise", key=key.encode() if key else installation_key(store, "privacy"))
