"""The API description (``/openapi.json``, OpenAPI 3.1) made worth generating clients
from: hand-chosen operation ids, tags with descriptions, typed bodies for every answer
(errors included), the security scheme of each operation, examples, and the outbound
webhook under ``webhooks``.

FastAPI writes the paths from the routes; :func:`describe` completes that document from
the table below. It describes and changes nothing on the wire: the routes answer as they
did (the schemathesis test checks every answer against this description). A route
missing from :data:`OPERATIONS` keeps FastAPI's generated id — ``tests/test_api_description.py``
fails until it has one here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from anxin.exports.schema import components as export_components
from anxin.serve import api_examples
from anxin.serve.api_models import REF, components
from anxin.serve.bearer import SCHEMES


@dataclass(frozen=True)
class Op:
    id: str  # the operationId: stable, camelCase (a generated client's function name)
    bodies: Mapping[str, str] = field(default_factory=dict)  # status -> component of its JSON body, or a text type
    errors: Mapping[str, str] = field(default_factory=dict)  # further refusals (an Error body) -> description
    security: tuple[str, ...] | None = None  # alternatives, when no dependency declares them ("": none needed)
    request: str | None = None  # component of the JSON body a route reads itself (not through FastAPI)


NOT_FOUND = {"404": "not found (named in the detail)"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_ERRORS = {
    "403": "the token does not cover this export",
    "404": "a district or station outside the token's scope, or no such (named in the detail)",
}
OPERATIONS: dict[tuple[str, str], Op] = {
    ("post", "/v1/records"): Op(
        "uploadRecords",
        {s: "UploadResult" for s in ("200", "207", "409", "422")},
        security=("station", "institute"),
    ),
    ("get", "/healthz"): Op("getHealth", {"200": "Health"}),
    ("get", "/readyz"): Op("getReadiness", {"200": "Readiness", "503": "Readiness"}),
    ("get", "/metrics"): Op("getMetrics", security=("metrics", "")),
    ("get", "/v1/ledger/set-aside"): Op("listSetAsideRows", {"200": "SetAsideList"}),
    ("get", "/v1/alarms"): Op("listAlarms", {"200": "AlarmPage"}),
    ("get", "/v1/alarms/stream"): Op("streamAlarms", {"200": "text/event-stream"}),
    ("get", "/v1/registry"): Op("getRegistry", {"200": "Registry"}),
    ("put", "/v1/registry"): Op("replaceRegistry", {"200": "RegistryVersion"}, request="Registry"),
    ("get", "/v1/registry/history"): Op("listRegistryVersions", {"200": "RegistryVersionInfo[]"}),
    ("post", "/v1/registry/{section}"): Op("upsertRegistryEntry", {"200": "RegistryVersion"}, request="RegistryEntry"),
    ("post", "/v1/registry/nozzles/{nozzle_id}/key"): Op("rotateNozzleKey", {"200": "RegistryVersion"}, NOT_FOUND),
    ("post", "/v1/stations/{station_id}/token"): Op("issueStationToken", {"200": "StationToken"}, NOT_FOUND),
    ("post", "/v1/institutes/{institute_id}/token"): Op("issueInstituteToken", {"200": "InstituteToken"}, NOT_FOUND),
    ("delete", "/v1/institutes/{institute_id}/token"): Op(
        "revokeInstituteToken", {"200": "InstituteRevoked"}, NOT_FOUND
    ),
    ("get", "/v1/institutes"): Op("listInstitutes", {"200": "InstituteInfo[]"}),
    ("get", "/v1/firmware"): Op("getFirmwareRegister", {"200": "FirmwareRegister"}),
    ("post", "/v1/firmware"): Op(
        "enterFirmware",
        {"200": "FirmwareEntered"},
        {"403": "a station's token: the register is the verification institute's"},
    ),
    ("post", "/v1/webhooks"): Op("createWebhook", {"200": "WebhookCreated"}),
    ("get", "/v1/webhooks"): Op("listWebhooks", {"200": "WebhookList"}),
    ("get", "/v1/webhooks/deliveries"): Op("listWebhookDeliveries", {"200": "DeliveryList"}),
    ("post", "/v1/webhooks/deliveries/{delivery_id}/retry"): Op("retryWebhookDelivery", {"200": "DeliveryRetried"}),
    ("delete", "/v1/webhooks/{webhook_id}"): Op("deactivateWebhook", {"200": "WebhookDeactivated"}),
    ("get", "/v1/platform/keys"): Op("listPlatformKeys", {"200": "PlatformKeys"}),
    ("post", "/v1/complaints"): Op("submitComplaint", {"201": "ComplaintReceipt", "428": "Challenge"}),
    ("get", "/v1/exports/{kind}"): Op("getAgencyExport", {"200": "AgencyExport"}, EXPORT_ERRORS),
    ("get", "/v1/exports/{kind}/xlsx"): Op("getAgencyExportWorkbook", {"200": XLSX}, EXPORT_ERRORS),
}

TAGS = [
    {
        "name": "devices",
        "description": "What stations and verification institutes send: contract v1 records as NDJSON, one "
        "record per line, each line answered on its own. A station's token sends its own records; an "
        "institute's token sends verification records only.",
    },
    {
        "name": "alarms",
        "description": "Alarms out (contract §6 alarms with their position `ord`): the list from a position, and "
        "the Server-Sent Events stream (event id = position, `Last-Event-ID` resumes). New alarms are also "
        "pushed to webhooks (see `webhooks`).",
    },
    {
        "name": "administration",
        "description": "The registry (every change a new, validated and audited version), station and institute "
        "API tokens, webhook subscriptions. The admin token.",
    },
    {
        "name": "webhooks",
        "description": "The webhook deliveries' outbox: pending, delivered and dead (the dead-letter list), a manual "
        "retry, deactivating a subscription. The admin token.",
    },
    {
        "name": "agencies",
        "description": "Data for the other agencies (docs/exports.md): the tax bureau's export (以销核税: each "
        "station's signed metering against its settlements, per day and fuel grade, with what makes a figure "
        "doubtful) and commerce statistics' (sales volume per fuel grade, station and district), with a read "
        "token an administrator issues to the agency; every pull is in the audit log with the file's SHA-256.",
    },
    {
        "name": "firmware",
        "description": "The firmware register (contract v1.1 §F): approved, revoked and known-cheat builds per "
        "dispenser model, entered by a verification institute with its token (each entry a registry version, "
        "audited), and the build each nozzle's module last reported.",
    },
    {"name": "operations", "description": "Liveness, readiness, Prometheus metrics, ledger rows set aside."},
    {
        "name": "public",
        "description": "No token: the keys that sign evidence bundles, and the public complaint API (rate-limited, "
        "proof-of-work challenge past a few submissions).",
    },
]

# Parameters the routes leave undescribed, by name (the same meaning wherever they appear).
PARAMETERS = {
    "after": "the position to start after (0: from the first); a page's `next`",
    "limit": "at most this many",
    "Last-Event-ID": "resume after this alarm position (what the stream's last event id was)",
    "section": "stations, tanks, products, nozzles or prices",
    "nozzle_id": "the nozzle (contract §2)",
    "station_id": "the station (contract §2)",
    "institute_id": "the verification institute",
    "status": "only the deliveries in this state (dead: the dead-letter list)",
    "webhook_id": "the webhook subscription",
    "delivery_id": "the delivery",
    "x-anxin-challenge": "the challenge of a 428 answer, when one was asked",
    "x-anxin-solution": "the decimal counter that solves it",
    "kind": "tax (以销核税: signed metering against settlements) or commerce (sales volume statistics)",
}
TEXT = {
    XLSX: "the export as a workbook: typed numbers in litres and yuan, the headers in the request's language "
    "(Accept-Language, ?lang=; Chinese first), a sheet of definitions (docs/exports.md)",
    "text/event-stream": "Server-Sent Events: per alarm `id: <ord>`, `event: alarm`, `data: <the alarm as JSON, "
    "contract §6>`; a comment line (`: keepalive`) every 15 s of quiet. Reconnect with `Last-Event-ID: <ord>`.",
}
ERRORS = {
    "400": "the body is not JSON",
    "401": "no token, or not this operation's (`WWW-Authenticate: Bearer`)",
    "403": "not configured for this service (no such token set), or not allowed from here",
    "422": "a parameter or the body is wrong (named in the detail)",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}
AUTHENTICATE = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}


def describe(app: FastAPI) -> None:
    """Serve ``app``'s description completed by :func:`complete` (made once, then cached)."""
    generate = app.openapi  # FastAPI's own (it caches in app.openapi_schema)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (FastAPI's document) with ids, tags, bodies, security, examples and webhooks."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components())
    schemas.update(export_components())
    used_schemes: set[str] = set()
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                # a body FastAPI reads: one that is not JSON is its 400
                operation["responses"].setdefault("400", {"description": ERRORS["400"]})
            op = OPERATIONS.get((method, path))
            if op is not None:
                _operation(operation, op)
            _errors(operation)
            for parameter in operation.get("parameters", []):
                if not parameter.get("description") and parameter["name"] in PARAMETERS:
                    parameter["description"] = PARAMETERS[parameter["name"]]
            for requirement in operation.get("security", []):
                used_schemes.update(requirement)
    if "/v1/records" in spec.get("paths", {}):
        api_examples.upload(spec["paths"]["/v1/records"]["post"])
    if "/v1/alarms" in spec.get("paths", {}):
        api_examples.alarms(spec["paths"]["/v1/alarms"]["get"])
    if "/v1/webhooks" in spec.get("paths", {}):  # the service that sends them (not a receiver)
        spec["webhooks"] = {"alarm": _alarm_webhook()}
    spec["components"]["securitySchemes"] = {
        name: SCHEMES[name].model.model_dump(mode="json", by_alias=True, exclude_none=True)
        for name in sorted(used_schemes)
    }
    present = {t for item in spec.get("paths", {}).values() for o in item.values() for t in o.get("tags", [])}
    if "webhooks" in spec:
        present.add("webhooks")
    spec["tags"] = [t for t in TAGS if t["name"] in present]
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, replaced by Error
        schemas.pop(unused, None)
    return spec


