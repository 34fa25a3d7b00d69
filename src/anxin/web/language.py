"""Each web request in its own language (``?lang=``, the language cookie, the browser's
``Accept-Language``): the words the shared code looks up with :func:`anxin.i18n.t` —
a refused login, a password the policy rejects — follow the reader, never the process
(a server started with ``--lang en`` answered its Chinese readers in English)."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from anxin.i18n import language_scope, negotiate

LANG_COOKIE = "anxin_lang"


def language_of(conn: HTTPConnection) -> str:
    return negotiate(conn.query_params.get("lang"), conn.cookies.get(LANG_COOKIE), conn.headers.get("accept-language"))


class RequestLanguage:
    """ASGI middleware: the request is answered inside its language's scope."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with language_scope(language_of(HTTPConnection(scope))):
            await self.app(scope, receive, send)
