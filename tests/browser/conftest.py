"""Browser tests: JupyterLab on 127.0.0.1, driven in Debian's Chromium by Playwright.

Registers the ``browser`` marker here too, so these tests collect cleanly (the ini file
turns warnings into errors) whatever ``pyproject.toml`` says.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives JupyterLab in a real Chromium (Debian's chromium + playwright)",
    )