def _schema(name: str) -> dict[str, Any]:
    if name.endswith("[]"):
        return {"type": "array", "items": {"$ref": REF.format(name=name[:-2])}}
    return {"$ref": REF.format(name=name)}


def _operation(operation: dict[str, Any], op: Op) -> None:
    operation["operationId"] = op.id
    responses = operation.setdefault("responses", {})
    for status, name in op.bodies.items():
        response = responses.setdefault(status, {"description": name})
        if name in TEXT:
            response["content"] = {name: {"schema": {"type": "string", "description": TEXT[name]}}}
        else:
            response["content"] = {"application/json": {"schema": _schema(name)}}
    for status, description in op.errors.items():
        responses.setdefault(status, {"description": description})
    if op.security is not None:
        operation["security"] = [{name: []} if name else {} for name in op.security]
    if op.request is not None:
        body = operation.setdefault("requestBody", {"required": True})
        body["content"] = {"application/json": {"schema": _schema(op.request)}}


def _errors(operation: dict[str, Any]) -> None:
    """Every refusal has the Error body; a secured operation lists 401 and 403."""
    responses = operation.setdefault("responses", {})
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    if schemes:
        responses.setdefault("401", {"description": ERRORS["401"]})
    if schemes & {"admin", "reader"}:  # (their tokens may be left unset: 403)
        responses.setdefault("403", {"description": ERRORS["403"]})
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        content = response.setdefault("content", {})
        json_body = content.get("application/json", {})
        if not json_body or json_body.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
            content["application/json"] = {"schema": {"$ref": REF.format(name="Error")}}
            if status == "422" and response.get("description") == "Validation Error":
                response["description"] = ERRORS["422"]
        if status in ("429", "503"):
            response.setdefault("headers", {}).update(RETRY_AFTER)
        if status == "401":
            response.setdefault("headers", {}).update(AUTHENTICATE)


