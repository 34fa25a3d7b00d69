"""The console's pages in-process: the English switch, CSRF on every change, the public
page without an account, the complaint API's limits, and the overview's figures computed
from the data. (The hardening of issue 11 — login throttle, CSRF on the login, filters,
headers — is tested in test_console_security.py.)"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from anxin.auth import create_user
from anxin.contract.times import LOCAL_TZ
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads
from anxin.store import schema as T

PASSWORD = "correct horse battery staple"


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("console-pages")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    simulate(
        root / "city",
        stations=2,
        days=1,
        seed=4,
        scenarios=ScenarioSet.parse("honest,amount_fraud=0.03"),
        workers=1,
        group_size=2,
    )
    _, service, app = build(
        db=str(root / "db.sqlite"),
        registry=root / "city" / "registry.json",
        admin_token="admin-token-0123456789",
        cookie_secure=False,  # TestClient speaks plain HTTP
    )
    now = time.time_ns() // 1000
    create_user(
        service.store,
        username="zhang",
        display_name="张科长",
        role="regulator",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=now,
    )
    for sid, lines in uploads(arrival_lines(root / "city"), "S0001"):
        service.ingest(sid, lines, source="test")
    return service, app


def form_token(c: TestClient, path: str = "/console/login") -> str:
    """The anonymous CSRF token of a page's form (its cookie stays in the client)."""
    return re.search(r'name="form_token" value="([^"]+)"', c.get(path).text).group(1)


def _login(c: TestClient, user: str = "zhang", password: str = PASSWORD):
    data = {"username": user, "password": password, "next": "/console", "form_token": form_token(c)}
    return c.post("/console/login", data=data)


def test_english_switch_is_kept(app) -> None:
    _, a = app
    c = TestClient(a)
    _login(c)
    assert "一网感知" in c.get("/console").text
    assert "Overview" in c.get("/console?lang=en").text
    assert "Open alarms" in c.get("/console").text  # the cookie keeps it
    assert "一网感知" in c.get("/console?lang=zh").text


def test_alarm_messages_are_rendered_in_the_readers_language(app) -> None:
    """The 说明 column and the alarm page showed the stored English sentence ("sold 40430
    mL, metered …") to a Chinese reader: they are rendered from the evidence."""
    from anxin.i18n import alarm_message

    service, a = app
    c = TestClient(a, headers={"Accept-Language": "zh-CN"})
    _login(c)
    stored = [x for _, x in service.store.alarms_after(0, limit=10_000) if x["rule"] == "AMOUNT_MISMATCH"]
    assert stored, "the city has amount fraud"
    first = stored[0]
    zh = alarm_message(first["rule"], first["evidence"], first["message"], language="zh")
    assert zh != first["message"] and "金额" in zh
    listing = c.get("/console/alarms", params={"rule": "AMOUNT_MISMATCH"}).text
    page = c.get(f"/console/alarms/{first['alarm_id']}").text
    for text in (listing, page):
        assert zh in text and first["message"] not in text
    english = TestClient(a, headers={"Accept-Language": "en-US,en"})
    _login(english)
    en = alarm_message(first["rule"], first["evidence"], first["message"], language="en")
    assert en.startswith("charged ") and " yuan" in en and "fen" not in en  # not the engine's "amount 10318 fen ≠ …"
    assert en in english.get(f"/console/alarms/{first['alarm_id']}").text


def test_a_chinese_message_is_never_english_even_on_odd_evidence() -> None:
    from anxin.i18n import alarm_message

    # evidence without what the sentence needs (an older alarm, a hostile record's field)
    assert alarm_message("VOLUME_MISMATCH", {}, "sold 1 mL", language="zh") == "油量不符（详见证据）"
    assert alarm_message("NO_SUCH_RULE", {"x": 1}, "english", language="zh") == "报警（详见证据）"
    assert alarm_message("TANK_LOSS", {"loss_l_per_h": "many"}, "loss", language="zh") == "油罐损耗异常（详见证据）"
    assert alarm_message("VOLUME_MISMATCH", {}, "sold 1 mL", language="en") == "sold 1 mL"


