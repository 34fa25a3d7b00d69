"""Security headers on every response of ``anxin serve`` (an ASGI middleware, so the
SSE streams pass through untouched):

* every response: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin``, ``Cross-Origin-Opener-Policy: same-origin``;
* every HTML response: a Content-Security-Policy (:data:`CSP`) — scripts only from this
  site (no inline script, no ``eval``, no inline event handler), style sheets only from
  here (style attributes allowed: the charts set them), no plugins, no framing, no
  ``<base>`` elsewhere, forms posting only here — unless the route set its own (the
  API documentation pages: :func:`docs_csp`, their one inline bootstrap script allowed by
  a nonce made for the response).

The console's pages pass their data to the shipped scripts in ``<script
type="application/json">`` blocks, which are data, not scripts: the CSP does not run them.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi.responses import HTMLResponse

CSP = (
    "default-src 'self'; script-src 'self'; "
    # ECharts positions and styles its tooltips through style attributes: those are allowed,
    # <style> elements only from this site (browsers without style-src-elem allow both).
    "style-src 'self' 'unsafe-inline'; style-src-elem 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def docs_csp(nonce: str) -> str:
    """The policy of ``/docs`` and ``/redoc``: their vendored bundles and the page's one
    inline bootstrap script (by its nonce); the UIs style themselves inline and ReDoc
    runs a worker from a blob."""
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>")


def with_nonce(page: HTMLResponse) -> HTMLResponse:
    """The page with a nonce on each of its inline scripts and the policy that allows
    exactly those (a new nonce per response)."""
    nonce = secrets.token_urlsafe(16)
    html = _INLINE_SCRIPT.sub(lambda m: f'<script nonce="{nonce}"{m[1]}>', bytes(page.body).decode("utf-8"))
    headers = {k: v for k, v in page.headers.items() if k.lower() not in ("content-length", "content-type")}
    headers["Content-Security-Policy"] = docs_csp(nonce)
    return HTMLResponse(html, status_code=page.status_code, headers=headers)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in ALWAYS if k not in have]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html") and b"content-security-policy" not in have:
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
