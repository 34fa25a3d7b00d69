"""Where a webhook may be delivered (报警推送目标): only to global addresses, checked at
subscription and again at every delivery, on a connection pinned to the address checked.

The check (:func:`address_problem`) — every address a host resolves to must be global
(``ipaddress``'s ``is_global``): not loopback, private, shared (100.64/10), link-local,
documentation, benchmarking, reserved, unspecified or multicast; an IPv6 address that
carries an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``,
IPv4-translated ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``,
Teredo) is judged by that IPv4 address too.

Literal hosts are normalised as a browser's URL parser and ``inet_aton`` read them
(:func:`literal_address`): ``2130706433``, ``0x7f000001``, ``127.1``, ``0177.0.0.1``
and ``0`` are IPv4 addresses (127.0.0.1 and 0.0.0.0), not names; a trailing dot is
dropped (``localhost.`` is ``localhost``); ``localhost`` and ``*.localhost`` are local.

At delivery (:func:`pinned_post`): the host is resolved once, every address checked,
and the request sent to a checked address itself — never a second lookup between the
check and the connect (a DNS answer that changes in between, "DNS rebinding", cannot
move the connection). The request keeps the URL's host name: the ``Host`` header, TLS
SNI and the certificate check are the name's. Connections are not kept alive, so every
delivery resolves and checks again. ``webhook_allow_private`` (a receiver on the LAN) lifts the address check,
not the pinning. Webhooks connect directly, never through an HTTP proxy.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


class TargetRefused(Exception):
    """The webhook's address is not one the platform delivers to."""


def _ipv4_number(part: str) -> int | None:
    """One part of a numeric IPv4 host: decimal, 0x hexadecimal or 0-led octal."""
    base, digits = 10, part
    if part[:2] in ("0x", "0X"):
        base, digits = 16, part[2:]
    elif len(part) > 1 and part[0] == "0":
        base, digits = 8, part[1:]
    if digits == "":
        return 0 if base == 16 else None
    try:
        return int(digits, base) if digits.isalnum() and digits.isascii() else None
    except ValueError:
        return None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """A host in any numeric IPv4 form (1 to 4 parts, each decimal, hex or octal; the
    last fills the remaining bytes), or None when it is not numeric."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4 or any(p == "" for p in parts):
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    nums = [n for n in numbers if n is not None]
    if any(n > 255 for n in nums[:-1]) or nums[-1] >= 256 ** (5 - len(nums)):
        return None
    value = nums[-1]
    for i, n in enumerate(nums[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def normalise_host(host: str) -> str:
    """Lower case, without IPv6 brackets or trailing dots."""
    return host.strip().strip("[]").lower().rstrip(".")


def literal_address(host: str) -> IPAddress | None:
    """The address a literal host names (any IPv4 form, IPv6 with or without a zone), or
    None for a name."""
    h = normalise_host(host)
    if ":" in h:
        try:
            return ipaddress.IPv6Address(h.split("%", 1)[0])
        except ValueError:
            return None
    return parse_ipv4(h)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    out = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    n = int(ip)
    if n >> 32 == 0 and n > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks)
        out.append(ipaddress.IPv4Address(n & 0xFFFFFFFF))
    if ip in _TRANSLATED or any(ip in net for net in _NAT64):
        out.append(ipaddress.IPv4Address(n & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    return out


def address_problem(ip: IPAddress) -> str | None:
    """Why the platform does not deliver to ``ip`` (None: a global address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return f"address {ip} is link-local"
        for v4 in _embedded_ipv4(ip):
            if (problem := address_problem(v4)) is not None:
                return f"address {ip} carries {v4}: {problem}"
    if not ip.is_global or ip.is_multicast:
        return f"address {ip} is not global"
    return None


def host_problem(host: str) -> str | None:
    """Why a host is refused without resolving it: a local name, or a literal address
    that is not global (None: nothing known against it yet)."""
    h = normalise_host(host)
    if h == "":
        return "the URL has no host"
    if h == "localhost" or h.endswith(".localhost"):
        return f"host {h!r} is local"
    ip = literal_address(h)
    return address_problem(ip) if ip is not None else None


def url_problem(url: str) -> str | None:
    """:func:`host_problem` of a URL's host."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    return host_problem(host)


AddrInfo = tuple[int, int, int, str, tuple]


def resolve(host: str, port: int, *, allow_private: bool = False) -> list[AddrInfo]:
    """Resolve ``host`` once and check every address (unless ``allow_private``); the
    addresses to connect to, in the resolver's order. Raises TargetRefused."""
    h = normalise_host(host)
    if not allow_private and (problem := host_problem(h)) is not None:
        raise TargetRefused(problem)
    literal = literal_address(h)
    name = str(literal) if literal is not None else h  # a numeric form is connected to as what it means
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"host {h!r} does not resolve ({exc})") from None
    if not infos:
        raise TargetRefused(f"host {h!r} has no address")
    if not allow_private:
        for *_rest, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if (problem := address_problem(ip)) is not None:
                raise TargetRefused(f"host {h!r} resolves to {sockaddr[0]}: {problem}")
    return [(f, t, p, c, a) for f, t, p, c, a in infos]


def webhook_client(*, timeout_s: float) -> httpx2.Client:
    """The dispatcher's HTTP client: TLS verified, no redirects, no proxies, no
    keep-alive (each delivery connects anew: resolved and checked by :func:`pinned_post`)."""
    return httpx2.Client(
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        limits=httpx2.Limits(max_keepalive_connections=0),
        headers={"User-Agent": "anxin-webhooks/1"},
    )


def pinned_post(
    client: httpx2.Client, url: str, *, content: bytes, headers: dict[str, str], allow_private: bool = False
) -> httpx2.Response:
    """POST ``url`` on a connection pinned to a checked address: the host is resolved
    once (:func:`resolve`; every address checked unless ``allow_private``) and the
    request sent to the address itself — numeric, so no second lookup — with the URL's
    ``Host`` and, over HTTPS, its host name for SNI and the certificate check (httpcore's
    ``sni_hostname``). The addresses are tried in the resolver's order. Raises
    TargetRefused, or httpx2's errors."""
    if not allow_private and (problem := url_problem(url)) is not None:
        raise TargetRefused(problem)  # a literal address or local name: no lookup, no connection
    try:
        u = httpx2.URL(url)
    except httpx2.InvalidURL as exc:  # e.g. 0177.0.0.1 with allow_private: httpx reads no octal
        raise TargetRefused(f"not a URL httpx can send to ({exc})") from None
    host = u.raw_host.decode("ascii")
    port = u.port or (443 if u.scheme == "https" else 80)
    infos = resolve(host, port, allow_private=allow_private)
    sent = {**headers, "Host": u.netloc.decode("ascii")}
    extensions = {"sni_hostname": normalise_host(host)} if u.scheme == "https" else {}
    error: httpx2.TransportError | None = None
    for *_info, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        try:
            return client.post(
                u.copy_with(host=address, port=port), content=content, headers=sent, extensions=extensions
            )
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:  # that address does not answer: the next
            error = exc
    assert error is not None
    raise error


__all__ = [
    "TargetRefused",
    "address_problem",
    "host_problem",
    "literal_address",
    "parse_ipv4",
    "pinned_post",
    "resolve",
    "url_problem",
    "webhook_client",
]