def _figure(html: str, label: str) -> str:
    m = re.search(r'<span class="n">([^<]*)</span><span>' + re.escape(label) + "</span>", html)
    assert m, label
    return m.group(1)


def test_the_overview_and_the_register_agree_on_verification(app) -> None:
    """一网感知 said 检定覆盖率 99 % while 智慧检定 said 0 %: the overview took the registry's
    flags at the data's clock, the register its records at the platform's. One computation
    (``coverage_of``), one clock, both figures on both pages."""
    service, a = app
    c = TestClient(a)
    _login(c)
    overview, register = c.get("/console").text, c.get("/console/register").text
    for label in ("检定覆盖率", "检定合格率"):
        assert _figure(overview, label) == _figure(register, label)
    from anxin.register.queries import coverage_of

    covered, _ = coverage_of(service.store, service.registry, now_us=time.time_ns() // 1000)
    assert _figure(overview, "检定覆盖率") == f"{covered:.0%}"
    # the public page and the console's nozzle page read the same register (the public
    # page said 检定已过期 where the nozzle page said valid until July)
    from anxin.register import register_rows

    n = service.registry.nozzles[0]
    row = next(
        r
        for r in register_rows(
            service.store, service.registry, now_us=time.time_ns() // 1000, station_ids={n.station_id}
        )
        if r.nozzle_id == n.nozzle_id
    )
    public = TestClient(a).get(f"/p/{n.nozzle_id}").text
    console = c.get(f"/console/nozzles/{n.nozzle_id}").text
    assert row.valid_until[:10] in public and row.valid_until[:10] in console


def test_changes_need_the_session_csrf_token(app) -> None:
    service, a = app
    c = TestClient(a)
    _login(c)
    page = c.get("/console/alarms").text
    alarm_id = re.search(r"/console/alarms/([0-9a-f]{20,})", page).group(1)
    r = c.post(f"/console/alarms/{alarm_id}/acknowledge", data={"csrf": "forged", "reason": "x"})
    assert r.status_code == 403
    assert "badge st-new" in c.get(f"/console/alarms/{alarm_id}").text
    anon = TestClient(a)
    r = anon.post(f"/console/alarms/{alarm_id}/acknowledge", data={"reason": "x"}, follow_redirects=False)
    assert r.status_code == 303 and "/console/login" in r.headers["location"]


def test_public_page_without_an_account_and_unknown_nozzle(app) -> None:
    service, a = app
    c = TestClient(a)
    nozzle = service.registry.nozzles[0].nozzle_id
    r = c.get(f"/p/{nozzle}")
    assert r.status_code == 200 and "油枪检定信息公开" in r.text and "登录" not in r.text.split("<main")[1]
    assert c.get("/p/NO-SUCH-NOZZLE").status_code == 404
    r = c.post(f"/p/{nozzle}/report", data={"text": "  ", "form_token": form_token(c, f"/p/{nozzle}")})
    assert r.status_code == 422


@contextlib.contextmanager
def _clock(service, local: dt.datetime):
    """The platform's clock held at ``local`` (Asia/Shanghai) for the pages."""
    wall = service.clock
    service.clock = lambda: int(local.replace(tzinfo=LOCAL_TZ).timestamp() * 1_000_000)
    try:
        yield service.clock()
    finally:
        service.clock = wall


def test_overview_figures_come_from_the_data(app) -> None:
    """The city's one day, seen on its evening: the day's volume and sales, the day before
    (none) beside them, and every alarm open."""
    service, a = app
    c = TestClient(a)
    _login(c)
    with _clock(service, dt.datetime(2026, 3, 1, 20, 0)):
        text = c.get("/console").text
    from sqlalchemy import text as sql

    with service.store.engine.connect() as db:
        (sales, volume) = db.execute(sql("SELECT sum(sales), sum(volume_ml) FROM daily_sales")).one()
        (alarms,) = db.execute(sql("SELECT count(*) FROM alarms")).one()
    assert f"{volume / 1000:,.0f} 升" in text and f"今日加油量（{sales} 笔） · 昨日 0 升、0 笔" in text
    assert re.search(r"在线加油站 · 最近数据 \d\d-\d\d \d\d:\d\d", text)  # when they last sent anything
    assert re.search(rf'class="n">{alarms}</span><span>未结报警', text)


def test_complaint_api_links_and_limits(app) -> None:
    service, a = app
    with service.store.engine.begin() as db:  # the rate limits' counters: this test starts afresh
        db.execute(T.throttle.delete())
    c = TestClient(a)
    assert "/v1/complaints" in c.get("/openapi.json").json()["paths"]
    nozzle = service.registry.nozzles[0]
    r = c.post(
        "/v1/complaints",
        json={
            "station_id": nozzle.station_id,
            "nozzle_id": nozzle.nozzle_id,
            "text": "油量不足",
            "event_ts": "2026-03-01T12:00:00+08:00",
        },
    )
    assert r.status_code == 201 and r.json()["status"] == "received" and r.json()["links"] >= 1
    assert c.post("/v1/complaints", json={"station_id": "NOPE", "text": "x"}).status_code == 422
    assert (
        c.post(
            "/v1/complaints", json={"station_id": nozzle.station_id, "text": "x", "event_ts": "2026-03-01T12:00:00"}
        ).status_code
        == 422
    )
    codes = [
        c.post("/v1/complaints", json={"station_id": nozzle.station_id, "text": "再投诉"}).status_code for _ in range(6)
    ]
    assert 428 in codes  # past a few from one address: the challenge (test_public_channels.py solves it)


def test_admin_manages_users_in_the_browser_pages(app) -> None:
    service, a = app
    create_user(
        service.store,
        username="root",
        display_name="管理员",
        role="admin",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=time.time_ns() // 1000,
    )
    regulator = TestClient(a)
    _login(regulator)
    assert regulator.get("/console/users").status_code == 403  # only admins
    c = TestClient(a)
    _login(c, "root")
    page = c.get("/console/users").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = c.post(
        "/console/users/create",
        data={
            "csrf": csrf,
            "username": "zhao",
            "display_name": "赵站长",
            "role": "operator",
            "password": "short",
            "stations": ["S0001"],
        },
    )
    assert r.status_code == 400  # the password rules are the CLI's
    c.post(
        "/console/users/create",
        data={
            "csrf": csrf,
            "username": "zhao",
            "display_name": "赵站长",
            "role": "operator",
            "password": PASSWORD,
            "stations": ["S0001"],
            "reason": "新站长",
        },
    )
    assert _login(TestClient(a), "zhao").status_code == 200
    c.post("/console/users/deactivate", data={"csrf": csrf, "username": "zhao"})
    assert _login(TestClient(a), "zhao").status_code == 401
    assert c.post("/console/users/deactivate", data={"csrf": csrf, "username": "root"}).status_code == 400
    assert "新建账号" in c.get("/console/audit").text  # the action in words, not "user.create"


def test_a_bad_number_in_a_visit_is_a_400_naming_the_field(app) -> None:
    from anxin.supervision import inspections as I

    service, a = app
    now = time.time_ns() // 1000
    create_user(
        service.store,
        username="qian",
        display_name="钱检查员",
        role="inspector",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=now,
    )
    iid = I.schedule(
        service.store, station_id="S0001", inspector="qian", scheduled_us=now, kind="routine", actor="test", now_us=now
    )
    c = TestClient(a)
    _login(c, "qian")
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get(f"/console/inspections/{iid}").text).group(1)
    form = {"csrf": csrf, "standard_ml_0": "20000", "indicated_ml_0": "二万", "findings": ""}
    form |= {f"ok_{k}": "yes" for k in I.MANUAL_ITEMS}
    r = c.post(f"/console/inspections/{iid}/visit", data=form)
    assert r.status_code == 400 and "indicated_ml_0" in r.text
    assert I.get(service.store, iid)["status"] == "planned"  # nothing recorded


