"""The oracle: a real Docker Engine (Debian's docker.io 20.10) in a sandbox of its own.

Without an engine the suite skips locally with the reason, and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.dockerd import DockerEngine, EngineUnavailable, unavailable_reason  # noqa: E402


def _no_engine(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires the Docker engine oracle, but: {why}")
    pytest.skip(f"no Docker engine here: {why}")


@pytest.fixture(scope="session")
def engine_possible() -> None:
    why = unavailable_reason()
    if why:
        _no_engine(why)


def start_engine(**kwargs: object) -> DockerEngine:
    """Start an engine with a busybox image imported, or skip/fail with the reason."""
    eng = DockerEngine(**kwargs)  # type: ignore[arg-type]
    try:
        eng.start()
        eng.import_busybox()
    except EngineUnavailable as exc:
        eng.stop()
        _no_engine(str(exc))
    except BaseException:
        eng.stop()
        raise
    return eng


@pytest.fixture
def engine_factory(engine_possible: None) -> Iterator[Callable[..., DockerEngine]]:
    """Start engines of the test's own (``engine_factory(daemon_config={...})``); all are
    stopped at the end of the test, passed or failed."""
    started: list[DockerEngine] = []

    def make(**kwargs: object) -> DockerEngine:
        eng = start_engine(**kwargs)
        started.append(eng)
        return eng

    try:
        yield make
    finally:
        for eng in started:
            eng.stop()


@pytest.fixture(scope="session")
def engine(engine_possible: None) -> Iterator[DockerEngine]:
    """One engine for the session (tests remove what they create)."""
    eng = start_engine(resolv_conf="nameserver 198.51.100.1\noptions timeout:1 attempts:1\n")
    try:
        yield eng
    finally:
        eng.stop()
