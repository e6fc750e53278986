"""The hostile-input, fault and load suites (issue 9): each case records what it tried and what failed.

A test asks for ``figures`` and calls ``figures.record(...)``; the lines travel on the test report (so they
survive pytest-xdist) and are printed together at the end of the run under "hostile-input suites".
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

_KEY = "hostile-figure"


@dataclass
class Figures:
    """Collects one test's figures."""

    node: pytest.Item

    def record(self, suite: str, *, tried: int, failed: int, **figures: object) -> None:
        """Record that ``suite`` tried ``tried`` cases with ``failed`` failures, plus named figures."""
        extra = ", ".join(f"{name}={value}" for name, value in figures.items())
        line = f"[{suite}] {self.node.name}: {tried} cases tried, {failed} failed" + (f"; {extra}" if extra else "")
        self.node.user_properties.append((_KEY, line))
        print(line)  # visible with -s as well


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """Where a hostile suite records its cases and figures."""
    assert isinstance(request.node, pytest.Item)
    return Figures(request.node)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        f"{report.outcome.upper():7} {value}"
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "call") == "call"
        for key, value in getattr(report, "user_properties", ())
        if key == _KEY
    ]
    if lines:
        terminalreporter.section("hostile-input suites")
        for line in sorted(lines, key=lambda text: text.split("] ", 1)[0]):
            terminalreporter.write_line(line)