def test_every_page_takes_now_from_the_platforms_clock(app) -> None:
    """One clock (issue 13, item 3): with the platform's clock set inside the city's day,
    the overview's day figures are that day's, the statistics open on its month, the
    overview and the register agree on verification at it, and the public page and the
    console's nozzle page both say the nozzle's verification is valid — as it is on that
    day (on the wall clock, months later, every page would say expired, together)."""
    from sqlalchemy import func, select

    from anxin.register import register_rows
    from anxin.register.queries import coverage_of

    service, a = app
    with _clock(service, dt.datetime(2026, 3, 1, 20, 0)) as fixed:
        c = TestClient(a)
        _login(c)
        overview = c.get("/console").text
        d = T.daily_sales.c
        with service.store.engine.connect() as conn:
            litres = conn.execute(select(func.sum(d.volume_ml)).where(d.day == "2026-03-01")).scalar() / 1000
        assert litres > 0
        assert re.search(r'<span class="n">' + re.escape(f"{litres:,.0f}") + r" 升</span><span>今日加油量", overview)
        assert 'name="period" value="2026-03"' in c.get("/console/statistics").text
        covered, _ = coverage_of(service.store, service.registry, now_us=fixed)
        register = c.get("/console/register").text
        assert _figure(overview, "检定覆盖率") == _figure(register, "检定覆盖率") == f"{covered:.0%}"
        n = service.registry.nozzles[0]
        (row,) = [
            r
            for r in register_rows(service.store, service.registry, now_us=fixed, station_ids={n.station_id})
            if r.nozzle_id == n.nozzle_id
        ]
        assert row.valid_until > "2026-03-01"  # valid on the fixed day
        public = TestClient(a).get(f"/p/{n.nozzle_id}").text
        assert "检定合格，在有效期内" in public and "检定已过期" not in public
        assert row.valid_until[:10] in c.get(f"/console/nozzles/{n.nozzle_id}").text


