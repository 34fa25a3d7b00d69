"""Vendors' files on the console (issue 16 item 4): the templates (a CSV and an XLSX
with zh-CN headers, and the default column map) downloaded by the roles that use them,
and a verification file — an XLSX, a GBK CSV as Chinese Excel saves it — imported
through the console; a file with bad rows names every one and stores nothing."""

from __future__ import annotations

import html
import io
import re
import secrets
import tomllib

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sessions_helper import signed_in
from sqlalchemy import func, select

from anxin.edge.posfile import DEFAULT_MAP as POS_MAP
from anxin.edge.posfile import read_pos
from anxin.register import parse_csv, to_csv
from anxin.register.csvfile import COLUMNS, RECORD_FIELDS, RUN_FIELDS
from anxin.register.csvfile import DEFAULT_MAP as VERIFICATION_MAP
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.store import schema as T


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    root = tmp_path_factory.mktemp("imports-console")
    simulate(root / "city", stations=1, days=1, seed=5, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    _, service, app = build(
        db=str(root / "db.sqlite"),
        registry=root / "city" / "registry.json",
        admin_token="admin-token-0123456789",
        cookie_secure=False,  # TestClient speaks plain HTTP
    )
    return service, app


def client(service, app, role: str, stations: tuple[str, ...] = ()) -> tuple[TestClient, str]:
    c = TestClient(app)
    csrf = signed_in(c, service.store, f"{role}-{secrets.token_hex(4)}", role, stations)
    return c, csrf


def ledger(service) -> int:
    with service.store.engine.connect() as c:
        return c.execute(
            select(func.count()).select_from(T.ledger).where(T.ledger.c.kind == "verification")
        ).scalar_one()


def records(service, day: int) -> list[dict]:
    """Two passing verifications of the registry's first two nozzles on March ``day``."""
    out = []
    for i, n in enumerate(service.registry.nozzles[:2]):
        out.append(
            {
                "kind": "verification",
                "station_id": n.station_id,
                "nozzle_id": n.nozzle_id,
                "ts": f"2026-03-{day:02d}T0{8 + i}:00:00.000+08:00",
                "type": "periodic",
                "org": "杭州市计量质量检测研究院",
                "certificate_no": f"JD-{day}-{i}",
                "k_pulses_per_m3": n.k_pulses_per_m3,
                "valid_until": f"2026-09-{day:02d}T00:00:00.000+08:00",
                "runs": [
                    {
                        "flow_ml_per_min": flow,
                        "standard_ml": 20000,
                        "indicated_ml": 20000 + k,
                        "standard_temp_mc": 20000,
                        "dispenser_temp_mc": 20000,
                    }
                    for flow in (40000, 8000)
                    for k in (2, 4, 6)
                ],
            }
        )
    return out


def as_xlsx(recs: list[dict]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([COLUMNS[f][0] for f in (*RECORD_FIELDS, *RUN_FIELDS)])
    for rec in recs:
        for run in rec["runs"]:
            ws.append([rec[f] for f in RECORD_FIELDS] + [run[f] for f in RUN_FIELDS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def status(r) -> str:
    return html.unescape(re.search(r'<div role="status" class="(?:error|good)">(.*?)</div>', r.text, re.S).group(1))


def upload(c: TestClient, csrf: str, name: str, data: bytes):
    return c.post(
        "/console/register/import", data={"csrf": csrf}, files={"file": (name, data, "application/octet-stream")}
    )


# ---------------------------------------------------------------- templates
def test_the_verification_templates_are_the_importers(console) -> None:
    service, app = console
    c, _ = client(service, app, "inspector")
    page = c.get("/console/register?lang=zh").text
    assert (
        "文件模板" in page
        and "/console/register/template.xlsx" in page
        and "/console/templates/pos-settlement.csv" in page
    )
    r = c.get("/console/register/template.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="verification-template.csv"' in r.headers["content-disposition"]
    assert r.content.decode("utf-8-sig").strip() == ",".join(COLUMNS[f][0] for f in COLUMNS)
    assert parse_csv(r.content).errors == []  # the template is a file the import reads (no rows yet)
    r = c.get("/console/register/template.xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert wb.sheetnames == ["数据", "列说明"]
    assert [cell.value for cell in next(wb["数据"].iter_rows())] == [COLUMNS[f][0] for f in COLUMNS]
    r = c.get("/console/register/template.toml?lang=en")
    doc = tomllib.loads(r.text)
    assert doc["kind"] == "verification" and doc["fields"]["standard_ml"] == {"columns": ["标准体积(mL)"], "unit": "mL"}
    assert r.text.startswith("# anxin column map (verification)")
    assert c.get("/console/register/template.exe").status_code == 404


def test_who_may_download_which_template(console) -> None:
    service, app = console
    station = service.registry.stations[0].station_id
    op, _ = client(service, app, "operator", (station,))
    assert op.get("/console/register/template.csv").status_code == 403  # imports no verification
    r = op.get("/console/templates/pos-settlement.csv")
    assert r.status_code == 200 and read_pos(r.content).errors == [] and read_pos(r.content).rows == 0
    r = op.get("/console/templates/pos-settlement.toml")
    assert tomllib.loads(r.text)["fields"]["volume_ml"]["unit"] == "L" and r.text.startswith("# anxin 列映射")
    wb = openpyxl.load_workbook(io.BytesIO(op.get("/console/templates/pos-settlement.xlsx").content))
    assert [cell.value for cell in wb["数据"][1]] == [f.columns[0] for f in POS_MAP.fields.values()]
    assert wb["列说明"]["A1"].value == "列名" and wb["列说明"]["C1"].value == "单位"
    anonymous = TestClient(app, follow_redirects=False)
    r = anonymous.get("/console/templates/pos-settlement.csv")
    assert r.status_code in (302, 303) and "/console/login" in r.headers["location"]
    assert VERIFICATION_MAP.kind == "verification"


# ---------------------------------------------------------------- import through the console
def test_an_xlsx_and_a_gbk_csv_import_through_the_console(console) -> None:
    service, app = console
    c, csrf = client(service, app, "inspector")
    before = ledger(service)
    r = upload(c, csrf, "检定.xlsx", as_xlsx(records(service, 3)))
    assert r.status_code == 200, status(r)
    assert "2" in status(r) and ledger(service) == before + 2
    gbk = to_csv(records(service, 4), chinese=True)[3:].decode().encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    r = upload(c, csrf, "检定.csv", gbk)
    assert r.status_code == 200, status(r)
    assert ledger(service) == before + 4
    r = upload(c, csrf, "检定.csv", gbk)  # again: duplicates, never second records
    assert r.status_code == 200 and ledger(service) == before + 4


def test_a_file_with_bad_rows_names_each_and_stores_nothing(console) -> None:
    service, app = console
    c, csrf = client(service, app, "regulator")
    recs = records(service, 5)
    data = as_xlsx(recs)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.active
    ws["J3"] = "二万"  # standard volume, line 3
    ws["C9"] = "2026-03-05 08:00"  # the second certificate's time, no offset, line 9
    ws["K12"] = "=J12*1.001"  # a formula: refused before anything else is read
    out = io.BytesIO()
    wb.save(out)
    before = ledger(service)
    c.get("/console/register?lang=zh")
    r = upload(c, csrf, "bad.xlsx", out.getvalue())
    assert r.status_code == 422 and status(r) == "第 12 行“K12”列：公式不予计算：请将该单元格粘贴为数值（=J12*1.001）"
    ws["K12"] = 20003
    out = io.BytesIO()
    wb.save(out)
    r = upload(c, csrf, "bad.xlsx", out.getvalue())
    assert r.status_code == 422
    assert (
        status(r)
        == "第 3 行“标准体积(mL)”列：不是数字：“二万”；第 9 行“检定时间”列：时间“2026-03-05 08:00”缺少 UTC 偏移（如 +08:00）"
    )
    assert ledger(service) == before  # nothing half-imported
    c.get("/console/register?lang=en")
    r = upload(c, csrf, "bad.xlsx", out.getvalue())
    assert status(r).startswith("line 3, column 标准体积(mL): not a number: '二万'; line 9, column 检定时间:")


def test_every_bad_row_is_listed_not_only_the_first_twenty(console) -> None:
    service, app = console
    c, csrf = client(service, app, "inspector")
    c.get("/console/register?lang=zh")
    recs = records(service, 6)
    data = (
        to_csv(recs, chinese=True).decode("utf-8-sig").replace(",20000,20002,", ",二万,20002,")
    )  # a word on 2 of 12 lines
    data = data.replace(",20000,20004,", ",,20004,").replace(",20000,20006,", ",x,20006,")
    before = ledger(service)
    r = upload(c, csrf, "bad.csv", data.encode("gbk"))
    assert r.status_code == 422 and ledger(service) == before
    listed = [
        html.unescape(li)
        for li in re.findall(r"<li>(.*?)</li>", r.text.split('class="import-errors"')[1].split("</details>")[0])
    ]
    assert len(listed) == 12 and "全部错误（12 处）" in r.text
    assert [int(re.match(r"第 (\d+) 行", t).group(1)) for t in listed] == list(range(2, 14))
    assert listed[1] == "第 3 行“标准体积(mL)”列：单元格为空"


INSTITUTE_MAP = """
kind = "verification"
[fields.flow_ml_per_min]
columns = ["流量(L/min)"]
unit = "L/min"
[fields.standard_ml]
columns = ["标准器示值(L)"]
unit = "L"
"""


def test_an_institutes_file_with_its_own_column_map(console) -> None:
    service, app = console
    c, csrf = client(service, app, "inspector")
    c.get("/console/register?lang=zh")
    recs = records(service, 7)
    header = [COLUMNS[f][0] for f in (*RECORD_FIELDS, *RUN_FIELDS)]
    header[8], header[9] = "流量(L/min)", "标准器示值(L)"
    wb = openpyxl.Workbook()
    wb.active.append(header)
    for rec in recs:
        for run in rec["runs"]:
            cells = [rec[f] for f in RECORD_FIELDS] + [run[f] for f in RUN_FIELDS]
            cells[8], cells[9] = run["flow_ml_per_min"] / 1000, run["standard_ml"] / 1000
            wb.active.append(cells)
    out = io.BytesIO()
    wb.save(out)
    before = ledger(service)
    files = {"file": ("检定.xlsx", out.getvalue(), "application/octet-stream")}
    r = c.post("/console/register/import", data={"csrf": csrf}, files=files)
    assert r.status_code == 422 and "单位不符：该列应写作“流量(mL/min)”" in status(r)  # without its map
    files["map"] = ("institute.toml", INSTITUTE_MAP.encode(), "application/toml")
    r = c.post("/console/register/import", data={"csrf": csrf}, files=files)
    assert r.status_code == 200, status(r)
    assert ledger(service) == before + 2
    files["map"] = ("bad.toml", b"[fields.volume]\ncolumns = ['x']", "application/toml")
    r = c.post("/console/register/import", data={"csrf": csrf}, files=files)
    assert r.status_code == 422 and status(r).startswith("列映射（TOML）：列映射中的字段“volume”不属于契约")
