"""The test run fails when a collected test does not run (tests/accounting.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("pytester")

PLUGIN = "accounting"


def test_a_clean_run_counts_every_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_a(): pass\ndef test_b(): pass\nimport pytest\n@pytest.mark.skip('declared')\ndef test_c(): pass"
    )
    result = pytester.runpytest("-p", PLUGIN)
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*tests collected 3, executed 2, skipped 1*", "*skipped: *test_c*declared*"])
    assert result.ret == 0


def test_tests_sharing_a_node_id_fail_the_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "def pytest_collection_modifyitems(items):\n"
        "    items.append(items[0])  # two items, one node id: what schemathesis' parametrize did\n"
    )
    pytester.makepyfile("def test_a(): pass\ndef test_b(): pass")
    result = pytester.runpytest("-p", PLUGIN)
    result.stdout.fnmatch_lines(["*share a node id*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_collected_test_that_never_reports_fails_the_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_runtest_protocol(item, nextitem):\n"
        "    return item.name == 'test_b' or None  # swallowed: no report at all\n"
    )
    pytester.makepyfile("def test_a(): pass\ndef test_b(): pass")
    result = pytester.runpytest("-p", PLUGIN)
    result.stdout.fnmatch_lines(["*1 collected tests reported nothing*test_b*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