def test_alarm_lists_run_in_event_time_with_the_station_named(app) -> None:
    """The list was in the order raised (23:31, 00:48, 00:09, 22:41…): now by event time,
    newest first, the raised time beside it where it differs, the station's name beside
    its id; the keyset cursor pages through every alarm once."""
    from anxin.web import queries as Q

    service, a = app
    seen, cursor = [], None
    while True:
        rows, cursor = Q.alarm_page(
            service.store, service.registry, Q.AlarmFilter(), stations=None, before=cursor, limit=7
        )
        seen += [(r["ts_us"], r["ord"]) for r in rows]
        if cursor is None:
            break
    with service.store.engine.connect() as db:
        everything = db.execute(select(T.alarms.c.ts_us, T.alarms.c.ord)).all()
    assert len(seen) == len(everything) > 7 and sorted(seen, reverse=True) == seen
    assert set(seen) == {tuple(r) for r in everything}
    c = TestClient(a)
    _login(c)
    page = c.get("/console/alarms").text
    times = re.findall(r'<tr class="sev-\w+">\s*<td>(\d{4}-\d\d-\d\d \d\d:\d\d)', page)
    assert times and times == sorted(times, reverse=True)
    station = service.registry.stations[0]
    assert f"{station.station_id} {station.name}" in page


def test_a_refused_step_is_said_in_the_readers_language(app) -> None:
    """A triage step the alarm's status does not allow, and closing a case not yet
    decided, are refused in words — not "cannot confirm an alarm that is new (allowed:
    acknowledge, dismiss)" or "case_not_decided: …" on a Chinese page."""
    from anxin.supervision import cases as K

    service, a = app
    c = TestClient(a)
    _login(c)
    page = c.get("/console/alarms").text
    alarm_id = re.search(r"/console/alarms/([0-9a-f]{20,})", page).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get(f"/console/alarms/{alarm_id}").text).group(1)
    r = c.post(f"/console/alarms/{alarm_id}/confirm", data={"csrf": csrf, "summary": "x", "reason": ""})
    assert "不能确认违法" in r.text and "cannot" not in r.text and "allowed:" not in r.text
    station = service.registry.stations[0].station_id
    case_id = K.open_case(
        service.store,
        station_id=station,
        source=f"alarm:{alarm_id}",
        summary="测试",
        actor="zhang",
        now_us=service.clock(),
    )
    r = c.post(f"/console/cases/{case_id}/close", data={"csrf": csrf, "reason": "太早"})
    assert r.status_code == 400 and "case_" not in r.text
    zh = re.search(r'class="[^"]*(?:error|bad|msg)[^"]*"[^>]*>([^<]+)<', r.text)
    assert zh and re.search(r"[\u4e00-\u9fff]", zh.group(1)), r.text[-2000:]
    c.cookies.set("anxin_lang", "en")
    r = c.post(f"/console/alarms/{alarm_id}/confirm", data={"csrf": csrf, "summary": "x", "reason": ""})
    assert "is not possible now" in r.text


