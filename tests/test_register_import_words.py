"""The verification CSV's errors in the reader's language (issue 13): every problem of
:mod:`anxin.register.csvfile` and :mod:`anxin.register.importer` is a key of the
``register_import`` table (its cells' problems; the file's, the header's and the
line/column frame are the shared reader's ``tabular`` table: tests/test_tabular_words.py)
and its parameters, worded when read — on the console's
import page in the reader's language, in logs in the process's. The sites are found in
the source (``ast``): each key is in both catalogs with every placeholder given. A bad
file imported through the console names the row, the column and the bad value in
Chinese without an English sentence, and in English without a Chinese character."""

from __future__ import annotations

import ast
import functools
import html
import re
import secrets

import pytest
from fastapi.testclient import TestClient
from sessions_helper import signed_in
from wording import CJK, ENGLISH_SENTENCE, calls, fields, table

from anxin.register import parse_csv
from anxin.register.csvfile import COLUMNS, CONTEXT, errors_text
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate

HEADER = (
    "station_id,nozzle_id,ts,type,org,certificate_no,k_pulses_per_m3,valid_until,"
    "flow_ml_per_min,standard_ml,indicated_ml,standard_temp_mc,dispenser_temp_mc"
)


def _catalog(lang: str) -> dict[str, str]:
    return table(CONTEXT, lang)


@functools.cache
def _sites() -> tuple[tuple[str, str, frozenset[str]], ...]:
    """(where, key, parameters given) of every ``row_problem`` call in the package."""
    out = []
    for rel, node, name in calls():
        where = f"{rel}:{node.lineno}"
        if name == "CsvError":  # its problem is a key, never a sentence
            problem = node.args[2] if len(node.args) > 2 else None
            assert not isinstance(problem, (ast.Constant, ast.JoinedStr, ast.BinOp)), f"{where}: a sentence"
        if name != "row_problem":
            continue
        key = node.args[0]
        assert isinstance(key, ast.Constant) and isinstance(key.value, str), f"{where}: the key is a literal"
        assert all(k.arg is not None for k in node.keywords), f"{where}: parameters by name, no **"
        out.append((where, key.value, frozenset(k.arg for k in node.keywords if k.arg)))
    return tuple(out)


def test_every_key_is_in_both_catalogs_with_its_placeholders_given() -> None:
    sites = _sites()
    assert len(sites) >= 15 and {rel.split(":")[0] for rel, _, _ in sites} == {
        "register/csvfile.py",
        "register/importer.py",
    }, sites
    zh, en = _catalog("zh"), _catalog("en")
    for where, key, given in sites:
        assert key in zh and key in en, f"{where}: {CONTEXT}/{key} missing from a catalog"
        wanted = fields(zh[key]) | fields(en[key])
        assert wanted <= given, f"{where}: {key} needs {sorted(wanted - given)}"
        assert given <= wanted, f"{where}: {key} shows neither of {sorted(given - wanted)}"
    columns = {f"column.{f}" for f in COLUMNS}
    assert set(zh) == set(en) == {key for _, key, _ in sites} | columns  # (none unused)
    for f, names in COLUMNS.items():  # a column by its name in the reader's language
        assert (zh[f"column.{f}"], en[f"column.{f}"]) == (names[0], f)


def test_the_chinese_entries_say_no_english_sentence() -> None:
    for key, words in _catalog("zh").items():
        plain = re.sub(r"\{[^}]*\}", "", words).replace("UTF-8", "").replace("RFC 3339", "")
        assert CJK.search(words) and not ENGLISH_SENTENCE.search(plain), (key, words)
    for key, words in _catalog("en").items():
        assert not CJK.search(words), (key, words)


def test_an_error_reads_in_the_process_language_for_logs(monkeypatch) -> None:
    [err] = parse_csv(
        f"{HEADER}\nS1,N1,2026-03-01 08:00,periodic,X,C1,1000,2027-03-01T08:00:00+08:00,1,1,1,1,1".encode()
    ).errors
    assert (err.line, err.column, err.problem.key) == (2, "ts", "time_no_offset")
    monkeypatch.setenv("ANXIN_LANG", "zh")
    assert err.message == "时间“2026-03-01 08:00”缺少 UTC 偏移（如 +08:00）"
    monkeypatch.setenv("ANXIN_LANG", "en")
    assert err.message == "timestamp '2026-03-01 08:00' has no UTC offset (such as +08:00)"
    assert err.text("zh") == "第 2 行“ts”列：时间“2026-03-01 08:00”缺少 UTC 偏移（如 +08:00）"


