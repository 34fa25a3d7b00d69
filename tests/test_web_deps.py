"""Access as FastAPI dependencies (issue 13, item 7; anxin.web.deps): the supervision,
oversight and console pages, the register's (its import, certificates, QR sheets, the
verification entered by hand), the audit log, user administration and the tank's
corrected chart say in their signatures who may see them, and through real HTTP each
family answers as before — nobody: the login page; the wrong role: 403; an id that
exists nowhere: 404; an id of another station, asked by a station's operator: 404 as
well, the same page (it does not tell the operator that the row exists; the QR sheet,
a certificate and a tank's chart answered 403 before); a change without the session's
CSRF token: 403, nothing written. And the preamble the dependencies replace cannot come
back (the routes' source is read)."""

from __future__ import annotations

import datetime as dt
import inspect
import re
import time
from types import MappingProxyType, SimpleNamespace

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sessions_helper import signed_in
from sqlalchemy import func, select

from anxin.auth import roles
from anxin.contract.times import LOCAL_TZ, format_ts
from anxin.ingest.principals import Principal
from anxin.register import import_csv
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads
from anxin.store import schema as T
from anxin.supervision import cases as K
from anxin.supervision import complaints as C
from anxin.supervision import inspections as I
from anxin.web.texts import words
from anxin.workflow import apply
from anxin.workflow import lifecycle as L

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 64
UNKNOWN = 987654321  # an id no table holds
PASSWORD = "correct horse battery staple 13"
DAY_US = 86_400_000_000


def _verification_csv(ids: dict, ts_us: int, certificate_no: str) -> bytes:
    """A passing verification of the target's nozzle as the register imports it (two
    runs at one flow rate)."""
    head = (
        "station_id,nozzle_id,ts,type,org,certificate_no,k_pulses_per_m3,valid_until,"
        "flow_ml_per_min,standard_ml,indicated_ml,standard_temp_mc,dispenser_temp_mc\n"
    )
    row = (
        f"{ids['station']},{ids['nozzle']},{format_ts(ts_us)},periodic,测试检定院,{certificate_no},{ids['k']},"
        f"{format_ts(ts_us + 180 * DAY_US)},40000,20000,{{indicated}},20000,20000\n"
    )
    return (head + row.format(indicated=20010) + row.format(indicated=20012)).encode()


