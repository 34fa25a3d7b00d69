"""The supervision package's refusals in both languages (issue 13): every refusal
(SupervisionError, CaseError, UnknownCase, DrawError) names a key of
:data:`anxin.supervision.errors.ERRORS`, which words it in Chinese and in English; the
raise sites are found in the source (``ast``), not listed by hand, and each gives every
placeholder its templates use. Real refusals through the services read in Chinese
without a code or an identifier and in English without a Chinese character — but for
the data the user typed."""

from __future__ import annotations

import ast
import functools
import importlib
import pickle
import re
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from factory import City
from wording import CJK, SRC, table, tree

from anxin.contract.registry import Registry
from anxin.i18n import language_scope
from anxin.store.database import Store
from anxin.supervision import SupervisionError, cases, complaints, inspections, risk
from anxin.supervision import errors as E

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "anxin" / "supervision"
NOW = 1_772_400_000_000_000

IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")  # snake_case
# ASCII words a Chinese template may show: file types and a unit
ZH_ASCII_OK = {"JPEG", "PNG", "PDF", "MiB"}


@dataclass(frozen=True)
class Site:
    where: str
    key: str
    params: frozenset[str]


def _sources() -> list[Path]:
    """The package's source files, its concepts' packages included (complaints/service.py…)."""
    return sorted(PACKAGE.rglob("*.py"))


def _refusal_classes() -> set[str]:
    """The names of the package's refusal types (subclasses of errors.Refusal)."""
    names = set()
    for p in _sources():
        rel = p.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts  # a concept's package: its __init__
        if parts in ((), ("cli",)):
            continue
        mod = importlib.import_module(".".join(("anxin.supervision", *parts)))
        names |= {n for n, o in vars(mod).items() if isinstance(o, type) and issubclass(o, E.Refusal)}
    return names


@functools.cache
def _sites() -> tuple[Site, ...]:
    """Every construction of a refusal in the package's source."""
    classes = _refusal_classes()
    out = []
    for p in _sources():
        for node in ast.walk(tree(p.relative_to(SRC).as_posix())):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name not in classes:
                continue
            where = f"{p.relative_to(PACKAGE).as_posix()}:{node.lineno}"
            assert len(node.args) == 1, f"{where}: one positional argument, the key (the words are the catalog's)"
            key = node.args[0]
            assert isinstance(key, ast.Constant) and isinstance(key.value, str), f"{where}: the key is a literal"
            assert all(k.arg is not None for k in node.keywords), f"{where}: parameters by name, no **"
            params = frozenset(k.arg for k in node.keywords if k.arg is not None and k.arg != "field")
            out.append(Site(where, key.value, params))
    return tuple(out)


def _placeholders(template: str) -> set[str]:
    return {re.split(r"[.\[]", f)[0] for _, f, _, _ in string.Formatter().parse(template) if f is not None}


def _literal_text(template: str) -> str:
    return "".join(text for text, _, _, _ in string.Formatter().parse(template))


def test_the_raise_sites_are_found() -> None:
    classes = _refusal_classes()
    assert {"SupervisionError", "CaseError", "UnknownCase", "DrawError"} <= classes
    sites = _sites()
    assert len(sites) >= 70, len(sites)
    assert {s.where.split(":")[0] for s in sites} >= {
        "_common.py",
        "complaints/__init__.py",
        "complaints/service.py",
        "inspections/__init__.py",
        "inspections/service.py",
        "cases/service.py",
    }


def test_every_key_raised_has_a_chinese_and_an_english_template() -> None:
    missing = [(s.where, s.key) for s in _sites() if s.key not in E.ERRORS]
    assert not missing
    for key, pair in E.ERRORS.items():
        assert len(pair) == 2 and all(isinstance(t, str) and t.strip() for t in pair), key


def test_every_template_is_raised_somewhere() -> None:
    assert set(E.ERRORS) == {s.key for s in _sites()}