def test_people_alarms_and_stations_are_named_not_identified(app) -> None:
    """A case opened from an alarm names the alarm by its rule, nozzle and time (its id is
    no word), and the station by its name; a decision's fine and confiscated boards are
    labelled; a work order names its inspector and its alarm; brackets in Chinese are
    full-width."""
    from anxin.supervision import cases as K
    from anxin.web import queries as Q
    from anxin.web.texts import rule_label
    from anxin.workflow import apply
    from anxin.workflow import lifecycle as L

    service, a = app
    c = TestClient(a)
    _login(c)
    create_user(
        service.store,
        username="li01",
        display_name="李检查员",
        role="inspector",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=service.clock(),
    )
    # not the first alarm of the list: test_a_refused_step_is_said_in_the_readers_language's
    page = c.get("/console/alarms").text
    alarm_id = re.findall(r"/console/alarms/([0-9a-f]{20,})", page)[-1]
    alarm = Q.alarm(service.store, alarm_id)
    station = service.registry.station_by_id[alarm["station_id"]]
    now = service.clock()
    apply(service.store, alarm_id, L.Acknowledge(), actor="zhang", reason="", now_us=now)
    apply(
        service.store,
        alarm_id,
        L.Dispatch(inspector="li01", due_us=now + 3_600_000_000),
        actor="zhang",
        reason="",
        now_us=now,
    )
    case_id = K.open_case(
        service.store,
        station_id=station.station_id,
        source=f"alarm:{alarm_id}",
        summary="测试",
        actor="zhang",
        now_us=now,
    )
    K.update(
        service.store,
        case_id,
        parties=[{"name": "某加油站有限公司", "role": "经营者", "id_no": "x"}],
        actor="zhang",
        reason="",
        now_us=now,
    )
    K.penalize(
        service.store,
        case_id,
        penalty_fen=2_000_000,
        boards_confiscated=1,
        decision="罚款",
        actor="zhang",
        reason="",
        now_us=now,
    )
    html = c.get(f"/console/cases/{case_id}").text
    rule = rule_label(alarm["rule"], "zh")
    assert f">报警：{rule} · " in html and f">报警 #{alarm_id}" not in html
    assert f"{station.station_id} {station.name}" in html
    assert "某加油站有限公司（经营者）" in html and "罚款 20,000.00 元 · 没收作弊主板 1 块" in html
    orders = c.get("/console/workorders").text
    assert "李检查员" in orders and ">li01<" not in orders and f"{rule} · " in orders
    assert f"{alarm_id[:10]}…" not in orders


