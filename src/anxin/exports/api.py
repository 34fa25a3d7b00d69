"""The agencies' API (``GET /v1/exports/{kind}``, ``…/{kind}/xlsx``): another agency's
system pulls its export with the read token an administrator issued to it (``anxin
export token``) — one dataset or both, one district or the city, revocable, every pull
in the audit log under the token's number and agency. No console account: an agency
sees its figures, not the regulator's alarms, cases or complaints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from anxin.contract.registry import Registry
from anxin.exports.queries import find_token
from anxin.exports.service import ExportRefused, OutOfScope, Scope, export, parse_day, token_scope
from anxin.serve.bearer import AGENCY
from anxin.web.language import language_of

Kind = Literal["tax", "commerce"]
Stations = Annotated[
    list[str] | None, Query(description="only these stations (repeat the parameter; each within the token's district)")
]

FromQ = Annotated[str, Query(alias="from", description="first local day, YYYY-MM-DD")]
ToQ = Annotated[str, Query(alias="to", description="last local day, YYYY-MM-DD (inclusive, not after today)")]
DistrictQ = Annotated[str | None, Query(description="one district (the token's, if it has one)")]


router = APIRouter(tags=["agencies"])


def scope_of(request: Request, token: Annotated[str | None, Depends(AGENCY)]) -> Scope:
    """The scope of the request's agency token (401 without a live one)."""
    found = find_token(request.app.state.service.store, token) if token else None
    if found is None:
        raise HTTPException(
            401,
            "an agency export needs the agency's token (Authorization: Bearer …)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token_scope(found)


AgencyScope = Annotated[Scope, Depends(scope_of)]


def _run(request: Request, kind: str, fmt: str, scope: Scope, start: str, end: str, **kw: Any) -> Response:
    lang = language_of(request)
    service = request.app.state.service
    try:
        got = export(
            service.store,
            service.registry or Registry(stations=[], nozzles=[]),
            kind=kind,
            fmt=fmt,
            start=parse_day(start, "from"),
            end=parse_day(end, "to"),
            scope=scope,
            district=kw.get("district"),
            stations=kw.get("station") or (),
            lang=lang,
            via="api",
            now_us=service.clock(),
        )
    except OutOfScope as exc:
        raise HTTPException(404, exc.text(lang)) from None
    except ExportRefused as exc:
        raise HTTPException(403 if exc.key == "not_allowed" else 422, exc.text(lang)) from None
    return Response(
        got.data,
        media_type=got.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{got.filename}"',
            "X-Anxin-SHA256": got.sha256,
            "X-Anxin-Audit-Seq": str(got.audit_seq),
            "Cache-Control": "no-store",
        },
    )


@router.get("/v1/exports/{kind}", summary="An agency's export of a period as JSON (docs/schema/export-*.schema.json)")
def export_json(
    request: Request,
    kind: Kind,
    start: FromQ,
    end: ToQ,
    scope: AgencyScope,
    district: DistrictQ = None,
    station: Stations = None,
) -> Response:
    return _run(request, kind, "json", scope, start, end, district=district, station=station)


@router.get("/v1/exports/{kind}/xlsx", summary="An agency's export of a period as an XLSX workbook")
def export_xlsx(
    request: Request,
    kind: Kind,
    start: FromQ,
    end: ToQ,
    scope: AgencyScope,
    district: DistrictQ = None,
    station: Stations = None,
) -> Response:
    return _run(request, kind, "xlsx", scope, start, end, district=district, station=station)