def test_every_placeholder_is_given_at_every_raise_site() -> None:
    for s in _sites():
        zh, en = E.ERRORS[s.key]
        wanted = _placeholders(zh) | _placeholders(en)
        assert wanted <= s.params, f"{s.where} {s.key}: not given {sorted(wanted - s.params)}"
        assert s.params <= wanted, f"{s.where} {s.key}: given but never shown {sorted(s.params - wanted)}"
        assert "field" not in wanted and "key" not in wanted, s.key  # the refusal's own attributes


def test_the_templates_are_each_in_their_language() -> None:
    for key, (zh, en) in E.ERRORS.items():
        zh_text = _literal_text(zh)
        assert not IDENTIFIER.search(zh_text), (key, zh)
        assert set(re.findall(r"[A-Za-z]+", zh_text)) <= ZH_ASCII_OK, (key, zh)
        assert CJK.search(zh_text), (key, zh)
        assert not CJK.search(en), (key, en)


def _package_words() -> list[tuple[str, E.Words]]:
    """Every Words the package names a parameter with (the tables, not the call sites)."""
    out: list[tuple[str, E.Words]] = [(f"FIELDS[{k}]", w) for k, w in E.FIELDS.items()]
    out += [(f"cases.INPUTS[{k}]", w) for k, w in cases.INPUTS.items()]
    out += [(f"cases.SOURCE_KINDS[{k}]", w) for k, w in cases.SOURCE_KINDS.items()]
    out += [(f"inspections.RUN_QUANTITIES[{k}]", w) for k, w in inspections.RUN_QUANTITIES.items()]
    pairs = [
        (complaints.STATUS_ZH, complaints.STATUS_EN),
        (complaints.OUTCOME_ZH, complaints.OUTCOME_EN),
        (complaints.CHANNEL_ZH, complaints.CHANNEL_EN),
        (inspections.STATUS_ZH, inspections.STATUS_EN),
        (inspections.KIND_ZH, inspections.KIND_EN),
        (inspections.CHECKLIST, inspections.CHECKLIST_EN),
    ]
    for zh, en in pairs:
        assert set(zh) == set(en)
        out += [(k, E.Words(zh[k], en[k])) for k in zh]
    return out


def test_the_words_of_the_parameters_are_each_in_their_language() -> None:
    for where, w in _package_words():
        assert CJK.search(w.zh) and not IDENTIFIER.search(w.zh), (where, w)
        assert not CJK.search(w.en), (where, w)


def test_every_text_input_is_named_in_words() -> None:
    """need_text's ``field`` is a name the catalog words (or the call says ``what=``)."""
    calls = 0
    for p in _sources():
        for node in ast.walk(tree(p.relative_to(SRC).as_posix())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "need_text"):
                continue
            calls += 1
            where, field = f"{p.relative_to(PACKAGE).as_posix()}:{node.lineno}", node.args[1]
            if any(k.arg == "what" for k in node.keywords):
                continue
            if isinstance(field, ast.Constant):
                assert field.value in E.FIELDS, where
            else:  # attachments[i].name / .mime, worded by field_words
                assert isinstance(field, ast.JoinedStr) and ast.unparse(field).startswith("f'{field}."), where
    assert calls >= 15
    assert E.field_words("attachments[2].name") == E.Words("第 3 个附件的名称", "name of attachment 3")
    assert E.field_words("attachments[0].mime") == E.Words("第 1 个附件的类型", "type of attachment 1")
    assert E.field_words("nonesuch").zh == "该项"


def _refusal_words(lang: str) -> dict[str, str]:
    return table("refusal_words", lang)