def _alarm_webhook() -> dict[str, Any]:
    header = {"in": "header", "required": True, "schema": {"type": "string"}}
    return {
        "post": {
            "operationId": "alarmWebhook",
            "tags": ["webhooks"],
            "summary": "A new alarm, POSTed to every active subscription (at least once)",
            "description": "Standard Webhooks (https://www.standardwebhooks.com). Verify before trusting the body: "
            "`webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256(key, webhook-id + '.' + "
            "webhook-timestamp + '.' + raw body)>`; the key of a `whsec_<base64>` secret is its decoded bytes, "
            "of any other secret its UTF-8 bytes. Refuse a timestamp more than 5 minutes away; deduplicate on "
            "`webhook-id` (a retry sends the same id). Any 2xx answer means delivered; anything else is retried "
            "with exponential backoff (a 429/503's Retry-After honoured), then the delivery is dead "
            "(GET /v1/webhooks/deliveries?status=dead).",
            "parameters": [
                {**header, "name": "webhook-id", "description": "msg_<alarm_id>_<webhook id>, the same on every retry"},
                {**header, "name": "webhook-timestamp", "description": "unix seconds when this attempt was signed"},
                {**header, "name": "webhook-signature", "description": "v1,<base64 HMAC-SHA256> (see above)"},
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": REF.format(name="AlarmEvent")},
                        "examples": {
                            "alarm": {
                                "summary": "a sale that disagrees with its metering",
                                "value": api_examples.WEBHOOK_BODY,
                            }
                        },
                    }
                },
            },
            "responses": {
                "2XX": {"description": "delivered"},
                "default": {"description": "not delivered: retried later (up to webhook_max_attempts)"},
            },
        }
    }


__all__ = ["OPERATIONS", "TAGS", "complete", "describe"]
