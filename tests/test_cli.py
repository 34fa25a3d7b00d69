"""The command line's conventions, through its real entry point (``anxin.cli.app``):
the version, validated --log/--lang (global and per command), secrets from the
environment and *_FILE, evaluate naming what is missing, simulate's table, the demo
outside a terminal, help texts in the process's one language (the catalogs' ``cli`` table)
and readable at 80 columns, completion, and
the minimal install (nothing of the server extra imported by the batch commands)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import anxin
from anxin.cli import LAZY_COMMANDS, app
from anxin.cli_common import EXTRA_OF_MODULE

runner = CliRunner()


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.setenv("ANXIN_LANG", "zh")  # (restored afterwards: --lang writes it)
    monkeypatch.delenv("ANXIN_LOG", raising=False)


def run(*args: str, **kw):
    return runner.invoke(app, list(args), **kw)


def test_version_is_the_package_version() -> None:
    res = run("--version")
    assert res.exit_code == 0 and res.output == f"anxin {anxin.__version__}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--log", "foo", "schema", "--out", "x"],
        ["--lang", "fr", "schema", "--out", "x"],
        ["schema", "--lang", "fr", "--out", "x"],
        ["demo", "--lang", "de"],
    ],
)
def test_bad_log_or_lang_is_a_usage_error(args: list[str], tmp_path: Path) -> None:
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    assert ("'foo'" in res.output) or ("'fr'" in res.output) or ("'de'" in res.output)
    assert not (tmp_path / "x").exists()


def test_log_level_from_the_environment_is_validated_too(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANXIN_LOG", "loud")
    res = run("schema", "--out", str(tmp_path / "x"))
    assert res.exit_code == 2 and "ANXIN_LOG" in res.output and not (tmp_path / "x").exists()


def test_lang_is_one_option_global_or_on_the_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    zh = run("evaluate", missing, missing)
    assert zh.exit_code == 2 and "数据目录不存在" in zh.output, zh.output
    for args in (["--lang", "en", "evaluate", missing, missing], ["evaluate", missing, missing, "--lang", "en"]):
        os.environ["ANXIN_LANG"] = "zh"
        res = run(*args)
        assert res.exit_code == 2 and "the data directory does not exist" in res.output, (args, res.output)
    os.environ["ANXIN_LANG"] = "zh"
    res = run("--lang", "en", "evaluate", missing, missing, "--lang", "zh")  # the command's wins
    assert "数据目录不存在" in res.output


# ------------------------------------------------------------------ evaluate, simulate
@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, Path, str]:
    """A one-station city through the real commands, and its check."""
    root = tmp_path_factory.mktemp("cli")
    data, check = root / "city", root / "city.check"
    res = CliRunner().invoke(app, ["simulate", str(data), "--stations", "1", "--days", "1", "--workers", "1"])
    assert res.exit_code == 0, res.output
    simulated = res.output
    res = CliRunner().invoke(app, ["check", str(data), "--out", str(check), "--workers", "0"])
    assert res.exit_code == 0, res.output
    return data, check, simulated


def test_simulate_prints_its_summary_as_a_table(city) -> None:
    out = city[2]
    assert "SimSummary" not in out and "faults=" not in out
    assert "模拟城市" in out and "加油站" in out and "注入的作弊与故障" in out and "rigged_inflate" in out
    assert "┃" in out or "│" in out  # a table


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_check_names_its_alarms_rules_in_the_commands_language(city, tmp_path: Path, lang: str) -> None:
    """The summary's alarms per rule: each rule by its name in the language asked for,
    never its code (no command takes a rule code as input)."""
    from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH

    res = CliRunner().invoke(
        app, ["check", str(city[0]), "--out", str(tmp_path / "c"), "--workers", "0", "--lang", lang]
    )
    assert res.exit_code == 0, res.output
    names = (RULE_NAMES_ZH if lang == "zh" else RULE_NAMES_EN).values()
    assert any(name in res.output for name in names), res.output
    assert not [code for code in RULE_NAMES_ZH if code in res.output], res.output


def test_evaluate_names_what_is_missing(city, tmp_path: Path) -> None:
    data, check, _ = city
    res = run("evaluate", str(data), str(check))
    assert res.exit_code in (0, 1) and "✓" in res.output, res.output  # the real thing works

    def fails(d: Path, c: Path, *expect: str) -> None:
        res = run("evaluate", str(d), str(c))
        assert res.exit_code == 2, res.output
        assert len(res.output.strip().splitlines()) == 1, res.output
        for e in expect:
            assert e in res.output, (e, res.output)

    fails(tmp_path / "none", check, "数据目录不存在", "none")
    (tmp_path / "empty").mkdir()
    fails(tmp_path / "empty", check, "数据目录中缺少 registry.json")
    fails(data, tmp_path / "nocheck", "比对结果目录不存在", "nocheck")
    (tmp_path / "emptycheck").mkdir()
    fails(data, tmp_path / "emptycheck", "比对结果目录中缺少 alarms.jsonl")
    other = tmp_path / "other"  # data without a truth beside it (not simulated)
    other.mkdir()
    (other / "registry.json").write_bytes((data / "registry.json").read_bytes())
    (other / "a.jsonl").write_bytes(b"")
    fails(other, check, "真值目录不存在", "other.truth")
    (tmp_path / "other.truth").mkdir()
    fails(other, check, "真值目录中缺少 faults.jsonl")
    res = run("--lang", "en", "evaluate", str(other), str(check))
    assert res.exit_code == 2 and "the ground truth has no faults.jsonl" in res.output


def test_demo_outside_a_terminal_says_how_to_get_the_console(tmp_path: Path) -> None:
    res = run("demo", "--out", str(tmp_path / "d"), "--stations", "1", "--days", "1", "--speed", "0", "--lang", "en")
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert "not a terminal" in first and "--serve" in first
    assert "Batch and live raised the same alarms" in res.output


# ------------------------------------------------------------------ secrets, serve
def test_secrets_from_files(tmp_path: Path, monkeypatch) -> None:
    from anxin.serve.config import load_config

    f = tmp_path / "admin_token"
    f.write_text("  s3cret-from-a-file\n")
    monkeypatch.setenv("ANXIN_ADMIN_TOKEN_FILE", str(f))
    monkeypatch.setenv("ANXIN_READ_TOKEN", "reader")
    cfg = load_config()
    assert cfg.admin_token == "s3cret-from-a-file" and cfg.read_token == "reader"
    monkeypatch.setenv("ANXIN_ADMIN_TOKEN", "other")
    with pytest.raises(ValueError, match="ANXIN_ADMIN_TOKEN_FILE"):
        load_config()
    monkeypatch.delenv("ANXIN_ADMIN_TOKEN")
    f.write_text("\n")
    with pytest.raises(ValueError, match="ANXIN_ADMIN_TOKEN_FILE"):
        load_config()
    monkeypatch.setenv("ANXIN_ADMIN_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="missing"):
        load_config()
    monkeypatch.delenv("ANXIN_ADMIN_TOKEN_FILE")
    db = tmp_path / "db-url"
    db.write_text(str(tmp_path / "from-file.sqlite"))
    monkeypatch.setenv("ANXIN_DB_FILE", str(db))
    assert load_config().db == str(tmp_path / "from-file.sqlite")


@pytest.fixture
def served(monkeypatch):
    """``anxin serve`` up to the point where it would listen: what uvicorn.run was given."""
    import uvicorn

    calls: list[tuple] = []
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kw: calls.append((app_, kw)))
    return calls


def test_serve_reads_its_secret_from_the_environment_or_a_file(served, tmp_path: Path, monkeypatch) -> None:
    db = str(tmp_path / "serve.sqlite")
    monkeypatch.setenv("ANXIN_ADMIN_TOKEN", "from-env")
    res = run("serve", "--db", db, "--port", "18080")
    assert res.exit_code == 0, res.output
    app_, kw = served[-1]
    assert app_.state.config.admin_token == "from-env" and kw["port"] == 18080
    assert kw["proxy_headers"] is False  # no proxy is believed unless one is named (issue 11)
    monkeypatch.delenv("ANXIN_ADMIN_TOKEN")
    token_file = tmp_path / "t"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("ANXIN_ADMIN_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("ANXIN_FORWARDED_ALLOW_IPS", "10.0.0.5")
    res = run("serve", "--db", db)
    assert res.exit_code == 0, res.output
    app_, kw = served[-1]
    assert app_.state.config.admin_token == "from-file" and kw["forwarded_allow_ips"] == "10.0.0.5"
    assert kw["proxy_headers"] is True
    monkeypatch.setenv("ANXIN_ADMIN_TOKEN", "both")
    res = run("serve", "--db", db)
    assert res.exit_code == 2 and "ANXIN_ADMIN_TOKEN_FILE" in res.output and len(served) == 2


def test_serve_never_prints_a_database_password(served, monkeypatch) -> None:
    from anxin.store.urls import display_url

    assert display_url("postgresql://anxin:hunter2@db:5432/anxin") == "postgresql://anxin:***@db:5432/anxin"
    assert display_url("postgresql+psycopg://anxin:hunter2@db/anxin") == "postgresql://anxin:***@db/anxin"
    assert display_url("data/x.sqlite") == "data/x.sqlite"
    res = run("serve", "--db", "postgresql://anxin:hunter2@127.0.0.1:1/anxin")
    assert res.exit_code == 2 and "hunter2" not in res.output and "***" in res.output
    assert not served


# ------------------------------------------------------------------ help
def _commands(cmd, path=()):
    """Every visible command below the root, resolved (the lazy ones imported)."""
    ctx = cmd.context_class(cmd, info_name="anxin")
    for name in cmd.list_commands(ctx):
        sub = cmd.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        yield (*path, name), sub
        if hasattr(sub, "commands"):
            yield from _commands(sub, (*path, name))


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Three English words in a row: a sentence, not a name (SQLite, WGS 84, pg_dump -Fc, an
# option, a command such as anxin db upgrade, a value's word such as TEXT or PATH)
_ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b")
_NAMES = re.compile(r"\banxin(?: [a-z][a-z-]*)*|--[\w-]+|\b[A-Z][A-Z0-9_]+\b")


def english_sentence(text: str) -> str | None:
    found = _ENGLISH_RUN.search(_NAMES.sub(" ", text))
    return found.group() if found else None


def _texts(language: str, monkeypatch) -> list[tuple[tuple[str, ...], str, str]]:
    """(command path, what, text) of every help text below the root, in ``language``."""
    monkeypatch.setenv("ANXIN_LANG", language)
    root = typer.main.get_command(app)
    root.get_params(root.context_class(root))
    found = list(_commands(root))
    assert {p[0] for p, _ in found} >= {"check", "serve", "db", "ledger", "user", "audit", "report", "edge", "bundle"}
    out = []
    for path, cmd in [((), root), *found]:
        ctx = cmd.context_class(cmd, info_name=path[-1] if path else "anxin")
        out += [(path, "command", cmd.help), *((path, "epilog", cmd.epilog) for _ in [0] if cmd.epilog)]
        out += [
            (path, p.name, p.help) for p in [*cmd.params, cmd.get_help_option(ctx)] if not getattr(p, "hidden", False)
        ]
    return out


def test_every_help_text_is_chinese_in_chinese(monkeypatch) -> None:
    for path, what, text in _texts("zh", monkeypatch):
        assert text and CJK.search(text), (path, what, text)
        assert not english_sentence(text), (path, what, text)


def test_every_help_text_is_english_in_english(monkeypatch) -> None:
    for path, what, text in _texts("en", monkeypatch):
        assert text and re.search(r"[A-Za-z]{3,}", text), (path, what, text)
        assert not CJK.search(text), (path, what, text)


def test_the_help_texts_are_the_catalogs_cli_table_and_all_of_it(monkeypatch) -> None:
    """Every key the commands name is in both catalogs, and every key of the table is used
    (by a command or option, or as Typer's own words)."""
    from anxin.cli_help import _OWN_OPTIONS, _TYPER_WORDS, _USAGE_WORDS, CONTEXT
    from anxin.i18n.po import parse_po, po_path

    root = typer.main.get_command(app)
    root.get_params(root.context_class(root))
    used = set()
    for path, cmd in [((), root), *_commands(root)]:
        ctx = cmd.context_class(cmd, info_name=path[-1] if path else "anxin")
        params = [*cmd.params, cmd.get_help_option(ctx)]
        for declared in (*cmd._anxin_declared, *(p._anxin_declared for p in params if p is not None)):
            if declared is not None:
                assert declared.startswith("cli:"), (path, declared)  # no words written in code
                used.add(declared.removeprefix("cli:"))
    hidden = root.get_command(root.context_class(root), "db-upgrade")
    used.add(hidden._anxin_declared[0].removeprefix("cli:"))
    src = Path(anxin.__file__).parent
    named = {k for f in src.rglob("*.py") for k in re.findall(r"""\bh\(["']([^"']+)["']\)""", f.read_text())}
    named |= {*_OWN_OPTIONS.values(), *_TYPER_WORDS.values(), *_USAGE_WORDS.values()}
    assert used <= named
    for language in ("zh", "en"):
        keys = {m for c, m, _ in parse_po(po_path(language).read_text(encoding="utf-8")) if c == CONTEXT}
        assert named <= keys, (language, named - keys)
        assert keys <= named, (language, keys - named)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--lang", "en", "serve"), {}),
        (("serve", "--lang", "en"), {}),
        (("serve",), {"ANXIN_LANG": "en"}),
        (("serve",), {"ANXIN_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}),
        (("--lang", "zh", "serve", "--lang", "en"), {"ANXIN_LANG": "zh"}),  # the command's wins
    ],
)
def test_help_in_english_when_the_process_speaks_english(args, env) -> None:
    out = run(*args, "--help", env={"COLUMNS": "80", **env}).output
    assert "The live service" in out and "Show this message and exit." in out and "Options" in out
    assert not CJK.search(out), out


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("serve",), {}),
        (("--lang", "en", "serve", "--lang", "zh"), {}),
        (("serve",), {"ANXIN_LANG": "", "LC_ALL": "C.UTF-8", "LANG": "en_US.UTF-8"}),  # LC_ALL first
        (("serve",), {"ANXIN_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}),
    ],
)
def test_help_in_chinese_by_default(args, env) -> None:
    out = run(*args, "--help", env={"COLUMNS": "80", **env}).output
    assert "实时服务" in out and "显示帮助并退出" in out and "选项" in out
    assert not english_sentence(re.sub(r"Usage: .*", "", out)), out


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_commands_help_renders_in_one_language(language: str) -> None:
    """The help as printed (Typer's headings and notes included), command by command."""
    root = typer.main.get_command(app)
    root.get_params(root.context_class(root))
    for path, _ in [((), root), *_commands(root)]:
        out = _help("--lang", language, *path)
        if language == "en":
            assert re.match(r"\s*Usage: \S", out) and not CJK.search(out), (path, out)
        else:  # the usage line too (Click's own words replaced): only names and values in Latin letters
            assert re.match(r"\s*用法：\S", out) and "[OPTIONS]" not in out, (path, out)
            shown = re.sub(r"用法：\S+(?: [a-z][a-z-]*)*", "", out)  # (the command's path is its name)
            assert CJK.search(shown) and not english_sentence(shown), (path, out)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_usage_error_in_one_language(language: str) -> None:
    """A mistyped option: the usage line, the hint and the panel's title in the command's
    language (the message itself is Click's English: "No such option")."""
    r = run("--lang", language, "serve", "--nonesuch", env={"COLUMNS": "100"})
    assert r.exit_code == 2
    if language == "zh":
        assert "serve [选项]" in r.output and "用法：" in r.output and "查看帮助" in r.output and "错误" in r.output, (
            r.output
        )
        assert "Usage:" not in r.output and "Try " not in r.output, r.output
    else:
        assert re.search(r"Usage: \S+ serve \[OPTIONS\]", r.output) and "for help" in r.output and "Error" in r.output
        assert not CJK.search(r.output), r.output


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, "zh"),
        (["--lang", "en", "demo"], {}, "en"),
        (["--lang=en", "demo", "--lang", "zh"], {}, "zh"),
        (["--lang", "fr"], {"ANXIN_LANG": "en"}, "en"),  # (the option refuses fr itself)
        (["--", "--lang", "en"], {}, "zh"),
        ([], {"ANXIN_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ([], {"LANG": "en_GB.UTF-8"}, "en"),
        ([], {"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ([], {"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "en"),
        ([], {"LANG": "C.UTF-8"}, "zh"),
    ],
)
def test_the_process_language(argv: list[str], env: dict[str, str], expected: str) -> None:
    from anxin.i18n import process_lang

    assert process_lang(argv, env) == expected


def _help(*args: str) -> str:
    res = run(*args, "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(
    "args", [(), ("serve",), ("check",), ("db",), ("db", "backup"), ("edge", "run"), ("user", "add"), ("simulate",)]
)
def test_help_at_80_columns_has_no_type_placeholders_and_no_cut_words(
    args: tuple[str, ...], language: str, monkeypatch
) -> None:
    monkeypatch.setenv("ANXIN_LANG", language)
    out = _help(*args)
    assert max(len(line) for line in out.splitlines()) <= 80
    for bad in ("<bool>", "<str>", "<int>", "<float>", "<path>", "{", "INT RANGE"):
        assert bad not in out, (bad, out)
    root = typer.main.get_command(app)
    cmd, ctx = root, root.context_class(root, info_name="anxin")
    root.get_params(ctx)
    for name in args:
        cmd = cmd.get_command(ctx, name)
        ctx = cmd.context_class(cmd, info_name=name)
    texts = [cmd.help or "", *(p.help or "" for p in cmd.params)]
    if hasattr(cmd, "commands"):
        texts += [c.help or "" for c in cmd.commands.values()]
    flat = re.sub(r"[\s│╭╮╰╯─]+", " ", out)
    for word in set(re.findall(r"[A-Za-z][A-Za-z0-9_]{3,}", " ".join(texts))):
        assert re.search(rf"(?<![A-Za-z0-9_]){word}(?![A-Za-z0-9_])", flat), (word, out)


def test_the_old_db_upgrade_is_a_hidden_alias(tmp_path: Path) -> None:
    assert "db-upgrade" not in _help()
    res = run("db-upgrade", "--db", str(tmp_path / "a.sqlite"))
    assert res.exit_code == 0 and (tmp_path / "a.sqlite").is_file(), res.output


def test_shell_completion_is_available() -> None:
    assert "--install-completion" in _help() and "--show-completion" in _help()
    anxin_ = [str(Path(sys.executable).with_name("anxin"))]
    env = {**os.environ, "_ANXIN_COMPLETE": "complete_bash", "COMP_WORDS": "anxin db b", "COMP_CWORD": "2"}
    out = subprocess.run(anxin_, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["backup"], out
    env |= {"COMP_WORDS": "anxin d", "COMP_CWORD": "1"}
    out = subprocess.run(anxin_, env=env, capture_output=True, text=True, timeout=60)
    assert sorted(out.stdout.split()) == ["db", "demo"], out


# ------------------------------------------------------------------ the minimal install
SERVER_MODULES = sorted(m for m, extra in EXTRA_OF_MODULE.items() if extra == "server")
RUNNER = textwrap.dedent(
    """
    import importlib.abc, json, sys
    BANNED = {banned!r}
    if sys.argv[1] == "block":  # as if the server extra were not installed
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BANNED:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Block())
    import typer
    from anxin.cli import app
    try:
        code = typer.main.get_command(app).main(sys.argv[2:], prog_name="anxin", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({{"exit": code or 0, "imported": sorted(m for m in BANNED if m in sys.modules)}}))
    """
)


def _run_all(tmp_path: Path, cases: list[tuple[str, list[str]]]) -> list[dict]:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER.format(banned=SERVER_MODULES))
    env = {**os.environ, "ANXIN_LANG": "zh", "COLUMNS": "80"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), mode, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        for mode, args in cases
    ]
    results = []
    for (mode, args), p in zip(cases, procs):
        out, err = p.communicate(timeout=120)
        last = json.loads(out.strip().splitlines()[-1])
        results.append({**last, "args": args, "mode": mode, "stdout": out, "stderr": err})
    return results


