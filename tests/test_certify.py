"""``anxin certify`` (issue 17, item 3): the quick protocol from a clean state writes a
JSON report that validates against its schema and a PDF that opens and reads in Chinese;
its figures are what the simulator's worlds give (every injected record-level fault found,
no false alarm, "insufficient data" where the trials are few); the same seeds give the
same JSON byte for byte, whatever the number of processes; the rules are the engine's."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pypdf
import pytest
from typer.testing import CliRunner

from anxin.certify import run as certify_run
from anxin.certify.protocol import quick
from anxin.certify.report import decode, encode, schema
from anxin.certify.run import execute, summarise
from anxin.certify.stats import MIN_TRIALS, clopper_pearson, proportion
from anxin.cli import app
from anxin.contract.alarm import LIVE_ONLY_RULES, RECORD_LEVEL_RULES, RULES

# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("certify")


@pytest.fixture(scope="module")
def certified(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("certify") / "report"  # does not exist yet: made by the command
    result = CliRunner().invoke(app, ["--lang", "zh", "certify", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_an_out_that_is_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    result = CliRunner().invoke(app, ["--lang", "zh", "certify", "--quick", "--out", str(taken)])
    assert result.exit_code == 2 and str(taken) in result.output and "Traceback" not in result.output


def test_json_validates_against_its_schema(certified) -> None:
    out, said = certified
    doc = json.loads((out / "certify.json").read_text(encoding="utf-8"))
    written = json.loads((out / "certify.schema.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(schema()))
    jsonschema.Draft202012Validator.check_schema(written)
    jsonschema.Draft202012Validator(written).validate(doc)
    bad = dict(doc, rules=[dict(doc["rules"][0], pd={"k": "all"})])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(written).validate(bad)
    assert doc["format"] == "anxin-certify/1" and doc["worlds"] == "anxin.sim"
    assert "已写入" in said and "独立世界见第 12 号议题" in said and "误报 0 次" in said


def test_pdf_opens_and_reads_in_chinese(certified) -> None:
    out, _ = certified
    data = (out / "certify.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(out / "certify.pdf")
    assert len(reader.pages) >= 2
    text = "".join(p.extract_text() for p in reader.pages)
    for words in (
        "报警检出率与误报率认证报告",
        "仅在 anxin.sim 模拟器的世界中测得",
        "油量不符",
        "数据不足",
        "0.76 L/h",
    ):
        assert words in text, words
    assert "VOLUME_MISMATCH" not in text  # rule names in words, never their codes


def test_figures_are_the_simulators(certified) -> None:
    report = decode((certified[0] / "certify.json").read_bytes())
    rows = {r.rule: r for r in report.rules}
    assert [r.rule for r in report.rules][: len(RULES)] == list(RULES)  # the engine's own list
    measured = [r for r in report.rules if r.level == "record" and r.status == "measured"]
    assert len(measured) >= 12
    for r in measured:  # every injected record-level fault found: 100 %, its exact lower bound stated
        assert r.pd.n > 0 and r.pd.k == r.pd.n and r.pd.estimate == 1.0, r.rule
        assert r.pd.ci95 is not None and r.pd.ci95[1] == 1.0
        assert r.pd.ci95[0] == pytest.approx(0.025 ** (1 / r.pd.n), abs=1e-6), r.rule
        assert r.pd.sufficient == (r.pd.n >= MIN_TRIALS)
    for r in report.rules:  # no false alarm anywhere (as tests/test_acceptance_city.py measures)
        assert r.pfa is None or r.pfa.k == 0, r.rule
    assert all(c.false_alarms == 0 for c in report.cities)
    assert rows["VOLUME_MISMATCH"].pfa is not None and rows["VOLUME_MISMATCH"].pfa.n > 20_000
    assert rows["VOLUME_MISMATCH"].pfa_unit == "sale" and rows["SEQUENCE_GAP"].pfa_unit == "metering"
    for rule in LIVE_ONLY_RULES:
        assert rows[rule].status == "live_only" and rows[rule].pfa is None
    assert rows["STATION_BIAS"].status == "no_fault_kind" and rows["STATION_BIAS"].pd.n == 0
    assert all(k.pd.k == k.pd.n for k in report.fault_kinds if k.record_level)
    leaks = {x.leak_l_per_h: x for x in report.leaks}
    assert set(leaks) == {0.76, 0.38} and leaks[0.76].days == 7 and leaks[0.38].days == 30
    assert leaks[0.76].pd.n == 3 and leaks[0.76].epa_met is None  # three leaking tanks: insufficient data
    overall = [x for x in report.witness if x.world == "*" and x.days == 7][0]
    assert overall.rmse_permille is not None and overall.rmse_permille < 1.0
    assert overall.coverage.n >= 10 and overall.coverage.estimate is not None and overall.coverage.estimate >= 0.9


def test_same_seeds_same_bytes_whatever_the_processes(certified) -> None:
    again = execute(quick(), workers=1)
    assert encode(again) == (certified[0] / "certify.json").read_bytes()


def test_a_rule_the_engine_adds_is_listed_unmeasured(monkeypatch) -> None:
    monkeypatch.setattr(certify_run, "RULES", (*RULES, "NEW_RULE"))
    report = summarise(quick(), [], [])
    row = {r.rule: r for r in report.rules}["NEW_RULE"]
    assert row.status == "no_fault_kind" and row.pd.n == 0 and row.pd.estimate is None
    assert row.level == "statistical" and row.pfa_unit == "nozzle_day"
    assert "NEW_RULE" not in RECORD_LEVEL_RULES


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 30), (30, 30), (3, 10), (297, 300), (5, 1000), (0, 400_000)])
def test_clopper_pearson_is_scipys(k: int, n: int) -> None:
    from scipy.stats import beta

    lo, hi = clopper_pearson(k, n)
    assert lo == pytest.approx(beta.ppf(0.025, k, n - k + 1) if k else 0.0, rel=1e-9, abs=1e-12)
    assert hi == pytest.approx(beta.ppf(0.975, k + 1, n - k) if k < n else 1.0, rel=1e-9, abs=1e-12)


def test_proportions_say_when_they_are_too_few() -> None:
    assert proportion(0, 0).estimate is None and not proportion(0, 0).sufficient
    assert not proportion(19, 19).sufficient and proportion(20, 20).sufficient
    with pytest.raises(ValueError, match="k=3, n=2"):
        clopper_pearson(3, 2)


def test_printed_bounds_never_claim_more_than_measured() -> None:
    from anxin.certify.words import pct, rate

    assert pct(0.989777) == "99.0 %" and pct(0.989777, "down") == "98.9 %"  # a lower bound is not rounded up
    assert pct(1.29473e-05, "up") == "0.00130 %" and pct(0.000137584, "up") == "0.0138 %"
    assert rate(proportion(359, 359), "zh") == "100 % (98.9–100 %)"
    assert rate(proportion(4, 4), "zh").endswith("· 数据不足") and rate(proportion(0, 0), "en") == "—"
