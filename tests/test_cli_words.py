"""What the command line says, through the catalogs (issue 13): the demo's live view and
its lines (table ``demo``), the simulation's evaluation (``evaluation``). The sites are
found in the source (``ast``), not listed by hand: each key is in both catalogs with every
placeholder given; each table's Chinese has no English sentence, its English no Chinese
character; the live view renders in one language at a time."""

from __future__ import annotations

import ast
import functools
import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from wording import CJK, ENGLISH_SENTENCE, catalog, fields, tree

from anxin.contract.alarm import Alarm
from anxin.i18n.language import language_scope

# What a Chinese text shows as it is: a product's and a key's name, a URL's placeholder.
DATA = re.compile(r"SQLite|Ctrl-C|\{\w+\}")

# (module, helper) → the table its keys are in; the helper's positional arguments after
# the key (the language) are not parameters.
HELPERS = {
    ("demo/live.py", "_t"): "demo",
    ("sim/evaluate.py", "_l"): "evaluation",
}
TABLES = set(HELPERS.values())


def _catalog(lang: str) -> dict[tuple[str, str], str]:
    return catalog(lang, TABLES)


@functools.cache
def _sites() -> tuple[tuple[str, str, str, frozenset[str]], ...]:
    """(where, table, key, parameters given) of every call of a helper above."""
    out = []
    for (rel, helper), ctx in HELPERS.items():
        for node in ast.walk(tree(rel)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == helper):
                continue
            where = f"{rel}:{node.lineno}"
            key = node.args[0]
            if isinstance(key, ast.IfExp):  # "same" if … else "differ": both keys
                keys = [key.body, key.orelse]
            else:
                keys = [key]
            assert all(k.arg is not None for k in node.keywords), f"{where}: parameters by name, no **"
            given = frozenset(k.arg for k in node.keywords if k.arg)
            for k in keys:
                if isinstance(k, ast.Name):  # a loop's key: the loop's literals are checked below
                    continue
                assert isinstance(k, ast.Constant) and isinstance(k.value, str), f"{where}: the key is a literal"
                out.append((where, ctx, k.value, given))
    return tuple(out)


def test_the_sites_are_found() -> None:
    count = {ctx: sum(s[1] == ctx for s in _sites()) for ctx in TABLES}
    assert count["demo"] >= 20 and count["evaluation"] >= 5, count


def test_every_key_is_in_both_catalogs_with_its_placeholders_given() -> None:
    zh, en = _catalog("zh"), _catalog("en")
    for where, ctx, key, given in _sites():
        assert (ctx, key) in zh and (ctx, key) in en, f"{where}: {ctx}/{key} missing from a catalog"
        wanted = fields(zh[ctx, key]) | fields(en[ctx, key])
        assert wanted == given, f"{where}: {ctx}/{key} wants {sorted(wanted)}, given {sorted(given)}"
    # the evaluation's columns and levels are keys in a loop: each is there too
    for key in ("rule", "level", "injected", "detected", "recall", "alarms", "false", "record", "stat", "none"):
        assert ("evaluation", key) in zh and ("evaluation", key) in en, key


@pytest.mark.parametrize("ctx", sorted(TABLES))
def test_each_language_speaks_alone(ctx: str) -> None:
    zh, en = _catalog("zh"), _catalog("en")
    keys = [k for k in zh if k[0] == ctx]
    assert keys
    for k in keys:
        assert not ENGLISH_SENTENCE.search(DATA.sub(" ", zh[k])), (k, zh[k])
        assert not CJK.search(en[k]), (k, en[k])