def test_the_batch_commands_import_nothing_of_the_server_extra(tmp_path: Path) -> None:
    assert "sqlalchemy" in SERVER_MODULES and "fastapi" in SERVER_MODULES
    assert set(LAZY_COMMANDS) >= {"serve", "db", "user", "report"}
    sim = _run_all(tmp_path, [("watch", ["simulate", "city", "--stations", "1", "--days", "1", "--workers", "1"])])
    cases = [
        ("watch", ["--help"]),
        ("watch", ["--version"]),
        ("watch", ["edge", "--help"]),
        ("watch", ["edge", "status", "--help"]),
        ("watch", ["check", "city", "--out", "city.check", "--workers", "0"]),
        ("watch", ["schema", "--out", "schema"]),
        # without the extra at all: the same commands work…
        ("block", ["check", "city", "--out", "city.check2", "--workers", "0"]),
        ("block", ["--help"]),
        # …and one that needs it says so in one line
        ("block", ["user", "list", "--db", "x.sqlite"]),
        ("block", ["db", "upgrade", "--db", "x.sqlite"]),
        ("block", ["serve", "--db", "x.sqlite"]),
    ]
    results = sim + _run_all(tmp_path, cases)
    for r in results:
        assert r["imported"] == [], r
        if r["args"][0] in ("user", "db", "serve"):
            assert r["exit"] == 2, r
            assert r["stderr"].strip().count("\n") == 0, r
            assert "pip install 'anxin[server]'" in r["stderr"], r
        else:
            assert r["exit"] == 0, r
    assert (tmp_path / "city.check" / "alarms.jsonl").is_file() and (
        tmp_path / "city.check2" / "alarms.jsonl"
    ).is_file()
    assert not (tmp_path / "x.sqlite").exists()
