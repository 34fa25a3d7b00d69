"""Registry administration (登记管理): stations, tanks, products, nozzles, prices and
keys, station API tokens, webhooks. Every registry change is a new, validated version
of the whole registry document (contract §2) with who and why (query parameters
``reason`` and ``author``: UTF-8, unlike HTTP headers); an invalid change is a 422
naming the problem and changes nothing."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from anxin.contract.registry import RegistryError
from anxin.contract.times import format_ts, parse_ts
from anxin.ingest.service import IngestService
from anxin.notify.targets import TargetRefused, resolve, url_problem
from anxin.notify.webhooks import new_secret
from anxin.serve.tokens import institutes, revoke_institute_token

SECTIONS = {"stations": "station_id", "tanks": "tank_id", "products": "product", "nozzles": "nozzle_id"}
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # no control characters (NUL cannot be stored, nor audited)


class KeyRotation(BaseModel):
    key_id: str = Field(min_length=1, max_length=128)
    key_alg: Literal["ed25519", "sm2"]
    public_key: str = Field(min_length=1, max_length=300)
    retired_at: datetime | None = Field(None, description="when the old key stops being valid (default: now)")


def internal_target(url: str) -> str | None:
    """Why a webhook URL points inside the platform's network, or None: its host is a
    local name, a literal address that is not global in any of its numeric forms, or a
    name that resolves to one (:mod:`anxin.notify.targets`). A name that does not
    resolve now is not refused here: every delivery resolves and checks it again."""
    problem = url_problem(url)
    if problem is not None:
        return problem
    try:
        parts = urlsplit(url)
        resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except TargetRefused as exc:
        return None if "does not resolve" in str(exc) or "no address" in str(exc) else str(exc)
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    return None


class WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://", max_length=2000)
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description="the HMAC-SHA256 key of the webhook-signature (Standard Webhooks): whsec_<base64>, "
        "or any text of 16+ characters (its UTF-8 bytes); omitted: one is made and returned once",
    )

    @field_validator("url")
    @classmethod
    def _a_url_with_a_host(cls, url: str) -> str:
        try:
            parts = urlsplit(url)
            _ = parts.port  # a port that is not a number in 0…65535 raises here
        except ValueError as exc:  # "http://[", "http://h:99999"
            raise ValueError(f"not a valid URL: {exc}") from None
        if not parts.hostname:
            raise ValueError("the URL has no host")
        return url


def admin_router(service: IngestService, tokens, admin, *, allow_private_webhooks: bool = False) -> APIRouter:
    r = APIRouter(tags=["administration"], dependencies=[Depends(admin)])

    def current() -> dict[str, Any]:
        doc = service.registry_document()
        if doc is None:
            return {"stations": [], "tanks": [], "products": [], "nozzles": [], "prices": []}
        return msgspec.json.decode(doc)

    def save(doc: dict[str, Any], author: str, reason: str) -> dict[str, Any]:
        try:
            version = service.set_registry(msgspec.json.encode(doc), author=author, reason=reason)
        except RegistryError as exc:
            # the API's words are English (the contract's), whatever the process speaks
            raise HTTPException(422, f"registry change refused: {exc.text('en')}") from None
        return {"version": version}

    @r.get("/v1/registry", summary="The registry in force (contract §2)")
    async def get_registry() -> dict[str, Any]:
        return await run_in_threadpool(current)

    @r.get("/v1/registry/history", summary="Registry versions: when, who, why")
    async def history() -> list[dict[str, Any]]:
        return await run_in_threadpool(service.store.registry_history)

    @r.put("/v1/registry", summary="Replace the whole registry (validated as a whole)")
    async def put_registry(
        request: Request,
        reason: Annotated[str, Query(min_length=1, max_length=500, description="why (kept with the version)")],
        author: Annotated[str, Query(min_length=1, max_length=128, description="who")] = "admin",
    ) -> dict[str, Any]:
        try:
            doc = msgspec.json.decode(await request.body())
        except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: nested too deep
            raise HTTPException(422, f"registry is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise HTTPException(422, "registry must be a JSON object (contract §2)")
        return await run_in_threadpool(save, doc, author, reason)

    @r.post("/v1/registry/{section}", summary="Add or replace one entry (by its id); prices are appended")
    async def upsert(
        section: Annotated[str, Path(pattern="^(stations|tanks|products|nozzles|prices)$")],
        entry: Annotated[dict[str, Any], Body()],
        reason: Annotated[str, Query(min_length=1, max_length=500, description="why (kept with the version)")],
        author: Annotated[str, Query(min_length=1, max_length=128, description="who")] = "admin",
    ) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            doc = current()
            items = list(doc.get(section) or [])
            if section == "prices":
                items.append(entry)
            else:
                key = SECTIONS[section]
                if not isinstance(entry.get(key), str):
                    raise HTTPException(422, f"{section} entry needs its {key!r}")
                items = [e for e in items if e.get(key) != entry[key]] + [entry]
            doc[section] = items
            return save(doc, author, reason)

        return await run_in_threadpool(run)

    @r.post("/v1/registry/nozzles/{nozzle_id}/key", summary="Rotate a nozzle's signing key")
    async def rotate_key(
        nozzle_id: str,
        rotation: KeyRotation,
        reason: Annotated[str, Query(min_length=1, max_length=500, description="why (kept with the version)")],
        author: Annotated[str, Query(min_length=1, max_length=128, description="who")] = "admin",
    ) -> dict[str, Any]:
        """The current key moves to ``previous_keys`` with ``retired_at``: records it signed
        before then stay valid; the new key is valid from now on."""

        def run() -> dict[str, Any]:
            doc = current()
            for n in doc.get("nozzles") or []:
                if n.get("nozzle_id") == nozzle_id:
                    break
            else:
                raise HTTPException(404, f"nozzle {nozzle_id!r} is not registered")
            if rotation.key_id == n["key_id"] or any(
                k["key_id"] == rotation.key_id for k in n.get("previous_keys", [])
            ):
                raise HTTPException(422, f"key_id {rotation.key_id!r} was already used by this nozzle")
            retired = rotation.retired_at
            when = format_ts(parse_ts(retired.isoformat())) if retired and retired.tzinfo else None
            if retired is not None and when is None:
                raise HTTPException(422, "retired_at needs a time zone offset")
            if when is None:
                when = format_ts(time.time_ns() // 1000)
            n.setdefault("previous_keys", []).append(
                {"key_id": n["key_id"], "key_alg": n["key_alg"], "public_key": n["public_key"], "retired_at": when}
            )
            n["key_id"], n["key_alg"], n["public_key"] = rotation.key_id, rotation.key_alg, rotation.public_key
            return save(doc, author, reason)

        return await run_in_threadpool(run)

    @r.post("/v1/stations/{station_id}/token", summary="Issue (or replace) a station's API token")
    async def issue_token(station_id: str) -> dict[str, str]:
        reg = service.registry
        if reg is None or station_id not in reg.station_by_id:
            raise HTTPException(404, f"station {station_id!r} is not registered")
        token = await run_in_threadpool(tokens.issue, station_id)
        return {"station_id": station_id, "token": token}

    @r.post(
        "/v1/institutes/{institute_id}/token",
        summary="Issue (or replace) a verification institute's API token (it sends verification records only)",
    )
    async def issue_institute_token(
        institute_id: Annotated[str, Path(min_length=1, max_length=128, pattern=PRINTABLE)],
        name: Annotated[
            str | None, Query(max_length=200, pattern=PRINTABLE, description="its name, if the registry has none")
        ] = None,
    ) -> dict[str, str]:
        reg = service.registry
        listed = reg.institute_by_id.get(institute_id) if reg is not None else None
        if reg is not None and reg.institutes and listed is None:
            raise HTTPException(404, f"institute {institute_id!r} is not among the registry's institutes")
        label = name or (listed.name if listed is not None else institute_id)
        token = await run_in_threadpool(tokens.issue_institute, institute_id, label)
        return {"institute_id": institute_id, "name": label, "token": token}

    @r.delete("/v1/institutes/{institute_id}/token", summary="Revoke a verification institute's API token")
    async def revoke_institute(
        institute_id: Annotated[str, Path(min_length=1, max_length=128, pattern=PRINTABLE)],
    ) -> dict[str, Any]:
        if not await run_in_threadpool(revoke_institute_token, service.store, institute_id):
            raise HTTPException(404, f"institute {institute_id!r} has no token")
        return {"institute_id": institute_id, "revoked": True}

    @r.get("/v1/institutes", summary="Verification institutes with an API token (never the token)")
    async def list_institutes() -> list[dict[str, Any]]:
        return await run_in_threadpool(institutes, service.store)

    @r.post("/v1/webhooks", summary="Subscribe a URL to every new alarm (signed POSTs)")
    async def add_webhook(hook: WebhookIn) -> dict[str, Any]:
        if not allow_private_webhooks:
            problem = await run_in_threadpool(internal_target, hook.url)  # may resolve the name
            if problem:
                raise HTTPException(422, f"webhook refused: {problem} (set webhook_allow_private to allow it)")
        secret = hook.secret or new_secret()
        wid = await run_in_threadpool(service.store.webhook_add, hook.url, secret)
        out: dict[str, Any] = {"id": wid, "url": hook.url}
        if hook.secret is None:
            out["secret"] = secret  # shown once
        return out

    @r.get("/v1/webhooks", summary="Webhook subscriptions and their delivery backlog")
    async def list_webhooks() -> dict[str, Any]:
        hooks = await run_in_threadpool(service.store.webhooks)
        backlog = await run_in_threadpool(service.store.webhook_backlog)
        return {"webhooks": [{k: v for k, v in h.items() if k != "secret"} for h in hooks], "deliveries": backlog}

    return r


__all__ = ["admin_router"]
