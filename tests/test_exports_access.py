"""Who may export what, and the record of it (issue 17, item 5): a regulator exports on
the console, a district's regulator its own district only (another district's station
or district is not found), other roles not at all; an agency's token pulls its dataset
of its district through the API, and nothing once revoked; every export is an audit
entry naming who, the period, the stations and the SHA-256 of the very bytes handed
out; ``anxin export`` writes the same file from the command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import msgspec
import pytest
from exports_city import END, START
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from anxin.audit import verify
from anxin.cli import app as cli_app
from anxin.contract.times import LOCAL_TZ
from anxin.exports.queries import revoke_token, save_token
from anxin.store import schema as T

pytest_plugins = ["exports_city"]
FORM = {"kind": "tax", "fmt": "json", "start": str(START), "end": str(END), "district": "", "stations": ""}


def _post(city, who: str, **changes):
    form = {**FORM, **changes, "csrf": city.csrf.get(who, "")}
    return city.clients[who].post("/console/exports", data=form, follow_redirects=False)


def _audit(city, seq: int) -> dict:
    with city.service.store.engine.connect() as c:
        row = c.execute(select(T.audit_log).where(T.audit_log.c.seq == seq)).one()
    data = row.data if isinstance(row.data, dict) else msgspec.json.decode(row.data)
    return {"actor": row.actor, "action": row.action, "subject": row.subject, "reason": row.reason, "data": data}


def test_a_regulator_exports_on_the_console_and_it_is_audited(city) -> None:
    page = city.clients["city"].get("/console/exports")
    assert page.status_code == 200 and "数据共享" in page.text and 'name="csrf"' in page.text
    r = _post(city, "city", reason="杭州市税务局 2026 年第 3 号协查函")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["x-anxin-sha256"] == hashlib.sha256(r.content).hexdigest()
    doc = msgspec.json.decode(r.content)
    assert [s["station_id"] for s in doc["stations"]] == ["S0004", "S0002", "S0003", "S0001"]  # by district
    entry = _audit(city, int(r.headers["x-anxin-audit-seq"]))
    assert entry["actor"] == "exp_city" and entry["action"] == "export.tax"
    assert entry["subject"] == f"export:{START}~{END}" and entry["reason"] == "杭州市税务局 2026 年第 3 号协查函"
    data = entry["data"]
    assert data["sha256"] == hashlib.sha256(r.content).hexdigest() and data["bytes"] == len(r.content)
    assert (data["from"], data["to"], data["format"], data["via"]) == (str(START), str(END), "json", "console")
    assert sorted(data["stations"]) == ["S0001", "S0002", "S0003", "S0004"] and data["district"] is None
    assert verify(city.service.store).ok
    audit_page = city.clients["city"].get("/console/audit")
    assert "导出以销核税数据" in audit_page.text


def test_a_district_regulator_exports_its_own_district_only(city) -> None:
    page = city.clients["binjiang"].get("/console/exports")
    assert "您的账号限于 滨江区" in page.text and ">萧山区<" not in page.text
    r = _post(city, "binjiang", kind="commerce", fmt="xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    ids = {row[0] for row in wb["各站销售量"].iter_rows(min_row=2, values_only=True)}
    assert ids == {"S0002", "S0003"}
    assert _audit(city, int(r.headers["x-anxin-audit-seq"]))["data"]["district"] == "滨江区"
    ok = _post(city, "binjiang", stations="S0003")
    assert [s["station_id"] for s in msgspec.json.decode(ok.content)["stations"]] == ["S0003"]
    with city.service.store.engine.connect() as c:
        before = c.execute(select(T.audit_log.c.seq).order_by(T.audit_log.c.seq.desc())).first()
    for refused in (_post(city, "binjiang", stations="S0003,S0001"), _post(city, "binjiang", district="萧山区")):
        assert refused.status_code == 404 and "S0001" not in refused.text
    assert _post(city, "binjiang", stations="NO-SUCH").status_code == 404
    with city.service.store.engine.connect() as c:  # a refusal exports nothing and writes no export entry
        after = c.execute(select(T.audit_log.c.seq).order_by(T.audit_log.c.seq.desc())).first()
    assert before == after


@pytest.mark.parametrize("who", ["inspector", "operator", "admin"])
def test_other_roles_may_not_export(city, who) -> None:
    assert city.clients[who].get("/console/exports").status_code == 403
    assert _post(city, who).status_code == 403
    assert "/console/exports" not in city.clients[who].get("/console").text


def test_the_form_needs_the_session_and_its_csrf_token(city) -> None:
    assert city.clients["anon"].get("/console/exports", follow_redirects=False).status_code == 303
    form = {**FORM, "csrf": "forged"}
    assert city.clients["city"].post("/console/exports", data=form).status_code == 403


def test_a_bad_period_is_named_on_the_page(city) -> None:
    r = _post(city, "city", start=str(END), end=str(START))
    assert r.status_code == 400 and f"起始日期 {END} 晚于结束日期 {START}" in r.text
    r = _post(city, "city", start="2026-02-30")
    assert r.status_code == 400 and "日期应为 YYYY-MM-DD" in r.text
    today = dt.datetime.fromtimestamp(city.service.clock() / 1e6, LOCAL_TZ).date()
    later = {"start": str(today), "end": str(today + dt.timedelta(days=1))}
    en = city.clients["city"].post("/console/exports?lang=en", data={**FORM, **later, "csrf": city.csrf["city"]})
    assert en.status_code == 400 and f"The end {later['end']} is after today ({today})" in en.text


def test_an_agencys_token_pulls_its_data_within_its_scope(city) -> None:
    store, now = city.service.store, city.service.clock()
    tax_token, commerce_token = "tax-token-0123456789abcdef", "commerce-token-0123456789abcdef"
    tid = save_token(
        store,
        agency="国家税务总局杭州市滨江区税务局",
        kinds=["tax"],
        district="滨江区",
        token=tax_token,
        actor="system",
        reason="数据共享协议",
        now_us=now,
    )
    save_token(
        store,
        agency="商务局",
        kinds=["commerce"],
        district=None,
        token=commerce_token,
        actor="system",
        reason="r",
        now_us=now,
    )
    api = city.clients["anon"]
    q = {"from": str(START), "to": str(END)}
    assert api.get("/v1/exports/tax", params=q).status_code == 401
    assert api.get("/v1/exports/tax", params=q, headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": f"Bearer {tax_token}"}
    r = api.get("/v1/exports/tax", params=q, headers=auth)
    assert r.status_code == 200 and r.headers["x-anxin-sha256"] == hashlib.sha256(r.content).hexdigest()
    assert [s["station_id"] for s in msgspec.json.decode(r.content)["stations"]] == ["S0002", "S0003"]
    entry = _audit(city, int(r.headers["x-anxin-audit-seq"]))
    assert entry["actor"] == f"agency:{tid}" and entry["reason"] == "export.api"
    assert entry["data"]["agency"] == "国家税务总局杭州市滨江区税务局" and entry["data"]["token"] == tid
    assert entry["data"]["sha256"] == hashlib.sha256(r.content).hexdigest()
    assert api.get("/v1/exports/tax", params={**q, "station": "S0001"}, headers=auth).status_code == 404
    assert api.get("/v1/exports/tax", params={**q, "district": "萧山区"}, headers=auth).status_code == 404
    assert api.get("/v1/exports/commerce", params=q, headers=auth).status_code == 403
    bad = api.get("/v1/exports/tax", params={**q, "to": "2026-13-01"}, headers=auth)
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.json()["detail"]
    wb = api.get("/v1/exports/commerce/xlsx", params=q, headers={"Authorization": f"Bearer {commerce_token}"})
    assert wb.status_code == 200 and wb.content[:2] == b"PK"
    assert revoke_token(store, token_id=tid, actor="system", reason="协议到期", now_us=now)
    assert api.get("/v1/exports/tax", params=q, headers=auth).status_code == 401
    spec = api.get("/openapi.json").json()
    op = spec["paths"]["/v1/exports/{kind}"]["get"]
    assert op["security"] == [{"agency": []}] and op["operationId"] == "getAgencyExport"
    assert "AgencyExport" in spec["components"]["schemas"]


def test_the_command_line_writes_the_same_file(city, tmp_path) -> None:
    db = str(city.root / "db.sqlite")
    out = tmp_path / "tax.json"
    run = CliRunner().invoke(
        cli_app,
        ["export", "tax", "--from", str(START), "--to", str(END), "--format", "json", "--out", str(out), "--db", db],
        env={"ANXIN_LANG": "zh"},
    )
    assert run.exit_code == 0, run.output
    doc = msgspec.json.decode(out.read_bytes())
    assert doc["kind"] == "tax" and doc["exported_by"] == "system" and len(doc["stations"]) == 4
    assert hashlib.sha256(out.read_bytes()).hexdigest() in run.output
    with city.service.store.engine.connect() as c:
        last = c.execute(select(T.audit_log).order_by(T.audit_log.c.seq.desc()).limit(1)).one()
    assert (last.actor, last.action) == ("system", "export.tax")
    bad = CliRunner().invoke(
        cli_app, ["export", "commerce", "--from", "2026-03-09", "--to", "2026-03-01", "--db", db, "--lang", "en"]
    )
    assert bad.exit_code == 2 and "The start 2026-03-09 is after the end 2026-03-01" in bad.output
    token = CliRunner().invoke(
        cli_app,
        ["export", "token", "--agency", "商务局", "--kind", "commerce", "--reason", "协议", "--db", db],
    )
    assert token.exit_code == 0, token.output
    value = token.output.strip().splitlines()[-1]
    r = city.clients["anon"].get(
        "/v1/exports/commerce",
        params={"from": str(START), "to": str(END)},
        headers={"Authorization": f"Bearer {value}"},
    )
    assert r.status_code == 200
    listed = CliRunner().invoke(cli_app, ["export", "tokens", "--db", db])
    assert listed.exit_code == 0 and "商务局" in listed.output


def test_the_page_reads_in_its_language(city) -> None:
    from test_page_text import _Reader, offences, offences_en

    names = {s.district for s in city.registry.stations} | {"中文"}  # (the switch to Chinese names itself so)
    for lang in ("zh", "en"):
        reader = _Reader()
        reader.feed(city.clients["city"].get(f"/console/exports?lang={lang}").text)
        text = " ".join(reader.text).replace("exp_city", "")  # (the test account's display name)
        assert not (offences(text) if lang == "zh" else offences_en(text, names)), lang