def test_a_nozzle_page_shows_its_recent_dispensings_beside_their_sales(app) -> None:
    """The nozzle's last 20 dispensings, each beside the sale it was settled as, in
    litres to two decimals and yuan, with the signature's verdict — read from the ledger."""
    service, a = app
    c = TestClient(a)
    _login(c)
    nozzle = service.registry.nozzles[0]
    page = c.get(f"/console/nozzles/{nozzle.nozzle_id}").text
    table = re.search(r'<table class="list stack" id="dispensings">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    assert 1 <= len(rows) <= 20 + 5, len(rows)
    cells = [re.findall(r"<td>(.*?)</td>", r, re.S) for r in rows]
    paired = [x for x in cells if re.fullmatch(r"\d+\.\d\d 升", x[2]) and re.fullmatch(r"\d+\.\d\d 升", x[3])]
    assert paired and all(x[9] == "有效" for x in paired), cells[:3]
    assert all(re.fullmatch(r"\d+\.\d\d 元", x[6]) for x in paired)


def test_an_alarms_page_shows_the_dispensings_around_it_with_its_own_marked(app) -> None:
    """An amount-fraud alarm's page lists the nozzle's dispensings up to an hour after it,
    beside their sales, the alarm's own record marked and named by its rule."""
    service, a = app
    c = TestClient(a)
    _login(c)
    stored = [x for _, x in service.store.alarms_after(0, limit=10_000) if x["rule"] == "AMOUNT_MISMATCH"]
    alarm = stored[0]
    page = c.get(f"/console/alarms/{alarm['alarm_id']}").text
    assert "报警前后的加油记录" in page
    table = re.search(r'<table class="list stack" id="dispensings">(.*?)</table>', page, re.S).group(1)
    marked = re.findall(r'<tr class="[^"]*\bthis\b[^"]*">(.*?)</tr>', table, re.S)
    assert len(marked) == 1 and "金额不符" in marked[0], table[:2000]


def test_link_reasons_and_findings_are_in_the_readers_language(app) -> None:
    """Issue 13: why a record is linked to a complaint and a rectification's finding are
    stored as parts and said in the reader's language — no Chinese on the English page,
    no English on the Chinese one; a row an existing database stored as a Chinese
    sentence is shown as written."""
    import html

    from anxin.supervision import complaints as C
    from anxin.supervision import inspections as I

    service, a = app
    store, now = service.store, time.time_ns() // 1000
    L = T.ledger.c
    with store.engine.connect() as db:
        sale = db.execute(
            select(L.event_time_us, L.body).where(L.kind == "settlement", L.station_id == "S0001").limit(1)
        ).one()
    nozzle = json.loads(sale.body)["nozzle_id"]
    t = int(sale.event_time_us)
    with store.engine.begin() as db:
        db.execute(
            T.alarms.insert().values(
                alarm_id="parts-alarm",
                rule="VOLUME_MISMATCH",
                severity="high",
                station_id="S0001",
                nozzle_id=nozzle,
                ts="x",
                ts_us=t + 60_000_000,
                message="m",
                evidence={},
                raised_us=t,
            )
        )
    cid = C.submit(
        store,
        service.registry,
        station_id="S0001",
        nozzle_id=nozzle,
        text="油量不足",
        channel="qr",
        event_ts_us=t,
        now_us=max(now, t),
    )
    legacy_why = "本站发生时间前后 +0分30秒 的报警「油量不符」"
    with store.engine.begin() as db:
        db.execute(T.complaint_links.insert().values(complaint_id=cid, kind="alarm", ref="old", why=legacy_why))
    iid = I.schedule(
        store, station_id="S0001", inspector="zhang", scheduled_us=now, kind="routine", actor="t", now_us=now
    )
    I.record_visit(
        store,
        service.registry,
        iid,
        checklist={**{k: (True, "") for k in I.MANUAL_ITEMS}, "certificate_valid": (False, "")},
        test_fill_runs=None,
        findings=None,
        actor="zhang",
        now_us=now,
    )
    legacy_finding = "信用承诺书上墙：不合格（未上墙）"
    with store.engine.begin() as db:
        db.execute(
            T.rectifications.insert().values(
                inspection_id=iid, station_id="S0001", finding=legacy_finding, deadline_us=now, status="open"
            )
        )
    c = TestClient(a)
    _login(c)
    cjk = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
    for lang in ("zh", "en"):
        page = html.unescape(c.get(f"/console/complaints/{cid}?lang={lang}").text)
        reasons = re.findall(r" — ([^<]*)</li>", page)
        assert legacy_why in reasons and len(reasons) >= 3, reasons  # the sale, its metering record, the alarms
        said = [r for r in reasons if r != legacy_why]
        visit = html.unescape(c.get(f"/console/inspections/{iid}?lang={lang}").text)
        found = re.findall(r"<li>#\d+ ([^<]*?) · ", visit)
        assert legacy_finding in found and len(found) == 2, found
        said += [f for f in found if f != legacy_finding]
        if lang == "zh":
            assert "同一油枪发生时间前后 +1分00秒 的报警「油量不符」" in said and "检定证书有效：不合格" in said
            assert not any(re.search(r"[A-Za-z]{3,}", s.replace("S0001", "")) for s in said), said
        else:
            assert "a “Volume mismatch” alarm of the same nozzle +1 min 00 s from the time given" in said
            assert "Verification certificate valid: failed" in said
            assert not any(cjk.search(s) for s in said), said
