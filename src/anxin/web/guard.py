"""What stands between the anonymous public and the regulator's work (公众渠道防护): the
QR page's complaint form, the citizen-chosen inspection request (你点我检) and the
complaint API ``POST /v1/complaints``. Also the anonymous form token of the login page.

* **The client's address** is the connection's (``request.client``): uvicorn replaces
  it with ``X-Forwarded-For`` only when the connection comes from a proxy listed in
  ``forwarded_allow_ips`` (none by default). IPv6 addresses count by their /64.
* **Rate limits** per address (attempts: hour and day) and per nozzle — or station,
  when a submission names no nozzle — (accepted submissions: hour and day), in the
  database (:mod:`anxin.store.throttle`), so they hold across workers and restarts.
  Below the free allowance nothing is asked; above it a **challenge**; past the
  maximum, 429 with ``Retry-After``.
* **The challenge** is proof of work, served and checked here — no third-party
  service, nothing loaded from elsewhere: the server signs a nonce, a difficulty and
  an expiry (``v1.<nonce>.<bits>.<expires_us>.<mac>``); the browser (``static/public.js``,
  Web Crypto SHA-256) finds a counter such that SHA-256(``<challenge>:<counter>``) starts
  with that many zero bits (2^bits hashes on average); the server checks it with one
  hash, and each nonce is taken once. Without JavaScript the page says what to do.
* **Attachment quota**: count, size per file and per submission, and bytes per address
  and per nozzle a day; the type by the content (JPEG, PNG, PDF), in
  :func:`anxin.supervision.complaints.sniff`.
* **CSRF and origin**: the forms carry a token bound to a cookie of this site
  (``anxin_form``, SameSite=Lax, HttpOnly) and signed with the installation's key; a
  POST whose ``Origin`` (or, without one, ``Referer``) names another site is refused.
  The JSON API accepts a same-origin ``Origin`` or none.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from base64 import urlsafe_b64encode
from typing import Any
from urllib.parse import urlsplit

import msgspec
from fastapi import Request
from starlette.datastructures import FormData

from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY, US_PER_H, US_PER_MIN
from anxin.store import throttle
from anxin.store.database import Store
from anxin.store.throttle import Hit

FORM_COOKIE = "anxin_form"
KEY_NAME = "web"
MiB = 1024 * 1024


class PublicLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The public channels' limits (the defaults are what a city's QR pages need)."""

    free_per_address_hour: int = 3  # submissions from one address in an hour before a challenge is asked
    free_per_target_hour: int = 5  # about one nozzle (or station) in an hour before everyone is asked
    max_per_address_hour: int = 20  # then 429 (attempts, challenged or not)
    max_per_address_day: int = 60
    max_per_target_day: int = 200  # accepted about one nozzle (station) a day; then 429 (and 12315)
    difficulty: int = 16  # leading zero bits: ≈ 65,000 SHA-256 on average, a second or two on a phone
    max_difficulty: int = 22  # the difficulty grows by one for every 5 attempts past the free allowance
    challenge_ttl_us: int = 10 * US_PER_MIN
    form_ttl_us: int = 6 * US_PER_H  # an anonymous form's token
    attachments_max: int = 5
    attachment_max_bytes: int = 5 * MiB
    submission_max_bytes: int = 10 * MiB  # all the files of one submission
    address_bytes_day: int = 20 * MiB  # attachments from one address a day
    target_bytes_day: int = 50 * MiB  # attachments about one nozzle (station) a day


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The guard's answer to a submission: go on (``status`` 0), or the HTTP status to
    answer with and why (``reason``: a key of the console's words)."""

    status: int = 0
    reason: str = ""
    retry_after_s: int | None = None
    challenge: str | None = None  # a new challenge to solve (status 428)
    difficulty: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 0


OK = Verdict()


def client_address(request: Request) -> str:
    """The client's address as the rate limits count it: IPv4 as is, IPv6 by its /64
    (one customer's network), anything else (a test client) as given."""
    host = request.client.host if request.client else "?"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def origin_verdict(request: Request, base_url: str | None, *, referer: bool = True) -> bool | None:
    """Is the request's ``Origin`` (else its ``Referer``, if ``referer``) this site — its
    host name that of the request's ``Host`` or of ``public_base_url``? None when the
    request names neither (a non-browser client, or a privacy setting)."""
    named = request.headers.get("origin")
    if named is None and referer:
        named = request.headers.get("referer")
    if named is None:
        return None
    if named.strip().lower() == "null":
        return False
    try:
        host = urlsplit(named.strip()).hostname
        mine = {urlsplit("//" + request.headers.get("host", "")).hostname}
        if base_url:
            mine.add(urlsplit(base_url).hostname)
    except ValueError:
        return False
    return bool(host) and host in mine  # the host names (a port does not make another site)


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def leading_zero_bits(digest: bytes) -> int:
    n = int.from_bytes(digest, "big")
    return len(digest) * 8 - n.bit_length()


def solve(challenge: str, difficulty: int, *, limit: int = 1 << 26) -> str:
    """A counter that solves ``challenge`` (what the browser does; for tests and API clients)."""
    for i in range(limit):
        if leading_zero_bits(hashlib.sha256(f"{challenge}:{i}".encode()).digest()) >= difficulty:
            return str(i)
    raise ValueError("no solution found within the limit")


class PublicGuard:
    """The public channels' limits, challenges and form tokens, for one service."""

    def __init__(
        self,
        store: Store,
        *,
        limits: PublicLimits | None = None,
        base_url: str | None = None,
        cookie_secure: bool = True,
    ) -> None:
        self.store = store
        self.limits = limits or PublicLimits()
        self.base_url = base_url or None
        self.cookie_secure = cookie_secure

    # ------------------------------------------------------------ keys
    def _mac(self, text: str) -> str:
        key = throttle.installation_key(self.store, KEY_NAME)
        return _b64(hmac.new(key, text.encode("utf-8", "replace"), hashlib.sha256).digest()[:16])

    # ------------------------------------------------------------ anonymous form tokens (CSRF)
    def form_token(self, request: Request, *, now_us: int) -> tuple[str, str | None]:
        """(the token for a form, the cookie to set or None when the request has one)."""
        cookie = request.cookies.get(FORM_COOKIE)
        new = None
        if not cookie or not 16 <= len(cookie) <= 64 or not cookie.replace("-", "").replace("_", "").isalnum():
            cookie = new = secrets.token_urlsafe(16)
        return f"{now_us}.{self._mac(f'form|{cookie}|{now_us}')}", new

    def form_token_ok(self, request: Request, submitted: Any, *, now_us: int) -> bool:
        cookie = request.cookies.get(FORM_COOKIE)
        if not cookie or not isinstance(submitted, str) or submitted.count(".") != 1 or len(submitted) > 64:
            return False
        issued, mac = submitted.split(".")
        if not issued.isdigit() or not 0 <= now_us - int(issued) <= self.limits.form_ttl_us:
            return False
        return hmac.compare_digest(mac.encode(), self._mac(f"form|{cookie}|{issued}").encode())

    def set_form_cookie(self, response: Any, value: str | None) -> Any:
        if value is not None:
            response.set_cookie(
                FORM_COOKIE, value, max_age=30 * 86400, httponly=True, samesite="lax", secure=self.cookie_secure
            )
        return response

    # ------------------------------------------------------------ the challenge
    def issue(self, scope: str, difficulty: int, *, now_us: int) -> str:
        nonce = secrets.token_hex(8)
        expires = now_us + self.limits.challenge_ttl_us
        body = f"v1.{nonce}.{difficulty}.{expires}"
        return f"{body}.{self._mac(f'pow|{scope}|{body}')}"

    def solved(self, challenge: Any, solution: Any, scope: str, *, now_us: int) -> bool:
        """True when ``solution`` solves ``challenge`` (issued here for ``scope``, not
        expired, of at least the base difficulty) and the challenge was not used before."""
        if not isinstance(challenge, str) or not isinstance(solution, str) or len(challenge) > 120:
            return False
        if not solution.isdigit() or len(solution) > 16:
            return False
        parts = challenge.split(".")
        if len(parts) != 5 or parts[0] != "v1" or not parts[2].isdigit() or not parts[3].isdigit():
            return False
        _, nonce, bits, expires, mac = parts
        body = ".".join(parts[:4])
        if not hmac.compare_digest(mac.encode(), self._mac(f"pow|{scope}|{body}").encode()):
            return False
        if int(expires) <= now_us or int(bits) < self.limits.difficulty:
            return False
        if leading_zero_bits(hashlib.sha256(f"{challenge}:{solution}".encode()).digest()) < int(bits):
            return False
        return throttle.take_once(self.store, f"pow:{nonce}", expires_us=int(expires), now_us=now_us)

    def _difficulty(self, attempts: int) -> int:
        past = max(0, attempts - self.limits.free_per_address_hour)
        return min(self.limits.max_difficulty, self.limits.difficulty + past // 5)

    # ------------------------------------------------------------ counters
    @staticmethod
    def _keys(address: str, target: str, now_us: int) -> dict[str, str]:
        hour, day = now_us // US_PER_H, _local_day(now_us)
        return {
            "addr_h": f"pub:a:h{hour}:{address}",
            "addr_d": f"pub:a:d{day}:{address}",
            "addr_b": f"pub:a:b{day}:{address}",
            "tgt_h": f"pub:t:h{hour}:{target}",
            "tgt_d": f"pub:t:d{day}:{target}",
            "tgt_b": f"pub:t:b{day}:{target}",
        }

    def needed(self, address: str, target: str, *, now_us: int) -> int | None:
        """The difficulty of the challenge the next submission from ``address`` about
        ``target`` will need (None: none), for a page to carry it in its forms."""
        k = self._keys(address, target, now_us)
        got = throttle.peek(self.store, [k["addr_h"], k["tgt_h"]], now_us=now_us)
        attempts, about = got[k["addr_h"]].count, got[k["tgt_h"]].count
        lim = self.limits
        if (
            attempts < lim.free_per_address_hour
            and about < lim.free_per_target_hour
            and not throttle.crowded(self.store)
        ):
            return None
        return self._difficulty(attempts + 1)

    def admit(self, address: str, target: str, scope: str, *, challenge: Any, solution: Any, now_us: int) -> Verdict:
        """Count this attempt from ``address`` and say whether it may go on."""
        lim = self.limits
        k = self._keys(address, target, now_us)
        about = throttle.peek(self.store, [k["tgt_h"], k["tgt_d"]], now_us=now_us)
        hour, day = throttle.hit(
            self.store,
            [Hit(key=k["addr_h"], window_us=US_PER_H), Hit(key=k["addr_d"], window_us=US_PER_DAY)],
            now_us=now_us,
        )
        if hour.count > lim.max_per_address_hour or day.count > lim.max_per_address_day:
            until = (now_us // US_PER_H + 1) * US_PER_H
            if day.count > lim.max_per_address_day:
                until = _next_local_midnight(now_us)
            return Verdict(status=429, reason="pub_too_many", retry_after_s=_seconds(until - now_us))
        if about[k["tgt_d"]].count >= lim.max_per_target_day:
            return Verdict(
                status=429, reason="pub_target_full", retry_after_s=_seconds(_next_local_midnight(now_us) - now_us)
            )
        need = (
            hour.count > lim.free_per_address_hour
            or about[k["tgt_h"]].count >= lim.free_per_target_hour
            or throttle.crowded(self.store)
        )
        if not need:
            return OK
        if challenge or solution:
            if self.solved(challenge, solution, scope, now_us=now_us):
                return OK
        bits = self._difficulty(hour.count)
        return Verdict(
            status=428,
            reason="pub_challenge_failed" if (challenge or solution) else "pub_challenge",
            challenge=self.issue(scope, bits, now_us=now_us),
            difficulty=bits,
        )

    def quota(self, address: str, target: str, nbytes: int, *, now_us: int) -> Verdict:
        """May ``nbytes`` of attachments more come from ``address`` about ``target`` today?"""
        if nbytes == 0:
            return OK
        lim = self.limits
        k = self._keys(address, target, now_us)
        got = throttle.peek(self.store, [k["addr_b"], k["tgt_b"]], now_us=now_us)
        if (
            got[k["addr_b"]].count + nbytes > lim.address_bytes_day
            or got[k["tgt_b"]].count + nbytes > lim.target_bytes_day
        ):
            return Verdict(
                status=413, reason="pub_quota", retry_after_s=_seconds(_next_local_midnight(now_us) - now_us)
            )
        return OK

    def accepted(self, address: str, target: str, nbytes: int, *, now_us: int) -> None:
        """Count an accepted submission (and its attachments' bytes)."""
        k = self._keys(address, target, now_us)
        hits = [Hit(key=k["tgt_h"], window_us=US_PER_H), Hit(key=k["tgt_d"], window_us=US_PER_DAY)]
        if nbytes:
            hits += [
                Hit(key=k["addr_b"], window_us=US_PER_DAY, amount=nbytes),
                Hit(key=k["tgt_b"], window_us=US_PER_DAY, amount=nbytes),
            ]
        throttle.hit(self.store, hits, now_us=now_us)

    # ------------------------------------------------------------ the body
    async def read_form(self, request: Request, *, files: bool) -> FormData | None:
        """The form, read within the size a submission may have (None: too large)."""
        lim = self.limits
        most = (lim.submission_max_bytes if files else 0) + 256 * 1024  # the text fields and multipart framing
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > most:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > most:
                return None
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        return await Request(request.scope, receive).form(
            max_files=lim.attachments_max + 1 if files else 0, max_fields=30
        )


def _seconds(us: int) -> int:
    return max(1, -(-us // 1_000_000))


def _local_day(now_us: int) -> int:
    """The local day's number (days since 1970-01-01, local time)."""
    return (now_us + LOCAL_OFFSET_US) // US_PER_DAY


def _next_local_midnight(now_us: int) -> int:
    return (_local_day(now_us) + 1) * US_PER_DAY - LOCAL_OFFSET_US
