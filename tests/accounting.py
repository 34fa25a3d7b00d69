"""Every collected test runs: a pytest plugin that fails the session when fewer tests
reported a result than were collected (tests sharing one node id, which pytest-xdist
runs once; items lost between the workers), and prints the count.

executed + skipped must equal collected; every skip is listed with its reason, so a
test that silently does not run cannot hide in the summary.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a plain run) does the counting
        config.pluginmanager.register(Accounting(), "accounting-state")


class Accounting:
    """State per session (pytester runs nested sessions in one process)."""

    def __init__(self) -> None:
        self.collected: list[str] | None = None
        self.outcomes: dict[str, str] = {}
        self.skips: dict[str, str] = {}
        self.summary: list[tuple[str, bool]] = []  # (line, is_error), printed with the terminal summary

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:  # a plain run; under xdist the controller gets the ids below
            self.collected = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        self.collected = list(ids)  # every worker collects the same list

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped:
            self.outcomes[report.nodeid] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.skips[report.nodeid] = reason
        elif report.when == "call" or report.failed:
            self.outcomes.setdefault(report.nodeid, report.outcome)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.collected is None or session.config.option.collectonly:
            return
        if session.shouldfail or session.shouldstop:  # -x / --maxfail: a partial run by request
            return
        collected = len(self.collected)
        distinct = set(self.collected)
        reported = distinct & self.outcomes.keys()
        skipped = sum(1 for n in reported if self.outcomes[n] == "skipped")
        problems = []
        if len(distinct) < collected:
            problems.append(f"{collected - len(distinct)} collected tests share a node id with another (only one runs)")
        if len(reported) < len(distinct):
            missing = sorted(distinct - reported)
            problems.append(f"{len(missing)} collected tests reported nothing: {', '.join(missing[:5])}")
        self.summary = [(f"tests collected {collected}, executed {len(reported) - skipped}, skipped {skipped}", False)]
        self.summary += [(f"  skipped: {nodeid}: {reason}", False) for nodeid, reason in sorted(self.skips.items())]
        self.summary += [(f"ERROR: {p}", True) for p in problems]
        if problems and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for line, error in self.summary:
            terminalreporter.write_line(line, red=error, bold=error)
