"""``anxin bundle verify``'s report and the operator's errors in both languages (issue 13):
every problem and note of :func:`~anxin.supervision.bundle.verify_bundle`, and every
:class:`BundleError`, :class:`KeyFormatError` and ``TimestampError`` (the time-stamping
authority's and the contract's), is a catalog key with its parameters. The sites are
found in the source (``ast``), not listed by hand: each key is in both catalogs with every
placeholder given. A tampered bundle reads in Chinese without an English sentence and in
English without a Chinese character, while the report as data stays the same in both."""

from __future__ import annotations

import ast
import functools
import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import msgspec
import pytest
import typer
from factory import T0, City, line
from rich.console import Console
from typer.testing import CliRunner
from wording import CJK, ENGLISH_SENTENCE, calls, catalog, fields

from anxin.contract import records
from anxin.contract.times import TimestampError as ContractTimeError
from anxin.contract.times import parse_ts
from anxin.crypto.keys import KeyVerdict
from anxin.crypto.schemes import KeyFormatError, load_verifier
from anxin.ingest.service import IngestService
from anxin.keyed import KeyedError, Message
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import bundle as B
from anxin.supervision import cases as C
from anxin.supervision import signing as S
from anxin.supervision import timestamp as TS
from anxin.supervision.cli import register

# Data a Chinese text shows as it is: file names, key ids, record refs (nozzle/seq), the
# hash's and the tool's names, options, HTTP status.
DATA = re.compile(
    r"[\w.-]+\.(?:jsonl|json|txt|tsr|zip)\b|anxin-\w+-[0-9a-f]{16}|[\w-]+/\d+|SHA-256|openssl ts -verify|--[\w-]+"
    r"|RFC 3161|HTTP \d+|\b(?:Ed25519|SM2|ed25519|sm2|UTC|DER|Base64)\b"
)

# Who constructs a message, and the table its key is in.
CONTEXTS = {
    "finding": "bundle_check",
    "_problem": "bundle_check",
    "BundleError": "bundle_error",
    "KeyFormatError": "key_error",
}
TIMESTAMP_CONTEXT = {"contract/times.py": "time_error", "supervision/timestamp.py": "timestamp_error"}
OURS = {"bundle_check", "bundle_error", "key_error", "timestamp_error", "time_error"}


def _catalog(lang: str) -> dict[tuple[str, str], str]:
    return catalog(lang, OURS)


@functools.cache
def _sites() -> tuple[tuple[str, str, str, frozenset[str]], ...]:
    """(where, context, key, parameters given) of every construction in the package."""
    out = []
    for rel, node, name in calls():
        if name == "TimestampError":
            assert rel in TIMESTAMP_CONTEXT, f"{rel}: a TimestampError raised here: name its table above"
            ctx = TIMESTAMP_CONTEXT[rel]
        elif name in CONTEXTS and (name in ("BundleError", "KeyFormatError") or rel.startswith("supervision/")):
            ctx = CONTEXTS[str(name)]
        else:
            continue
        where = f"{rel}:{node.lineno}"
        assert len(node.args) == 1, f"{where}: one positional argument, the key"
        key = node.args[0]
        if isinstance(key, ast.JoinedStr):  # a record's kind, a verdict: every value is checked below
            assert ast.unparse(key).startswith(("f'kind.", "f'verdict.")), where
            continue
        assert isinstance(key, ast.Constant) and isinstance(key.value, str), f"{where}: the key is a literal"
        assert all(k.arg is not None for k in node.keywords), f"{where}: parameters by name, no **"
        out.append((where, ctx, key.value, frozenset(k.arg for k in node.keywords if k.arg)))
    return tuple(out)


def test_the_sites_are_found() -> None:
    sites = _sites()
    count = {ctx: sum(s[1] == ctx for s in sites) for ctx in OURS}
    # (the report's ~30 findings, the authority's 17 errors, the keys' 10, the contract's 3, the bundle's 1)
    assert count["bundle_check"] >= 28 and count["timestamp_error"] >= 16, count
    assert count["key_error"] >= 10 and count["time_error"] == 3 and count["bundle_error"] == 1, count


def test_every_key_is_in_both_catalogs_with_its_placeholders_given() -> None:
    zh, en = _catalog("zh"), _catalog("en")
    for where, ctx, key, given in _sites():
        assert (ctx, key) in zh and (ctx, key) in en, f"{where}: {ctx}/{key} missing from a catalog"
        wanted = fields(zh[ctx, key]) | fields(en[ctx, key])
        assert wanted <= given, f"{where}: {ctx}/{key} needs {sorted(wanted - given)}"
        assert given <= wanted, f"{where}: {ctx}/{key} shows neither of {sorted(given - wanted)}"


def test_every_entry_is_used_and_every_kind_and_verdict_worded() -> None:
    used = {(ctx, key) for _, ctx, key, _ in _sites()}
    used |= {("bundle_check", f"kind.{c.__struct_config__.tag}") for c in records.Record.__args__}  # type: ignore[attr-defined]
    used |= {("bundle_check", f"verdict.{v.name}") for v in KeyVerdict if v is not KeyVerdict.OK}
    assert set(_catalog("zh")) == used == set(_catalog("en"))


