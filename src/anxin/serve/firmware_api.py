"""The firmware register's API (contract v1.1 §F): the verification institute enters
approved, revoked and known-cheat builds with its own token; a station's token may not
(it is the party the register judges). Each entry is a registry version, audited under
the institute's name (``firmware.change``)."""

from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from anxin.contract.registry import RegistryError
from anxin.ingest.principals import Principal
from anxin.register.firmware import FirmwareEntry, enter_firmware, register_view, running_firmware
from anxin.serve import bearer


class FirmwareIn(BaseModel):
    dispenser_model: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
    version: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the software image, 64 hex digits")
    status: Literal["approved", "revoked", "known_cheat"]


def firmware_router(service: Any, tokens: Any) -> APIRouter:
    r = APIRouter(tags=["firmware"])

    def institute(token: Annotated[str | None, Depends(bearer.INSTITUTE)]) -> Principal:
        p = tokens.principal(token) if token else None
        if p is None:
            raise HTTPException(401, "the firmware register needs an institute's token", {"WWW-Authenticate": "Bearer"})
        if p.role != "institute":
            raise HTTPException(
                403,
                f"not permitted: the firmware register is entered by a verification institute, "
                f"never with a station's credentials (station {p.id})",
            )
        return p

    @r.get("/v1/firmware", summary="The firmware register and what each nozzle runs (an institute's token)")
    async def get_register(who: Annotated[Principal, Depends(institute)]) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            reg = service.registry
            if reg is None:
                return {"firmware": [], "nozzles": []}
            view = register_view(reg, running_firmware(service.store))
            return {
                "firmware": [msgspec.to_builtins(e["entry"]) | {"nozzles": e["nozzles"]} for e in view["entries"]],
                "nozzles": [
                    {
                        "nozzle_id": x["nozzle"].nozzle_id,
                        "dispenser_model": x["nozzle"].dispenser_model,
                        "running": msgspec.to_builtins(x["running"]) if x["running"] else None,
                        "status": x["status"],
                    }
                    for x in view["nozzles"]
                ],
            }

        return await run_in_threadpool(run)

    @r.post("/v1/firmware", summary="Enter a build: approved, revoked or known cheat (an institute's token)")
    async def post_entry(
        body: FirmwareIn,
        who: Annotated[Principal, Depends(institute)],
        reason: Annotated[str, Query(min_length=1, max_length=500, description="the basis (kept, audited)")],
    ) -> dict[str, Any]:
        entry = FirmwareEntry(**body.model_dump())

        def run() -> dict[str, Any]:
            try:
                version = enter_firmware(service, entry=entry, actor=f"institute:{who.id}", reason=reason)
            except RegistryError as exc:
                raise HTTPException(422, f"firmware entry refused: {exc.text('en')}") from None
            return {"version": version, "entry": msgspec.to_builtins(entry)}

        return await run_in_threadpool(run)

    return r


__all__ = ["firmware_router"]
