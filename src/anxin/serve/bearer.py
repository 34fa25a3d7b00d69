"""The API's tokens as OpenAPI security schemes (``Authorization: Bearer <token>``): who
presents which token, declared once so the API description names them and a generated
client sends them. Each scheme reads the header exactly as the service always has
(:func:`anxin.serve.upload.bearer`: ``Bearer`` in any case, the token stripped); what a
missing or wrong token gets is the route's to say (401 or 403 with a ``detail``), never
FastAPI's own answer."""

from __future__ import annotations

from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from anxin.serve.upload import bearer


class BearerToken(HTTPBearer):
    """An HTTP Bearer security scheme whose dependency value is the token (None when the
    header is missing or not Bearer): only the description changes, not the answer."""

    def __init__(self, name: str, description: str) -> None:
        super().__init__(scheme_name=name, description=description, auto_error=False)

    async def __call__(self, request: HTTPConnection) -> str | None:  # type: ignore[override]
        return bearer(request.headers.get("authorization"))


STATION = BearerToken(
    "station",
    "A station's API token (接口令牌; `anxin token S0001`, or `POST /v1/stations/{station_id}/token`): "
    "uploads the station's own metering, event, settlement, tank_reading and delivery records.",
)
INSTITUTE = BearerToken(
    "institute",
    "A verification institute's API token (`anxin token --institute I01`, or "
    "`POST /v1/institutes/{institute_id}/token`): uploads verification records only, of any station.",
)
READER = BearerToken(
    "reader",
    "The service's `read_token` (or its `admin_token`): reads alarms (list and SSE stream).",
)
ADMIN = BearerToken(
    "admin",
    "The service's `admin_token`: registry administration, tokens, webhooks, the ledger's set-aside rows. "
    "Without an admin_token configured the administration API answers 403.",
)
METRICS = BearerToken(
    "metrics",
    "The service's `metrics_token`, for GET /metrics. Without one configured, /metrics answers only "
    "connections from the machine's own loopback that no proxy forwarded, with no token.",
)
AGENCY = BearerToken(
    "agency",
    "Another agency's read token (`anxin export token --agency … --kind tax|commerce [--district …]`): the tax "
    "or commerce export of the token's district (or the city), JSON or XLSX; revoked with `anxin export revoke`.",
)
SCHEMES = {s.scheme_name: s for s in (STATION, INSTITUTE, READER, ADMIN, METRICS, AGENCY)}

__all__ = ["ADMIN", "AGENCY", "INSTITUTE", "METRICS", "READER", "SCHEMES", "STATION", "BearerToken"]
