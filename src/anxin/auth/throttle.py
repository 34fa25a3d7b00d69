"""The login throttle (登录限速) — delays, never a lockout that someone else can trigger —
and the failed-login audit windows.

* **Buckets** of consecutive failures, in the database (every worker sees them): per
  account name (known or not: an unknown name behaves like a known one) and per client
  address; or, when the browser brings a valid **device cookie** for that account (set
  at its last successful login there), per device only. So a guesser elsewhere slows
  down the account for everyone *but* its owner at their usual place.
* A bucket with ``n`` failures past its free allowance admits the next attempt only
  ``min(15 min, 2 s × 2^(n − free))`` after the last failure; earlier attempts are
  refused without looking at the password. A bucket forgets a day after its last failure.
  A success clears the account's (or the device's) bucket.
* Every refusal — unknown name, wrong password, deactivated account, throttled — gets
  the same answer after the same work (one argon2 verification).
* The audit log gets **one entry per account name per window** of failures (15 min
  from the first), with the count, the reasons and the addresses, written when the
  window has ended (by the next login attempt of anyone, or when the audit log is read:
  :func:`flush_failures`) — not one entry per attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from typing import Any

from anxin import audit
from anxin.contract.times import US_PER_DAY, US_PER_MIN
from anxin.store import throttle
from anxin.store.database import Store
from anxin.store.throttle import Hit
from anxin.store.transactions import write_transaction

FREE_ACCOUNT = 5  # failures on an account (from places it was not used before) before delays
FREE_ADDRESS = 20  # failures from one address (an office's NAT) before delays
FREE_DEVICE = 5
BASE_DELAY_US = 2_000_000
MAX_DELAY_US = 15 * US_PER_MIN
IDLE_US = US_PER_DAY  # a bucket is forgotten this long after its last failure
AUDIT_WINDOW_US = 15 * US_PER_MIN
AUDIT_PREFIX = "loginaudit:"
MAX_ADDRESSES = 10  # addresses kept in one audit window's entry
KEY_NAME = "device"


def delay_us(failures: int, free: int) -> int:
    """How long after the last failure the next attempt waits (0: at once)."""
    if failures < free:
        return 0
    return min(MAX_DELAY_US, BASE_DELAY_US << min(failures - free, 20))


def buckets(name: str, *, address: str | None, device: str | None) -> list[tuple[str, int]]:
    """The buckets (key, free allowance) an attempt is counted in."""
    if device is not None:
        return [(f"login:dev:{device}", FREE_DEVICE)]
    out = [(f"login:user:{name}", FREE_ACCOUNT)]
    if address:
        out.append((f"login:addr:{address}", FREE_ADDRESS))
    return out


def throttled(store: Store, keys: list[tuple[str, int]], *, now_us: int) -> bool:
    got = throttle.peek(store, [k for k, _ in keys], now_us=now_us)
    return any(now_us < got[k].last_us + delay_us(got[k].count, free) for k, free in keys if got[k].count >= free)


def failed(store: Store, keys: list[tuple[str, int]], *, now_us: int) -> None:
    throttle.hit(store, [Hit(key=k, window_us=IDLE_US, slide=True) for k, _ in keys], now_us=now_us)


def succeeded(store: Store, keys: list[tuple[str, int]]) -> None:
    """A success clears the account's (device's) bucket; an address's only ages."""
    throttle.clear(store, [k for k, _ in keys if not k.startswith("login:addr:")])


def lift(store: Store, name: str) -> None:
    """Forget the account's failures (a new password was set)."""
    throttle.clear(store, [f"login:user:{name}"])


# ------------------------------------------------------------ device cookies
def _mac(store: Store, text: str) -> str:
    key = throttle.installation_key(store, KEY_NAME)
    digest = hmac.new(key, text.encode("utf-8", "replace"), hashlib.sha256).digest()[:16]
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_device(store: Store, name: str) -> str:
    """A device cookie for ``name`` (set at a successful login): ``<id>.<mac>``."""
    device = secrets.token_urlsafe(12)
    return f"{device}.{_mac(store, f'device|{name}|{device}')}"


def device_of(store: Store, name: str, cookie: str | None) -> str | None:
    """The device id when ``cookie`` is a device cookie this installation gave ``name``."""
    if not cookie or not isinstance(cookie, str) or len(cookie) > 80 or cookie.count(".") != 1:
        return None
    device, mac = cookie.split(".")
    if not device or not hmac.compare_digest(mac.encode(), _mac(store, f"device|{name}|{device}").encode()):
        return None
    return device


# ------------------------------------------------------------ the audit windows
def note_failure(store: Store, name: str, *, actor: str, why: str, address: str | None, now_us: int) -> None:
    """Count a failed attempt in the account name's audit window."""

    def merge(data: Any) -> dict[str, Any]:
        d: dict[str, Any] = dict(data) if isinstance(data, dict) else {"actor": actor, "why": {}, "addresses": []}
        reasons: dict[str, int] = dict(d.get("why") or {})
        reasons[why] = int(reasons.get(why, 0)) + 1
        seen = list(d.get("addresses") or [])
        if address and address not in seen and len(seen) < MAX_ADDRESSES:
            seen.append(address)
        return {**d, "why": reasons, "addresses": seen}

    throttle.hit(store, [Hit(key=AUDIT_PREFIX + name, window_us=AUDIT_WINDOW_US, merge=merge)], now_us=now_us)


def flush_failures(store: Store, *, now_us: int) -> int:
    """Write one audit entry per failed-login window that has ended (``login.failure``:
    its count, first and last attempt, reasons and addresses); returns how many."""
    written = 0
    for counter in throttle.expired(store, AUDIT_PREFIX, now_us=now_us):
        with write_transaction(store) as c:
            got = throttle.take_expired(c, counter.key, now_us=now_us)
            if got is None:
                continue  # another process wrote it
            name = got.key[len(AUDIT_PREFIX) :]
            data = got.data if isinstance(got.data, dict) else {}
            audit.append(
                c,
                actor=str(data.get("actor") or "anonymous"),
                action="login.failure",
                subject=f"user:{name}"[:200],
                reason="login",
                data={
                    "count": got.count,
                    "first_us": got.first_us,
                    "last_us": got.last_us,
                    "why": data.get("why") or {},
                    "addresses": data.get("addresses") or [],
                },
                now_us=now_us,
            )
            written += 1
    return written