def test_the_words_refusals_are_given_come_from_both_catalogs() -> None:
    """The words the package gives its refusals as parameters (``refusal_words``): each key
    it names (``ast``: ``word("key")``, a table ``words_table("prefix")``) in both catalogs
    and used, each language alone."""
    zh, en = _refusal_words("zh"), _refusal_words("en")
    assert list(zh) == list(en)
    named, prefixes = set(), set()
    for p in _sources():
        for node in ast.walk(tree(p.relative_to(SRC).as_posix())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id == "word":
                key = node.args[0]
                if isinstance(key, ast.JoinedStr):  # f"attachment.{…}": name or mime
                    named |= {"attachment.name", "attachment.mime"}
                else:
                    assert isinstance(key, ast.Constant), ast.unparse(node)
                    named.add(key.value)
                    wanted = {f for t in (zh[key.value], en[key.value]) for f in _placeholders(t)}
                    assert wanted == {k.arg for k in node.keywords}, ast.unparse(node)
            elif node.func.id == "words_table":
                prefixes.add(node.args[0].value)  # type: ignore[attr-defined]
    assert prefixes == {"field", "case_source", "case_input", "run_quantity", "complaint_step"}
    named |= {k for k in zh if k.partition(".")[0] in prefixes}
    assert named == set(zh), set(zh) ^ named
    for key in zh:
        assert CJK.search(zh[key]) and not IDENTIFIER.search(_literal_text(zh[key])), (key, zh[key])
        assert set(re.findall(r"[A-Za-z]+", _literal_text(zh[key]))) <= ZH_ASCII_OK | {"mL", "min", "m", "C"}, zh[
            key
        ]  # units
        assert not CJK.search(en[key]), (key, en[key])
    assert E.FIELDS["text"] == E.Words("投诉内容", "complaint text") and len(E.FIELDS) == 11
    assert cases.SOURCE_KINDS["complaint"] == E.Words("投诉", "complaint") and len(cases.INPUTS) == 12
    assert inspections.RUN_QUANTITIES["flow_ml_per_min"] == E.Words("流量（mL/min）", "flow (mL/min)")
    assert list(inspections.RUN_QUANTITIES) == [
        "standard_ml",
        "indicated_ml",
        "standard_temp_mc",
        "dispenser_temp_mc",
        "flow_ml_per_min",
    ]


# ---------------------------------------------------------------------------- the refusal itself
def test_a_refusal_keeps_its_code_field_message_and_str() -> None:
    e = SupervisionError("concurrent_change.complaint", complaint_id=7)
    assert (e.code, e.key, e.field, e.params) == (
        "concurrent_change",
        "concurrent_change.complaint",
        None,
        {"complaint_id": 7},
    )
    assert e.message == e.text("zh") == "投诉 7 已被他人修改，请刷新"
    assert e.text("en") == "Complaint 7 was changed by someone else meanwhile; please reload"
    assert e.text("en-GB") == e.text("en") and e.text("zh-CN") == e.message
    assert str(e) == "concurrent_change: 投诉 7 已被他人修改，请刷新"
    assert isinstance(e, ValueError)
    with language_scope("en"):
        assert e.text() == e.text("en")
    with language_scope("zh"):
        assert e.text() == e.message
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is SupervisionError and (back.key, back.params, str(back)) == (e.key, e.params, str(e))
    u = pickle.loads(pickle.dumps(cases.UnknownCase("case_unknown", case_id=3)))
    assert isinstance(u, LookupError) and isinstance(u, cases.CaseError) and u.text("en") == "no case 3"


def test_a_missing_parameter_or_key_does_not_fail_the_refusal() -> None:
    assert SupervisionError("unknown_complaint").text("zh") == "没有编号为 — 的投诉"
    e = SupervisionError("no_such_key", field="x")
    assert (e.code, e.field, e.text("en"), e.message) == ("no_such_key", "x", "no_such_key", "操作未能完成")


# ---------------------------------------------------------------------------- through the services
def _zh_clean(e: E.Refusal, *data: str) -> str:
    """The Chinese, checked: no ASCII letter at all once the user's data is taken out."""
    text = e.text("zh")
    rest = text
    for d in data:
        rest = rest.replace(d, "")
    assert CJK.search(rest) and not re.search(r"[A-Za-z]", rest), text
    return text


def _en_clean(e: E.Refusal, *data: str) -> str:
    """The English, checked: no Chinese character once the user's data is taken out."""
    text = e.text("en")
    rest = text
    for d in data:
        rest = rest.replace(d, "")
    assert not CJK.search(rest), text
    return text


@pytest.fixture
def reg() -> Registry:
    return City().registry()


def test_an_unknown_status_filter(store: Store) -> None:
    with pytest.raises(SupervisionError) as e:
        complaints.listing(store, status="bogus")
    assert (e.value.code, e.value.field) == ("bad_status", "status")
    assert _zh_clean(e.value) == "状态须为 已受理/已分派/调查中/已答复/已办结"
    assert _en_clean(e.value) == "The status must be one of: received, assigned, investigating, replied, closed"
    with pytest.raises(SupervisionError) as e:
        inspections.listing(store, status="bogus")
    assert _zh_clean(e.value) == "状态须为 待检查/已检查/已取消"
    assert _en_clean(e.value) == "The status must be one of: planned, done, cancelled"


def test_closing_a_case_that_is_not_decided(store: Store, reg: Registry) -> None:
    iid = inspections.schedule(
        store, station_id="S1", inspector="li", scheduled_us=NOW, kind="routine", actor="zhang", now_us=NOW
    )
    k = cases.open_case(
        store, station_id="S1", source=f"inspection:{iid}", summary="主板改装", actor="zhao", now_us=NOW
    )
    with pytest.raises(cases.CaseError) as e:
        cases.close(store, k, reason="结案", actor="zhao", now_us=NOW + 1)
    assert e.value.code == "case_not_decided"
    assert _zh_clean(e.value) == f"案件 {k} 当前状态为「已立案」，只有已作出处罚决定的案件才能结案"
    assert _en_clean(e.value) == f"case {k} is open: only a decided case can be closed"
    assert str(e.value) == f"case_not_decided: {e.value.message}"
    with pytest.raises(cases.CaseError) as e:
        cases.penalize(store, k, penalty_fen=-1, decision="罚款", actor="zhao", now_us=NOW)
    assert e.value.field == "penalty_fen" and _zh_clean(e.value) == "罚款金额（分）须为不小于 0 的整数"
    with pytest.raises(cases.CaseError) as e:
        cases.update(store, k, actor="zhao", now_us=NOW)
    assert (
        _zh_clean(e.value) == "没有要更新的内容：请填写当事人或违法事实" and e.value.text("en") == "nothing to update"
    )
    with pytest.raises(cases.CaseError) as e:
        cases.update(store, k, parties=[{"name": " ", "role": "经营者"}], actor="zhao", now_us=NOW)
    assert (e.value.code, e.value.field) == ("case_required_field", "parties")
    assert _zh_clean(e.value) == "须填写当事人名称" and e.value.text("en") == "party name is required"
    with pytest.raises(cases.CaseError) as e:
        cases.update(store, k, violations=[{"code": 26}], actor="zhao", now_us=NOW)
    assert e.value.code == "case_malformed" and _zh_clean(e.value) == "违法事实格式错误"
    assert _en_clean(e.value).startswith("violations malformed: ")
    with pytest.raises(cases.UnknownCase) as u:
        cases.get(store, 999_999)
    assert _zh_clean(u.value) == "没有编号为 999999 的案件" and u.value.text("en") == "no case 999999"


def test_opening_a_case_from_an_unknown_source(store: Store) -> None:
    with pytest.raises(cases.CaseError) as e:
        cases.open_case(store, station_id="S1", source="complaint:424242", summary="s", actor="zhao", now_us=NOW)
    assert (e.value.code, e.value.field) == ("case_no_source", "source")
    assert _zh_clean(e.value) == "没有编号为 '424242' 的投诉"
    assert _en_clean(e.value) == "no complaint '424242'"
    with pytest.raises(cases.CaseError) as e:
        cases.open_case(store, station_id="S1", source="来源:1", summary="s", actor="zhao", now_us=NOW)
    assert e.value.code == "case_bad_source"
    assert _zh_clean(e.value, "来源:1") == "案件来源无效：'来源:1'（须为报警、投诉或检查）"
    _en_clean(e.value, "来源:1")
    with pytest.raises(cases.CaseError) as e:
        cases.open_case(store, station_id="S1", source="alarm:a1", summary=" ", actor="zhao", now_us=NOW)
    assert _zh_clean(e.value) == "须填写案情摘要" and e.value.text("en") == "summary is required"


def test_a_case_from_another_stations_source(store: Store, reg: Registry) -> None:
    cid = complaints.submit(store, reg, station_id="S2", text="跳字快", channel="web", now_us=NOW)
    with pytest.raises(cases.CaseError) as e:
        cases.open_case(store, station_id="S1", source=f"complaint:{cid}", summary="s", actor="zhao", now_us=NOW)
    assert e.value.code == "case_source_elsewhere"
    assert e.value.message == f"投诉 #{cid} 属于加油站 S2，不属于加油站 S1"
    assert _en_clean(e.value) == f"complaint:{cid} belongs to station S2, not S1"


def test_complaint_refusals_read_in_both_languages(store: Store, reg: Registry) -> None:
    cid = complaints.submit(store, reg, station_id="S1", text="跳字快", channel="web", now_us=NOW)
    with pytest.raises(SupervisionError) as e:
        complaints.close(store, cid, outcome="withdrawn", reason="撤回", actor="li", now_us=NOW + 1)
    assert e.value.code == "forbidden_step"
    assert _zh_clean(e.value) == f"投诉 {cid} 当前状态为「已受理」，不能办结（允许的状态：已答复）"
    assert _en_clean(e.value) == f"Complaint {cid} is “received”: it cannot be closed (allowed when: replied)"
    with pytest.raises(SupervisionError) as e:
        complaints.assign(store, cid, assignee="li", actor=" ", now_us=NOW + 1)
    assert (e.value.code, e.value.field) == ("empty", "actor")
    assert _zh_clean(e.value) == "操作人不能为空" and _en_clean(e.value) == "The acting user cannot be empty"
    with pytest.raises(SupervisionError) as e:
        complaints.close(store, cid, outcome="maybe", reason="r", actor="li", now_us=NOW + 1)
    assert _zh_clean(e.value) == "办结结果须为 属实/不属实/移交/撤回"
    bad = [
        ({"text": "   "}, "投诉内容不能为空", "The complaint text cannot be empty", ()),
        (
            {"channel": "fax"},
            "渠道须为 扫码/网页/接口/电话",
            "The channel must be one of: QR code, web page, API, phone",
            (),
        ),
        ({"station_id": "ZZ9"}, "未登记的加油站 'ZZ9'", "Unregistered station 'ZZ9'", ("ZZ9",)),
        (
            {"attachments": [("a/b.jpg", "image/jpeg", b"\xff\xd8\xff")]},
            "附件名称不能含路径",
            "An attachment's name cannot contain a path",
            (),
        ),
        (
            {"attachments": [(" ", "image/jpeg", b"x")]},
            "第 1 个附件的名称不能为空",
            "The name of attachment 1 cannot be empty",
            (),
        ),
    ]
    ok = {"station_id": "S1", "text": "跳字快", "channel": "web"}
    for change, zh, en, data in bad:
        with pytest.raises(SupervisionError) as e:
            complaints.submit(store, reg, **{**ok, **change}, now_us=NOW)
        assert _zh_clean(e.value, *data) == zh and _en_clean(e.value, *data) == en, change


def test_inspection_refusals_read_in_both_languages(store: Store, reg: Registry) -> None:
    with pytest.raises(SupervisionError) as e:
        inspections.schedule(store, station_id="S1", inspector="li", scheduled_us=NOW, kind="x", actor="z", now_us=NOW)
    assert _zh_clean(e.value) == "检查类型须为 日常检查/四不两直/你点我检/复查"
    assert (
        _en_clean(e.value) == "The kind of inspection must be one of: routine, unannounced, citizen-chosen, follow-up"
    )
    iid = inspections.schedule(
        store, station_id="S1", inspector="li", scheduled_us=NOW, kind="routine", actor="z", now_us=NOW
    )
    visit = {"test_fill_runs": None, "findings": None, "actor": "li", "now_us": NOW}
    with pytest.raises(SupervisionError) as e:
        inspections.record_visit(store, reg, iid, checklist={"seals_intact": (True, "")}, **visit)
    assert _zh_clean(e.value) == "缺少检查项：防作弊模块在位并已登记、检定证书有效、信用承诺书上墙"
    assert _en_clean(e.value) == (
        "Checklist items missing: Anti-cheat module in place and registered; Verification certificate valid; "
        "Credit commitment posted"
    )
    all_ok = {k: (True, "") for k in inspections.MANUAL_ITEMS}
    with pytest.raises(SupervisionError) as e:
        inspections.record_visit(
            store,
            reg,
            iid,
            checklist={**all_ok, "seals_intact": (True, "\x00")},
            **visit,
        )
    assert _zh_clean(e.value) == "检查项「铅封完好且与登记一致」的说明含有非法字符"
    assert _en_clean(e.value) == "The note on “Seals intact and as registered” contains an invalid character"
    inspections.record_visit(store, reg, iid, checklist=all_ok, **visit)
    with pytest.raises(SupervisionError) as e:
        inspections.record_visit(store, reg, iid, checklist=all_ok, **visit)
    assert _zh_clean(e.value) == f"检查 {iid} 当前状态为「已检查」，不能登记检查结果"
    assert _en_clean(e.value) == f"Inspection {iid} is “done”: its result cannot be recorded"
    with pytest.raises(SupervisionError) as e:
        inspections.compute_test_fill(reg, "S1-N1", [{"standard_ml": 20_000}], ts_us=NOW)
    assert (e.value.code, e.value.field) == ("bad_run", "test_fill_runs[0].indicated_ml")
    assert e.value.message == "加油机示值（mL）须为有限数值" and not IDENTIFIER.search(e.value.message)
    assert _en_clean(e.value) == "The indicated volume (mL) must be a finite number"


def test_a_test_fill_that_cannot_be_computed() -> None:
    w = inspections._fill_reasons(["run 2: corrected standard volume must be positive", "no valid runs"])
    assert w == E.Words("第 2 次测试加油数据无效", "run 2: corrected standard volume must be positive; no valid runs")
    assert inspections._fill_reasons(["no valid runs"]).zh == "没有有效的测试加油数据"
    e = SupervisionError("bad_run.not_computable", field="test_fill_runs", reasons=w)
    assert e.message == "测试加油数据无法计算：第 2 次测试加油数据无效"


def test_draw_refusals_read_in_both_languages(store: Store, reg: Registry) -> None:
    args = dict(stations=2, inspectors=["a"], seed=1, method="risk", name="x", actor="z", now_us=NOW)
    for bad, field in (
        (dict(method="other"), "method"),
        (dict(inspectors=[" "]), "inspectors"),
        (dict(seed=-1), "seed"),
    ):
        with pytest.raises(risk.DrawError) as e:
            risk.draw(store, reg, **(args | bad))
        assert e.value.field == field and e.value.code.startswith("draw_")
        _zh_clean(e.value, "[0, 2^63)")
        _en_clean(e.value)
