"""The receipt page (每一笔可验证): ``GET /r/{station}/{order}/{YYYYMMDD}-{digest}`` shows the
sale beside its signed metering record, the server's verdict, and the evidence bundle the
page's own script checks in the browser (``static/receipt.js``: the customer need not
trust the server); ``…/bundle.json`` downloads that bundle for ``anxin receipt verify``.

What a guessed URL can tell: nothing but "no sale matches". An unknown station, an
unknown order and a wrong digest get the same 404 with the same words; a malformed URL a
400 naming the part (the day, the digest's form), never whether anything exists. Misses
are counted per address and per station (``LIMITS``); past an address's limit every
lookup from it is 429 for the rest of the hour, found or not. Past a station's, so is
every lookup about it from an address that has missed this hour — but not from one that
has not: a customer scanning a real receipt is still answered, so guessing from many
addresses (a station's own, say, to keep its customers from checking) cannot stop the
checks, and each address still gets one guess an hour.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from anxin.contract.times import US_PER_H, format_ts, parse_ts
from anxin.i18n.po import table
from anxin.ingest.service import IngestService
from anxin.receipt import queries as Q
from anxin.receipt.check import Report, check, key_of
from anxin.receipt.digest import Receipt, ReceiptError, check_parts, receipt_path
from anxin.store import throttle
from anxin.store.throttle import Hit
from anxin.web.deps import Registry, Service
from anxin.web.guard import client_address
from anxin.web.session import now_us, render, viewer
from anxin.web.texts import rule_label


class ReceiptLimits(msgspec.Struct, kw_only=True):
    misses_per_address_hour: int = 20  # receipts that name no sale, from one address
    lookups_per_address_hour: int = 600  # every receipt lookup from one address
    misses_per_station_hour: int = 300  # misses about one station, from everywhere


LIMITS = ReceiptLimits()
router = APIRouter(include_in_schema=False)


def receipt_words(lang: str) -> dict[str, str]:
    i = 0 if lang == "zh" else 1
    return {k: v[i] for k, v in table("receipt").items()}


def _admit(service: IngestService, registry: Any, address: str, station_id: str) -> int | None:
    """None to go on, else the seconds until the hour's window ends (429)."""
    now = now_us()
    keys = [f"receipt:miss:a:{address}", f"receipt:look:a:{address}"]
    known = station_id in registry.station_by_id
    if known:
        keys.append(f"receipt:miss:s:{station_id}")
    got = throttle.peek(service.store, keys, now_us=now)
    over = (
        got[keys[0]].count >= LIMITS.misses_per_address_hour
        or got[keys[1]].count >= LIMITS.lookups_per_address_hour
        or (known and got[keys[2]].count >= LIMITS.misses_per_station_hour and got[keys[0]].count > 0)
    )
    if over:
        ends = max((c.expires_us for c in got.values()), default=now + US_PER_H)
        return max(1, (ends - now) // 1_000_000)
    throttle.hit(service.store, [Hit(key=keys[1], window_us=US_PER_H)], now_us=now)
    return None


def _missed(service: IngestService, registry: Any, address: str, station_id: str) -> None:
    hits = [Hit(key=f"receipt:miss:a:{address}", window_us=US_PER_H)]
    if station_id in registry.station_by_id:
        hits.append(Hit(key=f"receipt:miss:s:{station_id}", window_us=US_PER_H))
    throttle.hit(service.store, hits, now_us=now_us())


def _lookup(
    request: Request, service: IngestService, registry: Any, station_id: str, order_id: str, tail: str
) -> tuple[int, Any, Receipt | None]:
    """(status, the bundle with the server's answer or the catalog key of why not, the receipt)."""
    try:
        receipt = check_parts(station_id, order_id, tail)
    except ReceiptError as exc:
        return 400, exc, None
    address = client_address(request)
    wait = _admit(service, registry, address, station_id)
    if wait is not None:
        return 429, wait, receipt
    bundle = Q.bundle(service.store, registry, receipt) if registry.stations else None
    if bundle is None:
        _missed(service, registry, address, station_id)
        return 404, "no_sale", receipt
    report = check(bundle, receipt, keys=lambda n, k: key_of(registry, n, k))
    sale = bundle["sale"]
    alarms = Q.alarms_of(
        service.store,
        receipt.station_id,
        receipt.order_id,
        sale["nozzle_id"],
        sale["pump_seq"],
        t_us=parse_ts(sale["ts"]),
    )
    bundle["server"] = {
        "verdict": "verified" if report.verified else "not_verified",
        "findings": msgspec.to_builtins(report.findings),
        "alarms": alarms,
    }
    return 200, (bundle, report), receipt


def _refusal(request: Request, service: IngestService, status: int, what: Any) -> Response:
    v = viewer(request, service.store)
    rw = receipt_words(v.lang)
    if status == 400:
        message = what.text(v.lang)
    elif status == 429:
        message = rw["too_many"]
    else:
        message = rw["no_sale"]
    resp = render(request, v, "error.html", status, title=rw["title"], message=message)
    if status == 429:
        resp.headers["Retry-After"] = str(what)
    return resp


def _page(request: Request, service: IngestService, registry: Any, station_id: str, order_id: str, tail: str):
    status, got, receipt = _lookup(request, service, registry, station_id, order_id, tail)
    if status != 200 or receipt is None:
        return _refusal(request, service, status, got)
    bundle, report = got
    v = viewer(request, service.store)
    rw = receipt_words(v.lang)
    st = registry.station_by_id.get(receipt.station_id)
    return render(
        request,
        v,
        "public_receipt.html",
        200,
        rw=rw,
        station_name=st.name if st else receipt.station_id,
        bundle=bundle,
        report=report,
        sale=bundle["sale"],
        metering=report.metering or {},
        payment=_payment(bundle["sale"]["payment"], v.lang),
        alarms=[{**a, "name": rule_label(a["rule"], v.lang)} for a in bundle["server"]["alarms"]],
        findings=_findings(report, rw),
        when={
            k: _local(v)
            for k, v in (
                ("sale", bundle["sale"]["ts"]),
                *((k, (report.metering or {}).get(k)) for k in ("start", "end")),
            )
        },
        path=receipt_path(receipt),
        page_url=(request.app.state.base_url or str(request.base_url)).rstrip("/") + receipt_path(receipt),
        user=None,
    )


def _local(ts: Any) -> str:
    """A record's time as the customer reads it: local (UTC+08:00), to the second."""
    try:
        return format_ts(parse_ts(str(ts)))[:19].replace("T", " ")
    except ValueError:
        return "—"


def _payment(method: str, lang: str) -> str:
    entry = table("payment").get(method)
    return method if entry is None else entry[0 if lang == "zh" else 1]


def _findings(report: Report, rw: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for f in report.findings:
        why = rw.get(f"why_{f.why}", "") if f.why else ""
        out.append({"name": rw[f"check_{f.name}"], "status": f.status, "why": why.format_map(_Dash(f.params))})
    return out


class _Dash(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "—"


# An order id may hold a "/" (sent as %2F, which the server sees decoded): the order is
# every segment between the station and the last one. The bundle's route comes first.
@router.get("/r/{station_id}/{order_id:path}/{tail}/bundle.json")
async def receipt_bundle(
    request: Request, station_id: str, order_id: str, tail: str, service: Service, registry: Registry
):
    """The evidence bundle, for ``anxin receipt verify --bundle``."""
    status, got, _ = await run_in_threadpool(_lookup, request, service, registry, station_id, order_id, tail)
    if status == 200:
        bundle, _report = got
        name = f"receipt-{tail}.json"
        return JSONResponse(bundle, headers={"Content-Disposition": f'attachment; filename="{name}"'})
    v = await run_in_threadpool(viewer, request, service.store)
    rw = receipt_words(v.lang)
    detail = got.text(v.lang) if status == 400 else rw["too_many" if status == 429 else "no_sale"]
    headers = {"Retry-After": str(got)} if status == 429 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


@router.get("/r/{station_id}/{order_id:path}/{tail}")
async def receipt_page(
    request: Request, station_id: str, order_id: str, tail: str, service: Service, registry: Registry
):
    return await run_in_threadpool(_page, request, service, registry, station_id, order_id, tail)