def _local_minute(us: int) -> str:
    """µs as a datetime-local form field (local time, to the minute)."""
    return dt.datetime.fromtimestamp(us / 1e6, LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("web-deps")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A city of two stations with alarms; a complaint (with a photo), an inspection, a
    case, a work order and a verification (with its certificate) at the station of the
    alarms (the target); a client per role, two of them operators: of the target, and
    of the other station."""
    root = tmp_path_factory.mktemp("deps")
    simulate(
        root / "city",
        stations=2,
        days=1,
        seed=4,
        scenarios=ScenarioSet.parse("honest,amount_fraud=0.03"),
        workers=1,
        group_size=2,
    )
    _, service, app = build(db=str(root / "db.sqlite"), registry=root / "city" / "registry.json", cookie_secure=False)
    for sid, lines in uploads(arrival_lines(root / "city"), "S0001"):
        service.ingest(sid, lines, source="test")
    store, reg = service.store, service.registry
    alarms = [a for _, a in store.alarms_after(0, limit=10_000)]
    assert alarms, "the city has amount fraud"
    target = alarms[0]["station_id"]
    at_target = [a for a in alarms if a["station_id"] == target]
    assert len(at_target) >= 2
    other = next(s.station_id for s in reg.stations if s.station_id != target)

    clients: dict[str, TestClient] = {}
    csrf: dict[str, str] = {}
    for name, role, stations in (
        ("regulator", "regulator", ()),
        ("inspector", "inspector", ()),
        ("admin", "admin", ()),
        ("own", "operator", (target,)),
        ("other", "operator", (other,)),
    ):
        c = TestClient(app, follow_redirects=False)
        csrf[name] = signed_in(c, store, f"dep_{name}", role, stations)
        clients[name] = c
    clients["anon"] = TestClient(app, follow_redirects=False)

    now = time.time_ns() // 1000
    nozzle = next(n for n in reg.nozzles if n.station_id == target)
    cid = C.submit(
        store,
        reg,
        station_id=target,
        nozzle_id=nozzle.nozzle_id,
        text="加油 200 元，油量不足",
        channel="web",
        attachments=[("photo.jpg", "image/jpeg", JPEG)],
        now_us=now,
    )
    aid = C.get(store, cid)["attachments"][0]["id"]
    iid = I.schedule(
        store, station_id=target, inspector="dep_inspector", scheduled_us=now, kind="routine", actor="test", now_us=now
    )
    case = K.open_case(
        store, station_id=target, source=f"complaint:{cid}", summary="投诉立案", actor="test", now_us=now
    )
    dispatched = at_target[1]["alarm_id"]
    apply(store, dispatched, L.Acknowledge(), actor="test", reason="", now_us=now)
    apply(
        store,
        dispatched,
        L.Dispatch(inspector="dep_inspector", due_us=now + 86_400_000_000),
        actor="test",
        reason="",
        now_us=now,
    )
    with store.engine.connect() as db:
        wo = db.execute(select(T.work_orders.c.id).where(T.work_orders.c.alarm_id == dispatched)).scalar_one()
    ids = {"station": target, "nozzle": nozzle.nozzle_id, "k": str(nozzle.k_pulses_per_m3)}
    who = Principal.console("dep_inspector")
    report = import_csv(
        service, _verification_csv(ids, now - 2 * DAY_US, "DEP-1"), source=who.source("csv"), principal=who
    )
    assert not report.errors and report.count("accepted") == 1, report
    with store.engine.connect() as db:
        cert_ts = db.execute(
            select(T.verifications.c.ts).where(T.verifications.c.nozzle_id == nozzle.nozzle_id)
        ).scalar_one()
    ids = {
        **ids,
        "cid": cid,
        "aid": aid,
        "iid": iid,
        "case": case,
        "alarm": at_target[0]["alarm_id"],
        "wo": wo,
        "cert_ts": cert_ts,
        "tank": reg.tanks_of_station[target][0],
        "now": str(now),
    }
    unknown = {
        "cid": UNKNOWN,
        "aid": aid,
        "iid": UNKNOWN,
        "case": UNKNOWN,
        "alarm": "f" * 32,
        "wo": UNKNOWN,
        "station": "S9999",
        "nozzle": "S9999-D1-N1",
        "cert_ts": cert_ts,
        "tank": "S9999-T1",
    }
    return {"service": service, "app": app, "c": clients, "csrf": csrf, "ids": ids, "unknown": unknown}


# The GET pages: (path, a signed-in role without the page's permission, if any role lacks it).
PAGES = [
    ("/console/complaints", "own"),
    ("/console/complaints/{cid}", "own"),
    ("/console/complaints/{cid}/attachments/{aid}", "own"),
    ("/console/inspections", None),
    ("/console/inspections/{iid}", None),
    ("/console/cases", None),
    ("/console/cases/{case}", None),
    ("/console/cases/{case}/bundle.zip", None),
    ("/console/risk", "inspector"),
    ("/console/oversight", "inspector"),
    ("/console/statistics", "own"),
    ("/console/statistics/report.xlsx", "inspector"),
    ("/console", None),
    ("/console/map.geojson", None),  # (the overview's district map)
    ("/console/alarms", None),
    ("/console/alarms/{alarm}", None),
    ("/console/workorders", None),
    ("/console/workorders/{wo}", None),
    ("/console/stations/{station}", None),
    ("/console/nozzles/{nozzle}", None),
    ("/console/register", None),
    ("/console/register/new", "own"),
    ("/console/certificates/{nozzle}/{cert_ts}.pdf", None),
    ("/console/stations/{station}/qr.pdf", None),
    ("/console/audit", "inspector"),
    ("/console/users", "regulator"),
    ("/console/tanks/{tank}/chart.csv", None),
]
ROWS = [p for p, _ in PAGES if "{" in p]  # the pages of one row

# The changes: (path, form, a role that may make it, a signed-in role that may not).
CHANGES = [
    ("/console/complaints/{cid}/assign", {"assignee": "dep_inspector", "text": "请核查"}, "regulator", "own"),
    ("/console/complaints/{cid}/triage", {"plausible": "yes", "text": "可信"}, "regulator", "inspector"),
    ("/console/inspections", {"station_id": "{station}", "inspector": "dep_inspector"}, "regulator", "inspector"),
    ("/console/inspections/{iid}/visit", {"findings": "正常"}, "inspector", "admin"),
    ("/console/cases/{case}/update", {"party_name": "某某", "reason": "补充"}, "regulator", "inspector"),
    ("/console/cases/{case}/close", {"reason": "结案"}, "regulator", "own"),
    (
        "/console/cases/open",
        {"source": "inspection:{iid}", "station_id": "{station}", "summary": "x"},
        "regulator",
        "inspector",
    ),
    ("/console/risk/draw", {"stations": "1", "seed": "7", "inspectors": "dep_inspector"}, "regulator", "inspector"),
    ("/console/alarms/{alarm}/acknowledge", {"reason": "看到了"}, "regulator", "own"),
    ("/console/alarms/{alarm}/report", {"result": "现场正常"}, "inspector", "regulator"),
    ("/console/register/import", {}, "inspector", "own"),  # with a CSV file (_files)
    ("/console/register/import", {}, "regulator", "admin"),
    (
        "/console/register/new",
        {
            "nozzle_id": "{nozzle}",
            "ts": "{entry_ts}",
            "valid_until": "{entry_until}",
            "type": "periodic",
            "org": "测试检定院",
            "certificate_no": "DEP-FORM",
            "k_pulses_per_m3": "{k}",
            **{
                f"{field}_{i}": value
                for i in range(2)
                for field, value in (
                    ("flow_ml_per_min", "40000"),
                    ("standard_ml", "20000"),
                    ("indicated_ml", "20010"),
                    ("standard_temp_mc", "20000"),
                    ("dispenser_temp_mc", "20000"),
                )
            },
        },
        "inspector",
        "own",
    ),
    (
        "/console/users/create",
        {"username": "dep_created", "display_name": "新账号", "role": "inspector", "password": PASSWORD},
        "admin",
        "regulator",
    ),
    ("/console/users/deactivate", {"username": "dep_other", "reason": "离职"}, "admin", "inspector"),
]
ROW_CHANGES = [x for x in CHANGES if "{" in x[0]]
WRITTEN = [  # what a change writes: none of it may move when a change is refused
    T.audit_log,
    T.complaints,
    T.inspections,
    T.inspection_plans,
    T.rectifications,
    T.cases,
    T.alarm_states,
    T.work_orders,
    T.verifications,
    T.rejects,
    T.users,
]
COUNTED = [T.ledger]  # (thousands of rows: their number and last id)


def _files(path: str, ids: dict) -> dict | None:
    """The file a change uploads: the register's import sends a CSV that would be
    imported (a certificate not yet held) were the change let through."""
    if path != "/console/register/import":
        return None
    return {"file": ("import.csv", _verification_csv(ids, int(ids["now"]) - DAY_US, "DEP-CSV"), "text/csv")}


def _post(c: TestClient, path: str, form: dict, ids: dict, token: str | None, form_ids: dict | None = None):
    """POST the change ``path`` (filled from ``ids``) with ``form`` (filled from
    ``form_ids``, else ``ids``) and the CSRF ``token`` (None: no field)."""
    values = _entry_times(form_ids or ids)
    return c.post(_fill(path, ids), data=_form(form, values, token), files=_files(path, values))


def _entry_times(ids: dict) -> dict:
    """``ids`` with the hand-entered verification's times (local, to the minute)."""
    now = int(ids["now"])
    return {**ids, "entry_ts": _local_minute(now - 3 * DAY_US), "entry_until": _local_minute(now + 200 * DAY_US)}


def _fill(template: str, ids: dict) -> str:
    return template.format(**ids)


def _form(form: dict, ids: dict, token: str | None) -> dict:
    data = {k: _fill(v, ids) for k, v in form.items()}
    return data if token is None else {**data, "csrf": token}


def _snapshot(world) -> list:
    with world["service"].store.engine.connect() as db:
        rows = [db.execute(select(t).order_by(*t.primary_key.columns)).all() for t in WRITTEN]
        counted = [db.execute(select(func.count(), func.max(t.c.id))).one() for t in COUNTED]
        return rows + counted


def _page(html: str) -> str:
    """The page without what differs from one response to the next (the CSP nonce)."""
    return re.sub(r'nonce="[^"]*"', "", html)


def _is_refusal(r, status: int, lang: str = "zh") -> bool:
    key = {403: "not_allowed", 404: "not_found"}[status]
    return r.status_code == status and f"<h1>{words(lang)[key]}</h1>" in r.text


# ------------------------------------------------------------ nobody signed in


@pytest.mark.parametrize(("path", "_"), PAGES)
def test_nobody_is_sent_to_the_login(world, path: str, _) -> None:
    url = _fill(path, world["ids"])
    r = world["c"]["anon"].get(url)
    assert r.status_code == 303 and r.headers["location"] == f"/console/login?next={url}", url


@pytest.mark.parametrize(("path", "form", "_", "__"), CHANGES)
def test_nobody_changes_anything(world, path: str, form: dict, _, __) -> None:
    before = _snapshot(world)
    url = _fill(path, world["ids"])
    r = _post(world["c"]["anon"], path, form, world["ids"], "forged")
    assert r.status_code == 303 and r.headers["location"] == f"/console/login?next={url}", url
    assert _snapshot(world) == before


# ------------------------------------------------------------ the wrong role


@pytest.mark.parametrize(("path", "role"), [p for p in PAGES if p[1]])
def test_a_role_without_the_permission_is_refused(world, path: str, role: str) -> None:
    assert _is_refusal(world["c"][role].get(_fill(path, world["ids"])), 403), path


@pytest.mark.parametrize(("path", "form", "_", "role"), CHANGES)
def test_a_role_without_the_permission_changes_nothing(world, path: str, form: dict, _, role: str) -> None:
    """With its own valid CSRF token: the permission is what refuses."""
    before = _snapshot(world)
    r = _post(world["c"][role], path, form, world["ids"], world["csrf"][role])
    assert _is_refusal(r, 403), (path, role, r.status_code)
    assert _snapshot(world) == before


# ------------------------------------------------------------ unknown and out of scope


@pytest.mark.parametrize("path", ROWS)
def test_an_unknown_id_is_not_found(world, path: str) -> None:
    r = world["c"]["regulator"].get(_fill(path, world["unknown"]))
    assert _is_refusal(r, 404), path


def test_an_unknown_attachment_of_a_known_complaint_is_not_found(world) -> None:
    ids = world["ids"]
    assert _is_refusal(world["c"]["regulator"].get(f"/console/complaints/{ids['cid']}/attachments/{UNKNOWN}"), 404)


@pytest.mark.parametrize(("path", "form", "role", "_"), ROW_CHANGES)
def test_a_change_to_an_unknown_id_is_not_found(world, path: str, form: dict, role: str, _) -> None:
    before = _snapshot(world)
    r = _post(world["c"][role], path, form, world["unknown"], world["csrf"][role], form_ids=world["ids"])
    assert _is_refusal(r, 404), (path, r.status_code)
    assert _snapshot(world) == before


@pytest.mark.parametrize("path", [p for p, lacking in PAGES if "{" in p and lacking is None])
def test_another_stations_row_is_not_found_the_same_page_as_an_unknown_id(world, path: str) -> None:
    """The operator of the other station gets the very page of an id that exists nowhere
    (it was 403: the row exists), where the target's operator sees the row."""
    own, other = world["c"]["own"], world["c"]["other"]
    url = _fill(path, world["ids"])
    assert own.get(url).status_code in (200, 303), url  # (a work order redirects to its alarm)
    theirs = other.get(url)
    assert _is_refusal(theirs, 404), (url, theirs.status_code)
    assert _page(theirs.text) == _page(other.get(_fill(path, world["unknown"])).text)


@pytest.fixture()
def operators_may(monkeypatch):
    """Operators given a further permission (no role has it with a station scope today:
    the scope of complaints and of the cases' changes is checked all the same)."""

    def give(*permissions: str) -> None:
        table = dict(roles.ROLE_PERMISSIONS)
        table[roles.OPERATOR] = table[roles.OPERATOR] | set(permissions)
        monkeypatch.setattr(roles, "ROLE_PERMISSIONS", MappingProxyType(table))

    return give


@pytest.mark.parametrize("path", [p for p, lacking in PAGES if "{" in p and lacking == "own"])
def test_another_stations_complaint_is_not_found(world, operators_may, path: str) -> None:
    operators_may("complaint.view")
    url = _fill(path, world["ids"])
    assert world["c"]["own"].get(url).status_code == 200, url
    theirs = world["c"]["other"].get(url)
    assert _is_refusal(theirs, 404), (url, theirs.status_code)
    assert _page(theirs.text) == _page(world["c"]["other"].get(_fill(path, world["unknown"])).text)


@pytest.mark.parametrize(("path", "form", "_", "__"), ROW_CHANGES)
def test_a_change_to_another_stations_row_is_not_found(world, operators_may, path, form, _, __) -> None:
    operators_may("complaint.view", "alarm.triage", "alarm.report")
    before = _snapshot(world)
    r = _post(world["c"]["other"], path, form, world["ids"], world["csrf"]["other"])
    assert _is_refusal(r, 404), (path, r.status_code)
    assert _snapshot(world) == before


def test_another_stations_qr_sheet_certificate_and_tank_chart_are_not_found(world) -> None:
    """They answered 403 (the row exists) before they were on the dependencies; now 404,
    the page of an id that exists nowhere, while the station's own operator gets the
    file."""
    ids, unknown = world["ids"], world["unknown"]
    own, other = world["c"]["own"], world["c"]["other"]
    for path, media in (
        ("/console/stations/{station}/qr.pdf", "application/pdf"),
        ("/console/certificates/{nozzle}/{cert_ts}.pdf", "application/pdf"),
        ("/console/tanks/{tank}/chart.csv", "text/csv"),
    ):
        mine = own.get(_fill(path, ids))
        assert mine.status_code == 200 and mine.headers["content-type"].startswith(media), path
        theirs = other.get(_fill(path, ids))
        assert _is_refusal(theirs, 404), (path, theirs.status_code)
        assert _page(theirs.text) == _page(other.get(_fill(path, unknown)).text), path


def test_a_verification_the_nozzle_does_not_have_has_no_certificate(world) -> None:
    ids = world["ids"]
    url = f"/console/certificates/{ids['nozzle']}/2020-01-01T00:00:00.000+08:00.pdf"
    assert _is_refusal(world["c"]["regulator"].get(url), 404)


def test_the_certificate_is_in_the_readers_language(world) -> None:
    """An official document, Chinese by default: the console gives the reader's language
    (``?lang=en``, the language cookie) — the same bytes as the register's own PDF in it."""
    from anxin.register import certificate_pdf, stored_verification

    ids, service = world["ids"], world["service"]
    reg = service.registry
    result, record = stored_verification(service.store, ids["nozzle"], ids["cert_ts"])
    nozzle = reg.nozzle_by_id[ids["nozzle"]]
    kw = {"station": reg.station_by_id[nozzle.station_id], "nozzle": nozzle, "record": record}
    url = _fill("/console/certificates/{nozzle}/{cert_ts}.pdf", ids)
    zh, en = world["c"]["regulator"].get(url), world["c"]["regulator"].get(url, params={"lang": "en"})
    assert zh.status_code == en.status_code == 200
    assert zh.content == certificate_pdf(result, **kw) and en.content == certificate_pdf(result, **kw, lang="en")
    assert zh.content != en.content


def test_an_unknown_user_change_is_refused_and_writes_nothing(world) -> None:
    before = _snapshot(world)
    r = world["c"]["admin"].post("/console/users/promote", data={"csrf": world["csrf"]["admin"], "username": "dep_own"})
    assert _is_refusal(r, 403)
    assert _snapshot(world) == before


def test_the_converted_changes_still_go_through_with_the_token(world) -> None:
    """The register's import and hand entry, and a new account, by a role that may, with
    the session's token: done as before (the refusals above are not all there is)."""
    # (other times than the refused changes': theirs would still be new were they let through)
    ids = {**world["ids"], "now": str(int(world["ids"]["now"]) - 10 * DAY_US)}
    inspector, admin = world["c"]["inspector"], world["c"]["admin"]

    def verifications() -> int:
        with world["service"].store.engine.connect() as db:
            return db.execute(select(func.count()).select_from(T.verifications)).scalar_one()

    held = verifications()
    r = _post(inspector, "/console/register/import", {}, ids, world["csrf"]["inspector"])
    assert r.status_code == 200 and verifications() == held + 1, r.status_code  # the register with its report
    entry = next(x for x in CHANGES if x[0] == "/console/register/new")[1]
    r = _post(inspector, "/console/register/new", entry, ids, world["csrf"]["inspector"])
    assert r.status_code == 303 and r.headers["location"] == f"/console/nozzles/{ids['nozzle']}", r.text[-500:]
    assert verifications() == held + 2

    form = {"username": "dep_made", "display_name": "新", "role": "inspector", "password": PASSWORD}
    r = admin.post("/console/users/create", data={**form, "csrf": world["csrf"]["admin"]})
    assert r.status_code == 303 and r.headers["location"] == "/console/users"
    assert "dep_made" in admin.get("/console/users").text


# ------------------------------------------------------------ CSRF


@pytest.mark.parametrize(("path", "form", "role", "_"), CHANGES)
def test_a_change_without_the_sessions_token_is_refused(world, path: str, form: dict, role: str, _) -> None:
    c, ids = world["c"][role], world["ids"]
    before = _snapshot(world)
    someone_elses = world["csrf"]["regulator" if role != "regulator" else "inspector"]
    for token in (None, "", "forged", someone_elses):
        r = _post(c, path, form, ids, token)
        assert _is_refusal(r, 403), (path, token, r.status_code)
    assert _snapshot(world) == before


# ------------------------------------------------------------ the pages of refusals


def test_refusals_are_in_the_viewers_language(world) -> None:
    ids = world["ids"]
    en = world["c"]["other"]
    assert _is_refusal(en.get(_fill("/console/cases/{case}?lang=en", ids)), 404, "en")
    assert _is_refusal(en.get("/console/risk"), 403, "en")  # the cookie keeps it
    assert _is_refusal(en.get("/console/risk?lang=zh"), 403, "zh")


def test_a_bundle_that_cannot_be_signed_is_a_page_in_the_viewers_language(world, monkeypatch) -> None:
    """A configured signing key that cannot be read: a page that names what is wrong, in
    the reader's language — not a server error, and no download on the record."""
    app, store = world["app"], world["service"].store
    monkeypatch.setattr(app.state, "config", SimpleNamespace(signing_key="rsa:abcd", tsa_url=None), raising=False)
    c = TestClient(app, follow_redirects=False)  # (its own: the language cookie stays its own)
    signed_in(c, store, "dep_bundle_reader", "regulator", ())
    url = _fill("/console/cases/{case}/bundle.zip", world["ids"])
    with store.engine.connect() as db:
        exports = select(func.count()).where(T.audit_log.c.action == "case.bundle_export")
        before = db.execute(exports).scalar_one()
    zh, en = c.get(f"{url}?lang=zh"), c.get(f"{url}?lang=en")
    assert zh.status_code == en.status_code == 409
    assert "签名私钥应为 PEM 格式的 Ed25519 私钥、ed25519:&lt;十六进制&gt; 或 sm2:&lt;十六进制&gt;" in zh.text
    assert "the signing key must be a PEM Ed25519 key, ed25519:&lt;hex&gt; or sm2:&lt;hex&gt;" in en.text
    with store.engine.connect() as db:
        assert db.execute(exports).scalar_one() == before


# ------------------------------------------------------------ no preamble


CONVERTED = (
    "anxin.web.supervision",
    "anxin.web.oversight",
    "anxin.web.console",
    "anxin.web.pages",  # the register's pages (its public nozzle page is anxin.web.public's route)
    "anxin.web.extra",
    "anxin.web.users",
    "anxin.web.witness",
    "anxin.web.firmware",
    "anxin.web.exports",
    "anxin.web.certified",
)
# The logout ends the server's session only with the form's token, and clears the cookie
# either way: its csrf_ok() decides what to do, it refuses nothing.
EXEMPT = {("anxin.web.console", "logout_post")}


def _api_routes(routes) -> list[APIRoute]:
    """The app's routes, those of its included routers too (FastAPI 0.16x keeps an
    included router as one entry holding ``original_router``)."""
    out: list[APIRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            out += _api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            out.append(route)
    return out


def test_the_converted_routes_have_no_preamble(world) -> None:
    import importlib

    seen = set()
    for route in _api_routes(world["app"].routes):
        if route.endpoint.__module__ not in CONVERTED:
            continue
        fn = route.endpoint
        seen.add(fn.__module__)
        if (fn.__module__, fn.__name__) in EXEMPT:
            continue
        source = inspect.getsource(fn)
        for call in ("require(", "csrf_ok(", "forbidden(", "not_found("):
            assert call not in source, f"{fn.__module__}.{fn.__name__} ({route.path}) calls {call}…)"
    assert seen == set(CONVERTED)
    for name in CONVERTED:  # nor in a helper of the routes
        assert not hasattr(importlib.import_module(name), "require"), name
    for name in set(CONVERTED) - {"anxin.web.console"}:  # (the logout's: EXEMPT)
        assert not hasattr(importlib.import_module(name), "csrf_ok"), name


def test_every_converted_route_declares_its_access(world) -> None:
    """Each route of the converted modules (but the login, logout and the live stream,
    which answer nobody themselves) depends on a viewer dependency of anxin.web.deps."""
    from fastapi.dependencies.models import Dependant

    from anxin.web import deps

    def calls(d: Dependant) -> set:
        return {d.call} | {c for sub in d.dependencies for c in calls(sub)}

    open_ = {"login_page", "login_post", "logout_post", "stream"}
    routes = [r for r in _api_routes(world["app"].routes) if r.endpoint.__module__ in CONVERTED]
    assert {r.endpoint.__module__ for r in routes} == set(CONVERTED)
    for route in routes:
        if route.endpoint.__name__ not in open_:
            assert deps.signed_in in calls(route.dependant), route.path


def test_database_dependencies_run_off_the_event_loop() -> None:
    """The dependencies that read the database are plain functions (FastAPI runs them in
    its threadpool); the rest must not touch it."""
    from anxin.web import deps

    for fn in (
        deps.current_viewer,
        deps.current_complaint,
        deps.current_inspection,
        deps.current_case,
        deps.current_alarm,
        deps.current_work_order,
    ):
        assert not inspect.iscoroutinefunction(fn), fn.__name__


def test_an_unknown_permission_fails_when_the_route_is_defined() -> None:
    from anxin.web.deps import needs

    with pytest.raises(ValueError, match="alarm.traige"):
        needs("alarm.traige")
    assert needs("alarm.view") is needs("alarm.view")  # one dependency: read once a request


# ------------------------------------------------------------ routes at module level


def test_every_web_route_is_a_module_level_function(world) -> None:
    """Each route of anxin.web is a plain function of its module, on the module's router
    (the pattern of Dispatch): what it works with comes through its dependencies, read
    from app.state — no route is a closure over one app's service, store or guard
    (a factory's ``<locals>``), so none can come back."""
    import importlib

    routes = [r for r in _api_routes(world["app"].routes) if r.endpoint.__module__.startswith("anxin.web")]
    modules = {r.endpoint.__module__ for r in routes}
    public = {"anxin.web.public", "anxin.web.receipt"}  # (no login)
    assert modules == set(CONVERTED) | public | {"anxin.web.mount"}, modules
    for route in routes:
        fn = route.endpoint
        assert "<locals>" not in fn.__qualname__, f"{fn.__module__}.{fn.__qualname__} ({route.path}) is a closure"
        assert getattr(importlib.import_module(fn.__module__), fn.__qualname__) is fn, (fn.__module__, fn.__qualname__)