def test_many_errors_are_cut_with_how_many_more() -> None:
    rows = [f"S1,N{i},x,periodic,X,C{i},1000,2027-03-01T08:00:00+08:00,1,1,1,1,1" for i in range(25)]
    errors = parse_csv("\n".join([HEADER, *rows]).encode()).errors
    assert len(errors) == 25
    zh, en = errors_text(errors, "zh"), errors_text(errors, "en")
    assert zh.count("；") == 20 and zh.endswith("……另有 5 处错误") and zh.startswith("第 2 行“ts”列：不是")
    assert en.count("; ") == 20 and en.endswith("… and 5 more") and en.startswith("line 2, column ts: not an RFC")


# ------------------------------------------------------------------ the console's import page
@pytest.fixture(scope="module")
def console(tmp_path_factory):
    root = tmp_path_factory.mktemp("register-import")
    simulate(root / "city", stations=1, days=1, seed=3, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    _, service, app = build(
        db=str(root / "db.sqlite"),
        registry=root / "city" / "registry.json",
        admin_token="admin-token-0123456789",
        cookie_secure=False,  # TestClient speaks plain HTTP
    )
    return service, app


def _signed_in(service, app, lang: str) -> tuple[TestClient, str]:
    """A regulator's session (tests/sessions_helper.py) reading the console in ``lang``
    (the register page sets the language cookie the import's answer is worded in)."""
    c = TestClient(app)
    csrf = signed_in(c, service.store, f"zhang-{secrets.token_hex(4)}", "regulator")
    assert c.get(f"/console/register?lang={lang}").status_code == 200
    return c, csrf


def _bad_csv(nozzle: str, station: str) -> bytes:
    """Line 2: a standard volume that is no number; line 3: a nozzle not registered."""
    tail = "periodic,Institute,{cert},1000,2027-03-01T08:00:00+08:00,40000,{std},20010,20000,20000"
    rows = [
        f"{station},{nozzle},2026-03-01T08:00:00+08:00," + tail.format(cert="C1", std="20 OOO"),
        f"{station},S0001-D9-N9,2026-03-02T08:00:00+08:00," + tail.format(cert="C2", std="20000"),
    ]
    return "\n".join([HEADER, *rows]).encode()


def _status(c: TestClient, csrf: str, data: bytes) -> str:
    r = c.post("/console/register/import", data={"csrf": csrf}, files={"file": ("bad.csv", data, "text/csv")})
    assert r.status_code == 422, r.text[:500]
    return html.unescape(re.search(r'<div role="status" class="error">(.*?)</div>', r.text, re.S).group(1))


def test_a_bad_file_on_the_console_in_chinese(console) -> None:
    service, app = console
    n = service.registry.nozzles[0]
    c, csrf = _signed_in(service, app, "zh")
    text = _status(c, csrf, _bad_csv(n.nozzle_id, n.station_id))
    assert text == "第 2 行“standard_ml”列：不是数字：“20 OOO”；第 3 行“nozzle_id”列：证书 C2：油枪“S0001-D9-N9”未登记"
    data = re.sub(r"standard_ml|nozzle_id|S0001-D9-N9|20 OOO|C2", "", text)
    assert not ENGLISH_SENTENCE.search(data) and "None" not in text, text


def test_a_bad_file_on_the_console_in_english(console) -> None:
    service, app = console
    n = service.registry.nozzles[0]
    c, csrf = _signed_in(service, app, "en")
    text = _status(c, csrf, _bad_csv(n.nozzle_id, n.station_id))
    assert text == (
        "line 2, column standard_ml: not a number: '20 OOO'; "
        "line 3, column nozzle_id: certificate C2: nozzle 'S0001-D9-N9' is not registered"
    )
    assert not CJK.search(text)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_file_before_the_platform_has_a_registry_is_refused_in_words(tmp_path, lang: str) -> None:
    """A new platform (no station registry loaded yet) cannot check a verification's
    station and nozzle: the import is refused with a page that says why, not a 500."""
    _, service, app = build(db=str(tmp_path / "db.sqlite"), admin_token="admin-token-0123456789", cookie_secure=False)
    assert service.registry is None
    c, csrf = _signed_in(service, app, lang)
    r = c.post(
        "/console/register/import", data={"csrf": csrf}, files={"file": ("a.csv", _bad_csv("N", "S"), "text/csv")}
    )
    assert r.status_code == 409, r.text[:500]
    text = html.unescape(re.search(r'<div role="status" class="error">(.*?)</div>', r.text, re.S).group(1))
    assert text == table("console", lang)["csv_no_registry"]
    assert bool(CJK.search(text)) == (lang == "zh")