def test_the_chinese_entries_say_no_english_sentence() -> None:
    for (ctx, key), words in _catalog("zh").items():
        plain = DATA.sub("", re.sub(r"\{[^}]*\}", "", words))
        assert CJK.search(words), (ctx, key, words)
        assert not ENGLISH_SENTENCE.search(plain), (ctx, key, words)
    for (ctx, key), words in _catalog("en").items():
        assert not CJK.search(words), (ctx, key, words)


# ------------------------------------------------------------------ the errors, raised for real
def _raised(call) -> KeyedError:
    with pytest.raises(KeyedError) as info:
        call()
    return info.value


ERRORS = {
    "key_error/unknown_alg": lambda: load_verifier("rsa", "x"),
    "key_error/ed25519_public": lambda: load_verifier("ed25519", "not base64"),
    "key_error/sm2_public": lambda: load_verifier("sm2", "04" + "00" * 64),
    "key_error/pem_unreadable": lambda: S.parse_key_text("-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----"),
    "key_error/signing_key_form": lambda: S.parse_key_text("rsa:abcd"),
    "key_error/signing_key_hex": lambda: S.parse_key_text("sm2:zz"),
    "key_error/signing_key_size": lambda: S.parse_key_text("ed25519:abcd"),
    "timestamp_error/refused": lambda: TS.parse_response(b"\x30\x05\x30\x03\x02\x01\x02"),
    "timestamp_error/wrong_tag": lambda: TS.parse_response(b"\x30\x03\x02\x01\x02"),
    "timestamp_error/der_truncated": lambda: TS.parse_response(b"\x30\x05\x30"),
    "timestamp_error/der_length": lambda: TS.parse_response(b"\x30\x85\x00\x00\x00\x00\x01"),
    "timestamp_error/not_response": lambda: TS.parse_response(b"\x30\x00"),
    "time_error/no_offset": lambda: parse_ts("2026-03-01T08:00:00"),
    "time_error/out_of_range": lambda: parse_ts("1970-01-01T08:00:00+08:00"),
    "time_error/not_rfc3339": lambda: parse_ts("yesterday"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_each_error_reads_in_both_languages(name: str, monkeypatch) -> None:
    exc = _raised(ERRORS[name])
    assert f"{exc.context}/{exc.key}" == name  # (raised where it is said to be)
    zh, en = exc.text("zh"), exc.text("en")
    assert CJK.search(zh) and not ENGLISH_SENTENCE.search(DATA.sub("", zh)), zh
    assert not CJK.search(en) and zh != en, en
    monkeypatch.setenv("ANXIN_LANG", "zh")
    if isinstance(exc, ContractTimeError):  # a station's rejection reason: the contract's English
        assert str(exc) == en
    else:  # the process's language, for logs
        assert str(exc) == zh
    monkeypatch.setenv("ANXIN_LANG", "en")
    assert str(exc) == en
    again = pickle.loads(pickle.dumps(exc))  # (a worker's error reaches its parent whole)
    assert type(again) is type(exc) and again.text("zh") == zh and again.params == exc.params


def test_errors_keep_their_types_and_specific_words() -> None:
    unknown = _raised(lambda: load_verifier("rsa", "x"))
    assert isinstance(unknown, (KeyFormatError, ValueError))
    assert unknown.text("en") == "unknown key_alg 'rsa' (expected ed25519 or sm2)"
    assert unknown.text("zh") == "未知的密钥算法 'rsa'（应为 ed25519 或 sm2）"
    late = _raised(lambda: parse_ts("1970-01-01T08:00:00+08:00"))
    assert str(late) == "timestamp 1970-01-01T08:00:00+08:00 is outside 2000–2099"  # what stations have read
    assert late.text("zh") == "时间 1970-01-01T08:00:00+08:00 不在 2000–2099 年之间"
    assert isinstance(B.BundleError("no_registry", case_id=7), LookupError)
    assert B.BundleError("no_registry", case_id=7).text("zh").startswith("案件 7 无法导出证据包")
    assert _raised(lambda: TS.parse_response(b"\x30\x05\x30\x03\x02\x01\x02")).text("en") == (
        "the authority refused the request (status 2)"
    )


def test_an_unknown_key_is_never_shown_raw_in_chinese() -> None:
    assert Message(ctx="bundle_check", key="no_such_key").text("zh") == "（无法显示的说明）"
    assert Message(ctx="bundle_check", key="no_such_key").text("en") == "no_such_key"
    assert Message(ctx="bundle_check", key="file_twice").text("en") == "—: appears twice in the archive"


# ------------------------------------------------------------------ a tampered bundle
@pytest.fixture
def tampered(tmp_path: Path, migrated_sqlite: Path) -> tuple[Path, str, int]:
    """A case's bundle with a record, an audit entry and its timestamp altered, a file
    added, and re-signed by a key nobody trusts; (its path, the platform's key, the line)."""
    store = Store(str(migrated_sqlite))
    try:
        city = City()
        svc = IngestService(store)
        svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
        svc.ingest("S1", [line(r) for r in city.honest_day("S1-N1", T0, 4)], source="http:S1")
        with store.engine.begin() as c:
            cid = c.execute(
                T.complaints.insert().values(
                    received_us=T0, event_ts_us=T0, station_id="S1", text="少加油", status="received"
                )
            ).inserted_primary_key[0]
        case_id = C.open_case(
            store, station_id="S1", source=f"complaint:{cid}", summary="投诉", actor="zhao", now_us=T0
        )
        with zipfile.ZipFile(io.BytesIO(B.export_bundle(store, case_id, now_us=T0 + 1))) as z:
            files = {n: z.read(n) for n in z.namelist()}
        platform = f"ed25519:{S.platform_key(store).public_key}"
    finally:
        store.close()
    lines = files["records.jsonl"].splitlines()
    n = next(i for i, x in enumerate(lines, 1) if json.loads(x)["kind"] == "metering")
    rec = json.loads(lines[n - 1])
    lines[n - 1] = json.dumps(dict(rec, volume_ml=rec["volume_ml"] + 1000)).encode()
    files["records.jsonl"] = b"\n".join(lines) + b"\n"
    files["audit.jsonl"] = files["audit.jsonl"].replace(b'"actor": "zhao"', b'"actor": "someone"')
    files["extra.txt"] = b"x"
    files[B.TIMESTAMP] = b"\x30\x05\x30\x03\x02\x01\x02"  # the authority's refusal, as a timestamp
    forger = S.Ed25519Signer()
    files[B.SIGNATURE] = json.dumps(
        S.sign_manifest(files[B.MANIFEST], S.PlatformKey("ed25519", forger.public_key_text, forger))
    ).encode()
    path = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path, platform, n


def _verify(path: Path, *args: str) -> str:
    app = typer.Typer()

    def fail(msg: str) -> None:
        raise typer.Exit(2)

    register(app, Console(width=400), fail)
    res = CliRunner().invoke(app, ["bundle", "verify", str(path), *args])
    assert res.exit_code == 1, res.output
    return res.output


def test_a_tampered_bundle_reads_in_chinese_and_in_english(tampered, monkeypatch) -> None:
    path, platform, n = tampered
    monkeypatch.setenv("ANXIN_LANG", "zh")  # (restored after the test, whatever --lang sets)
    zh = _verify(path, "--trust-key", platform)
    for said in (
        "records.jsonl：SHA-256 与 MANIFEST.json 不一致（已被改动）",
        "extra.txt：未列于 MANIFEST.json（多出的文件）",
        "MANIFEST.tsr：时间戳机构拒绝了请求（状态 2）",
        "MANIFEST.sig.json：签名密钥 anxin-ed25519-",
        f"records.jsonl 第 {n} 行（计量记录 S1-N1/",
        "签名无效（签名与记录内容不符）",
        "审计条目的哈希与其内容不符",
    ):
        assert said in zh, (said, zh)
    assert not ENGLISH_SENTENCE.search(DATA.sub("", zh)), zh
    en = _verify(path, "--trust-key", platform, "--lang", "en")
    for said in (
        "records.jsonl: SHA-256 differs from MANIFEST.json (altered)",
        "extra.txt: not listed in MANIFEST.json",
        "MANIFEST.tsr: the authority refused the request (status 2)",
        "which is not a trusted key",
        f"records.jsonl line {n} (metering S1-N1/",
        "signature not valid (signature does not match the record)",
        "entry hash does not match its content",
    ):
        assert said in en, (said, en)
    assert not CJK.search(en), en
    assert zh.count("✗") == en.count("✗") >= 7


def test_the_report_as_data_is_the_same_in_both_languages(tampered, monkeypatch) -> None:
    path, platform, n = tampered
    data = path.read_bytes()
    monkeypatch.setenv("ANXIN_LANG", "zh")
    as_zh = msgspec.json.encode(B.verify_bundle(data, trusted_keys={platform}))
    monkeypatch.setenv("ANXIN_LANG", "en")
    as_en = msgspec.json.encode(B.verify_bundle(data, trusted_keys={platform}))
    assert as_zh == as_en and not CJK.search(as_zh.decode())
    problems = json.loads(as_zh)["problems"]
    assert {(p["ctx"], p["key"]) for p in problems} == {
        ("bundle_check", k)
        for k in ("file_altered", "file_not_listed", "timestamp_invalid", "signer_untrusted", "record_signature")
    } | {("bundle_check", "audit_hash")}
    bad = next(p for p in problems if p["key"] == "record_signature")
    assert bad["params"]["line"] == n and bad["params"]["verdict"] == {
        "ctx": "bundle_check",
        "key": "verdict.BAD_SIGNATURE",
        "params": {},
    }
    stamp = next(p for p in problems if p["key"] == "timestamp_invalid")
    assert stamp["params"]["error"] == {"ctx": "timestamp_error", "key": "refused", "params": {"status": 2}}
