"""The bodies of the HTTP API as the description gives them (``/openapi.json``): the
contract's own msgspec types where there are some (an upload's answer, an alarm, the
registry), pydantic models for the rest. They describe what the routes answer — the
routes build their answers themselves, so describing changes no byte on the wire; the
schemathesis test checks every answer against these schemas.

:func:`components` gives them all as OpenAPI ``components/schemas``, referencing each
other by ``#/components/schemas/<name>``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, Field, WithJsonSchema
from pydantic.json_schema import models_json_schema

from anxin.contract.alarm import Alarm
from anxin.contract.registry import Registry
from anxin.contract.upload import UploadResult

REF = "#/components/schemas/{name}"
# msgspec names a struct by its class; "Result" alone says too little in a client.
RENAMED = {"Result": "LineResult"}
PLACEHOLDER = "x-anxin-component"


def ref(name: str) -> Any:
    """A field typed as a component made elsewhere (a msgspec type): its schema is the
    reference (a placeholder here, which pydantic would otherwise try to resolve)."""
    return WithJsonSchema({PLACEHOLDER: name})


class ValidationIssue(BaseModel):
    """One problem of a request FastAPI could not read (a parameter or a JSON body)."""

    loc: list[str | int] = Field(description="where: e.g. ['query', 'limit']")
    msg: str
    type: str


class Error(BaseModel):
    """Every refusal: what is wrong, in words (English, the contract's language); a request
    FastAPI could not read lists its problems instead."""

    detail: str | list[ValidationIssue]


class Health(BaseModel):
    status: Literal["ok"]


class SetAsideSummary(BaseModel):
    rows: int = Field(description="ledger rows set aside (contract v1.1 §A): kept as evidence, never fed")
    newest_ledger_id: int | None


class Readiness(BaseModel):
    """``anxin serve`` gives ``ledger_id`` and ``set_aside``, a scale-out receiver ``published``."""

    status: Literal["ready", "not ready"]
    problems: list[str] = Field(description="why not ready: recovering, no registry, store: …, stream: …")
    registry_version: int | None = None
    ledger_id: int | None = Field(None, description="the last ledger row the engine has taken")
    set_aside: SetAsideSummary | None = None
    published: int | None = Field(None, description="(receiver) records published to the stream")


class SetAsideRow(BaseModel):
    ledger_id: int
    created_us: int = Field(description="when it was set aside (µs since the epoch)")
    station_id: str
    kind: str
    stage: str = Field(description="parse | engine")
    reason: str


class SetAsideList(BaseModel):
    rows: int = Field(description="how many rows are set aside in all")
    newest: list[SetAsideRow]


class AlarmPage(BaseModel):
    alarms: list[Annotated[dict[str, Any], ref("PositionedAlarm")]]
    next: int = Field(description="the position to ask for next (`after=`): the last alarm's, or `after` itself")


class RegistryVersion(BaseModel):
    version: int = Field(description="the registry version now in force")


class RegistryVersionInfo(BaseModel):
    version: int
    created_us: int
    author: str
    reason: str


class StationToken(BaseModel):
    station_id: str
    token: str = Field(description="shown once; the station's previous token stops working now")


class InstituteToken(BaseModel):
    institute_id: str
    name: str
    token: str = Field(description="shown once; the institute's previous token stops working now")


class InstituteRevoked(BaseModel):
    institute_id: str
    revoked: Literal[True]


class FirmwareRunning(BaseModel):
    nozzle_id: str
    version: str | None = Field(description="as the module reported it (None: not text)")
    sha256: str | None
    ts: str = Field(description="the firmware_update event's time")
    seq: int | None


class FirmwareNozzle(BaseModel):
    nozzle_id: str
    dispenser_model: str | None
    running: FirmwareRunning | None = Field(description="its module's latest firmware_update (None: never reported)")
    status: Literal["approved", "revoked", "known_cheat", "unlisted", "no_register", "unreported"]


class FirmwareListed(BaseModel):
    dispenser_model: str
    version: str
    sha256: str
    status: Literal["approved", "revoked", "known_cheat"]
    nozzles: list[str] = Field(description="the nozzles whose module last reported this build")


class FirmwareRegister(BaseModel):
    firmware: list[FirmwareListed]
    nozzles: list[FirmwareNozzle]


class FirmwareEntered(BaseModel):
    version: int = Field(description="the registry version now in force")
    entry: FirmwareListed | dict[str, str] = Field(description="the entry as entered (without nozzles)")


class InstituteInfo(BaseModel):
    institute_id: str
    name: str
    created_us: int


class WebhookCreated(BaseModel):
    id: int
    url: str
    secret: str | None = Field(None, description="the signing key made for it (only when none was given), shown once")


class Webhook(BaseModel):
    id: int
    url: str
    active: bool
    created_us: int


class WebhookList(BaseModel):
    webhooks: list[Webhook]
    deliveries: dict[str, int] = Field(description="deliveries by status: pending, delivered, dead")


class Delivery(BaseModel):
    id: int
    webhook_id: int
    url: str
    alarm_id: str
    rule: str | None
    station_id: str | None
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_us: int
    last_error: str | None


class DeliveryList(BaseModel):
    deliveries: list[Delivery]


class DeliveryRetried(BaseModel):
    id: int
    status: Literal["pending"]


class WebhookDeactivated(BaseModel):
    id: int
    active: Literal[False]
    deliveries_dead: int = Field(description="its pending deliveries, now dead")


class PlatformKey(BaseModel):
    key_id: str
    alg: Literal["ed25519", "sm2"]
    public_key: str = Field(description="base64 (Ed25519) or hex (SM2), as in the registry")
    created_us: int


class PlatformKeys(BaseModel):
    current: str = Field(description="the key_id that signs now")
    keys: list[PlatformKey]


class ComplaintReceipt(BaseModel):
    id: int
    status: str
    deadline: str = Field(description="when it must be answered (RFC 3339)")
    links: int = Field(description="alarms and records it was linked to")


class Challenge(BaseModel):
    detail: str
    challenge: str
    difficulty: int = Field(description="leading zero bits of SHA-256('<challenge>:<counter>')")
    algorithm: str


class AlarmEvent(BaseModel):
    """The body of a webhook delivery."""

    event: Literal["alarm"]
    alarm: Annotated[dict[str, Any], ref("Alarm")]


MODELS: tuple[type[BaseModel], ...] = (
    ValidationIssue,
    Error,
    Health,
    SetAsideSummary,
    Readiness,
    SetAsideRow,
    SetAsideList,
    AlarmPage,
    RegistryVersion,
    RegistryVersionInfo,
    StationToken,
    InstituteToken,
    InstituteRevoked,
    InstituteInfo,
    FirmwareRunning,
    FirmwareNozzle,
    FirmwareListed,
    FirmwareRegister,
    FirmwareEntered,
    WebhookCreated,
    Webhook,
    WebhookList,
    Delivery,
    DeliveryList,
    DeliveryRetried,
    WebhookDeactivated,
    PlatformKey,
    PlatformKeys,
    ComplaintReceipt,
    Challenge,
    AlarmEvent,
)
CONTRACT_TYPES = (UploadResult, Alarm, Registry)


def components() -> dict[str, Any]:
    """Every schema above, by name: the contract's types (msgspec) and the models (pydantic)."""
    _, found = msgspec.json.schema_components(CONTRACT_TYPES, ref_template=REF)
    out: dict[str, Any] = {RENAMED.get(k, k): {**v, "title": RENAMED.get(k, k)} for k, v in found.items()}
    _, defs = models_json_schema([(m, "serialization") for m in MODELS], ref_template=REF.replace("name", "model"))
    out.update(defs.get("$defs", {}))
    out["PositionedAlarm"] = {
        "title": "PositionedAlarm",
        "description": "An alarm (contract §6) and its position in the service's order of alarms.",
        "allOf": [
            {"$ref": REF.format(name="Alarm")},
            {
                "type": "object",
                "properties": {"ord": {"type": "integer", "description": "its position; the SSE event id"}},
                "required": ["ord"],
            },
        ],
    }
    out["RegistryEntry"] = {
        "title": "RegistryEntry",
        "description": "One entry of the section named in the path (contract §2); "
        "stations, tanks, products and nozzles replace the entry with the same id, prices are appended.",
        "anyOf": [{"$ref": REF.format(name=n)} for n in ("Station", "Tank", "Product", "Nozzle", "Price")],
    }
    return _renamed(out)


def _renamed(node: Any) -> Any:
    if isinstance(node, dict):
        if PLACEHOLDER in node:
            return {"$ref": REF.format(name=node[PLACEHOLDER])}
        if node.get("items") is False and node.get("maxItems") == len(node.get("prefixItems", ())):
            # msgspec's tuple: "items": false says again what maxItems says, in a boolean
            # schema that some client generators cannot read
            node = {k: v for k, v in node.items() if k != "items"}
        return {k: _renamed(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v) for v in node]
    if isinstance(node, str) and node.startswith("#/components/schemas/"):
        name = node.rsplit("/", 1)[1]
        return REF.format(name=RENAMED.get(name, name))
    return node


__all__ = ["MODELS", "components"]
