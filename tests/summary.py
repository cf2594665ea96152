"""A suite's report: what it tried and whether each thing held.

Loaded with ``-p tests.summary`` by the suite targets of the Makefile (``make
security``, ``make badinput``, ``make load``, ``make faults``). After the run it
prints, module by module, the first line of each test's docstring (or its name made
readable) beside what happened to it, the figures a test recorded with pytest's
``record_property`` under it, and a line of totals.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from dataclasses import dataclass

import pytest

Reporter = pytest.TerminalReporter
OUTCOMES = {"passed": "held", "failed": "FAILED", "skipped": "skipped"}


@dataclass
class _Trial:
    what: str
    outcome: str
    reason: str = ""
    figures: tuple[str, ...] = ()


class SuiteSummary:
    def __init__(self) -> None:
        self.trials: dict[str, list[_Trial]] = defaultdict(list)
        self.headings: dict[str, str] = {}
        self.names: dict[str, str] = {}

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            module = item.nodeid.split("::", 1)[0]
            self.headings.setdefault(module, _first_line(item.module) or module)
            self.names[item.nodeid] = _described(item)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        failed_setup = report.when == "setup" and not report.passed
        if report.when != "call" and not failed_setup:
            return
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        module = report.nodeid.split("::", 1)[0]
        what = self.names.get(report.nodeid, report.nodeid)
        figures = tuple(f"{name}: {value}" for name, value in report.user_properties)
        self.trials[module].append(
            _Trial(what, OUTCOMES[report.outcome], reason, figures)
        )

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Reporter) -> None:
        write = terminalreporter.write_line
        terminalreporter.section("what was tried, and what held")
        totals: dict[str, int] = defaultdict(int)
        for module, trials in self.trials.items():
            write("")
            write(f"{self.headings.get(module, module)}  ({module})")
            for trial in trials:
                totals[trial.outcome] += 1
                suffix = f": {trial.reason}" if trial.reason else ""
                write(f"  {trial.outcome:>7}  {trial.what}{suffix}")
                for figure in trial.figures:
                    write(f"           {figure}")
        write("")
        write(", ".join(f"{count} {name}" for name, count in sorted(totals.items())))


def _first_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _described(item: pytest.Item) -> str:
    function = getattr(item, "function", None)
    what = _first_line(function) if function is not None else ""
    if not what:
        what = item.originalname if isinstance(item, pytest.Function) else item.name
        what = what.removeprefix("test_").replace("_", " ")
    if isinstance(item, pytest.Function) and hasattr(item, "callspec"):
        what = f"{what} [{item.callspec.id}]"
    return what


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SuiteSummary(), "suite-summary")