def _alarm() -> Alarm:
    return Alarm(
        alarm_id="a1",
        rule="VOLUME_MISMATCH",
        severity="major",
        station_id="S0001",
        nozzle_id="S0001-D1-N1",
        order_id="O1",
        ts="2026-03-01T12:00:00.000+08:00",
        message="volume mismatch",
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_live_view_speaks_one_language(lang: str) -> None:
    from anxin.demo.live import LiveView

    view = LiveView(3)
    view.clock, view.records = "2026-03-01 12:00:00", 1234
    view.add(_alarm())
    buf = io.StringIO()
    with language_scope(lang):
        Console(file=buf, width=200).print(view.render())
    text = buf.getvalue()
    if lang == "zh":
        assert "模拟时钟" in text and "实时报警" in text and "油量不符" in text
        assert not ENGLISH_SENTENCE.search(text), text
    else:
        assert "Sim clock" in text and "Live alarms" in text and "Volume mismatch" in text
        assert not CJK.search(text), text
    assert "VOLUME_MISMATCH" not in text  # the rule by its name, never its code


def test_a_rule_is_named_in_one_language_without_its_code() -> None:
    """``rule_name`` (the live view's and ``anxin check``'s tables): the name alone, in the
    language asked for, else the process's — no command takes a rule code as input."""
    from anxin.i18n import RULE_NAMES_ZH, rule_name

    assert len(RULE_NAMES_ZH) >= 10
    for code in RULE_NAMES_ZH:
        zh, en = rule_name(code, "zh"), rule_name(code, "en")
        assert CJK.search(zh) and not ENGLISH_SENTENCE.search(zh) and not re.search(r"[A-Z]+_[A-Z]", zh), zh
        assert not CJK.search(en) and en != code and code not in en, en
        with language_scope("en"):
            assert rule_name(code) == en
        with language_scope("zh"):
            assert rule_name(code) == zh


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_demo_speaks_one_language(tmp_path: Path, lang: str) -> None:
    """``anxin demo`` end to end (no pacing): every line it prints in the language asked
    for — the simulation, the live view, the comparison, the evaluation, where the data is."""
    from anxin.demo.live import run_demo

    out = tmp_path / "console.txt"
    with out.open("w") as f, language_scope(lang):
        result = run_demo(out=tmp_path / "d", stations=2, days=1, seed=5, speed=0, console=Console(file=f, width=200))
    assert result.batch_equals_live
    text = out.read_text()
    paths = re.compile(r"/\S+")  # the data's paths, shown as they are
    if lang == "zh":
        assert "模拟 2 座加油站" in text and "批量比对与实时比对结果一致" in text and "数据位置" in text
        assert not ENGLISH_SENTENCE.search(DATA.sub(" ", paths.sub(" ", text))), text
    else:
        assert "Simulating 2 stations" in text and "Batch and live raised the same alarms" in text
        assert "Where the data is" in text and "Evaluation against the simulated truth" in text
        assert not CJK.search(text), text


# ---------------------------------------------------------------- the operator's errors
# (issue 13): a configuration that cannot be used (ConfigError) and a registry that
# cannot (RegistryError) name what is wrong in the operator's language; the admin API's
# answer stays English. Their keys are found in the source like the helpers' above.
ERRORS = {"RegistryError": "registry_error", "ConfigError": "config_error"}
ERROR_MODULES = ("contract/registry.py", "serve/config.py", "keyed.py")
ERROR_TABLES = {"registry_error", "config_error", "os_error"}


def _error_catalog(lang: str) -> dict[tuple[str, str], str]:
    return catalog(lang, ERROR_TABLES)


@functools.cache
def _error_sites() -> tuple[tuple[str, str, str, frozenset[str]], ...]:
    """(where, table, key, parameters given) of every error raised and every message made
    (``Message(ctx=…, key=…, params={…})``) in the modules above."""
    out = []
    for rel in ERROR_MODULES:
        for node in ast.walk(tree(rel)):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            where = f"{rel}:{node.lineno}"
            if node.func.id in ERRORS:
                key = node.args[0]
                assert isinstance(key, ast.Constant), f"{where}: the key is a literal"
                assert all(k.arg for k in node.keywords), f"{where}: parameters by name"
                out.append((where, ERRORS[node.func.id], key.value, frozenset(k.arg for k in node.keywords if k.arg)))
            elif node.func.id == "Message":
                kw = {k.arg: k.value for k in node.keywords}
                ctx, key, params = kw["ctx"], kw["key"], kw.get("params")
                if not (isinstance(ctx, ast.Constant) and isinstance(key, ast.Constant)):
                    continue  # os_reason's key: checked by calling it below
                given = frozenset() if params is None else frozenset(k.value for k in params.keys)  # type: ignore[union-attr]
                out.append((where, ctx.value, key.value, given))
    return tuple(out)


def test_the_error_sites_are_found() -> None:
    count = {ctx: sum(s[1] == ctx for s in _error_sites()) for ctx in ERROR_TABLES}
    assert count["registry_error"] >= 18 and count["config_error"] >= 7 and count["os_error"] >= 1, count


def test_every_error_key_is_in_both_catalogs_with_its_placeholders_given() -> None:
    zh, en = _error_catalog("zh"), _error_catalog("en")
    for where, ctx, key, given in _error_sites():
        assert (ctx, key) in zh and (ctx, key) in en, f"{where}: {ctx}/{key} missing from a catalog"
        wanted = fields(zh[ctx, key]) | fields(en[ctx, key])
        assert wanted == given, f"{where}: {ctx}/{key} wants {sorted(wanted)}, given {sorted(given)}"


def test_a_file_that_cannot_be_read_says_why_in_words() -> None:
    import errno

    from anxin.keyed import os_reason

    zh, en = _error_catalog("zh"), _error_catalog("en")
    cases = {
        errno.ENOENT: ("文件不存在", "No such file or directory"),
        errno.EACCES: ("没有读取权限", "Permission denied"),
        errno.EISDIR: ("这是一个目录，不是文件", "Is a directory"),
        errno.EIO: ("系统拒绝读取", "Input/output error"),
    }
    for code, (chinese, english) in cases.items():
        said = os_reason(OSError(code, __import__("os").strerror(code)))
        assert ("os_error", said.key) in zh and ("os_error", said.key) in en
        assert said.text("zh") == chinese and said.text("en") == english
    bad = os_reason(UnicodeDecodeError("utf-8", b"\x80", 0, 1, "invalid start byte"))
    assert bad.text("zh") == "不是 UTF-8 编码的文本" and bad.text("en") == "not UTF-8 text"


# What a Chinese error shows as it is: a path, a JSON path or field, a key of the file.
ERROR_DATA = re.compile(r"/\S+|\$[\w.\[\]]*|\b[a-z]+(?:_[a-z0-9]+)+\b|\bTOML\b|\bJSON\b|\bUTF-8\b")


def _one_language(zh: str, en: str) -> None:
    assert CJK.search(zh) and not ENGLISH_SENTENCE.search(ERROR_DATA.sub(" ", zh)), zh
    assert not CJK.search(en), en


def _config_error(tmp_path: Path, body: str | bytes | None, **overrides: object) -> ValueError:
    from anxin.serve.config import load_config

    path = tmp_path / "anxin.toml"
    if isinstance(body, bytes):
        path.write_bytes(body)
    elif body is not None:
        path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError) as exc:
        load_config(path, **overrides)
    return exc.value


