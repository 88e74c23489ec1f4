"""nbval over the tutorial: print how long each notebook took (the tutorial's time budget
is 120 s on a 2-core machine; this reports it, it does not enforce it)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_TIMES: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: Any) -> None:
    if report.nodeid.split("::")[0].endswith(".ipynb"):
        _TIMES[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TIMES:
        return
    terminalreporter.section("time per notebook")
    for path, seconds in sorted(_TIMES.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_TIMES.values()):7.1f} s  total")
