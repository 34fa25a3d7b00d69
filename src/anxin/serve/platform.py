"""What the platform publishes about itself: the public keys it signs evidence with
(``GET /v1/platform/keys``, no token: anyone checking a bundle needs them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from anxin.serve.config import ServeConfig
from anxin.store.database import Store
from anxin.supervision.signing import configured_key, published_keys


def platform_router(store: Store, config: ServeConfig) -> APIRouter:
    """The router; the signing key is made (or the configured one checked and
    published) now, so that a bad ``signing_key`` stops the start, not an export."""
    current = configured_key(store, config)
    r = APIRouter(tags=["public"])

    @r.get(
        "/v1/platform/keys",
        summary="The platform's public keys that sign evidence bundles (MANIFEST.sig.json)",
    )
    async def keys() -> dict[str, Any]:
        """``current``: the key that signs now; ``keys``: every key the platform has signed
        with (``key_id``, ``alg``, ``public_key`` as in the registry: base64 Ed25519 or hex
        SM2). Give them to ``anxin bundle verify --trust-key``."""
        return {"current": current.key_id, "keys": await run_in_threadpool(published_keys, store)}

    return r


__all__ = ["platform_router"]