@pytest.mark.parametrize(
    ("body", "zh", "en"),
    [
        (None, "无法读取：文件不存在", ": No such file or directory"),
        (b"port = '\xff'", "无法读取：不是 UTF-8 编码的文本", ": not UTF-8 text"),
        ("port = ", "不是有效的 TOML（在文件末尾）", ": Invalid value (at end of document)"),
        ("port = 1\n[x\n", "不是有效的 TOML（第 2 行第 3 列）", "(at line 2, column 3)"),
        ("port = 'eighty'", "配置项 port 的值无效", "Expected `int`, got `str` - at `$.port`"),
        ("bogus = 1", "没有名为 bogus 的配置项", "unknown field `bogus`"),
    ],
)
def test_a_configuration_that_cannot_be_used_is_named(tmp_path: Path, body, zh: str, en: str) -> None:
    from anxin.serve.config import ConfigError

    exc = _config_error(tmp_path, body)
    assert isinstance(exc, ConfigError)
    assert zh in exc.text("zh") and en in exc.text("en"), (exc.text("zh"), exc.text("en"))
    _one_language(exc.text("zh"), exc.text("en"))
    with language_scope("en"):
        assert str(exc) == exc.text("en")  # str(): the operator's language


@pytest.mark.parametrize(
    ("mutate", "zh", "en"),
    [
        (lambda r: r["nozzles"][1].update(station_id="S9"), "加油站 S9 未登记", "unknown station_id 'S9'"),
        (lambda r: r["nozzles"][1].update(tank_id="T9"), "油罐 T9 未登记", "unknown tank_id 'T9'"),
        (lambda r: r["tanks"][0].update(chart=[[0, 0]]), "容积表至少需要 2 个点", "chart needs at least 2 points"),
        (lambda r: r["tanks"][0].update(chart=[[0, 0], [10, 5], [5, 10]]), "第 2 个点处不是严格递增", "point 2"),
        (lambda r: r["nozzles"].append(dict(r["nozzles"][0])), "nozzle_id 重复", "duplicate nozzle_id"),
        (lambda r: r["nozzles"][0].update(public_key="AAAA"), "nozzles[0]（S1-N1）：", "nozzles[0] (S1-N1): "),
        (lambda r: r["nozzles"][0].update(k_pulses_per_m3=0), "K 系数与最大流量必须大于 0", "must be > 0"),
        (lambda r: r["prices"][0].update(unit_price_fen=0), "prices[0]：单价必须大于 0", "unit_price_fen must be > 0"),
        (lambda r: r["stations"][0].update(hours=["08:00", "08:00"]), "开始与结束相同", "open and close at the same"),
        (lambda r: r.pop("stations"), "$ 缺少必填字段 stations", "missing required field `stations`"),
        (lambda r: r["stations"][0].update(lat="x"), "$.stations[0].lat 处的内容不符合", "Expected `float`"),
    ],
)
def test_a_registry_that_cannot_be_used_is_named(mutate, zh: str, en: str) -> None:
    import msgspec
    from factory import City

    from anxin.contract.registry import RegistryError, parse_registry

    reg = City().registry_dict()
    mutate(reg)
    with pytest.raises(RegistryError) as exc:
        parse_registry(msgspec.json.encode(reg))
    said_zh, said_en = exc.value.text("zh"), exc.value.text("en")
    assert said_zh.startswith("registry.json：") and said_en.startswith("registry.json: ")
    assert zh in said_zh and en in said_en, (said_zh, said_en)
    _one_language(said_zh, said_en)


def test_the_operator_reads_a_registry_error_in_the_commands_language(tmp_path: Path) -> None:
    """``anxin check`` on a broken registry: one line, in the language asked for."""
    from typer.testing import CliRunner

    from anxin.cli import app

    (tmp_path / "registry.json").write_bytes(b"{")
    (tmp_path / "a.jsonl").write_bytes(b"")
    for lang, said in (("zh", "registry.json：不是有效的 JSON 文档"), ("en", "registry.json: not valid JSON")):
        res = CliRunner().invoke(app, ["check", str(tmp_path), "--out", str(tmp_path / "out"), "--lang", lang])
        assert res.exit_code == 2 and said in res.output, res.output


def test_the_admin_api_refuses_a_registry_in_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin API's answer is the contract's English whatever the process speaks."""
    import msgspec
    from factory import City
    from fastapi.testclient import TestClient

    from anxin.ingest.service import IngestService
    from anxin.serve.app import create_app
    from anxin.serve.config import ServeConfig
    from anxin.store.database import Store

    service = IngestService(Store(str(tmp_path / "a.sqlite")))
    app = create_app(ServeConfig(admin_token="t" * 32, console=False, reports_every_s=0, clock_every_s=0), service)
    reg = City().registry_dict()
    reg["nozzles"][1]["station_id"] = "S9"
    monkeypatch.setenv("ANXIN_LANG", "zh")  # the process speaks Chinese
    with TestClient(app) as c:
        r = c.put(
            "/v1/registry",
            content=msgspec.json.encode(reg),
            headers={"Authorization": f"Bearer {'t' * 32}"},
            params={"reason": "test"},
        )
    assert r.status_code == 422, r.text
    assert "unknown station_id 'S9'" in r.json()["detail"] and not CJK.search(r.text)


@pytest.mark.parametrize(("lang", "said"), [("zh", "：文件不存在"), ("en", ": No such file or directory")])
def test_a_secret_file_that_cannot_be_read_says_why_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str, said: str
) -> None:
    from anxin.serve.config import load_config

    monkeypatch.setenv("ANXIN_LANG", lang)
    monkeypatch.setenv("ANXIN_ADMIN_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError) as exc:
        load_config()
    assert str(exc.value) == f"ANXIN_ADMIN_TOKEN_FILE={tmp_path / 'absent'}{said}"


def test_serve_ends_with_one_line_on_a_registry_it_cannot_use(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anxin.cli import app

    (tmp_path / "bad.json").write_bytes(b"{")
    args = ["serve", "--db", str(tmp_path / "a.sqlite"), "--registry", str(tmp_path / "bad.json")]
    for lang, said in (("zh", "registry：不是有效的 JSON 文档"), ("en", "registry: not valid JSON")):
        res = CliRunner().invoke(app, [*args, "--lang", lang])
        assert res.exit_code == 2 and said in res.output and "Traceback" not in res.output, res.output


@pytest.mark.parametrize(
    ("env", "zh", "en"),
    [
        (
            {"ANXIN_SIGNING_KEY": "rsa:abcd"},
            "签名私钥应为 PEM 格式的 Ed25519 私钥",
            "the signing key must be a PEM Ed25519 key",
        ),
        ({"ANXIN_SIGNING_KEY_FILE": "/nonexistent/signing.pem"}, "：文件不存在", ": No such file or directory"),
    ],
)
def test_a_signing_key_that_cannot_be_read_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], zh: str, en: str
) -> None:
    """/v1/platform/keys never answers with a server error for the configured key: the key
    is read when the service starts, and one that cannot be read stops the start with one
    line in the operator's language (there is no service whose keys page could fail)."""
    from typer.testing import CliRunner

    from anxin.cli import app

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for lang, said in (("zh", zh), ("en", en)):
        res = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "a.sqlite"), "--lang", lang])
        assert res.exit_code == 2 and said in res.output and "Traceback" not in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1, res.output
