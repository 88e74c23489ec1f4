"""Shared fixtures. Integration tests start real labs: real namespaces, bridges, packets."""

from __future__ import annotations

import os

import pytest

from labkit import sandbox

#: set in CI (``make test``): a machine that cannot run labs fails the suite instead of skipping
REQUIRE_LAB = os.environ.get("LABKIT_REQUIRE_LAB") == "1" or os.environ.get("CI") == "true"


def labs_possible() -> tuple[bool, str]:
    try:
        sandbox.choose_mode()
    except Exception as exc:  # noqa: BLE001 - reported as the skip reason
        return False, str(exc)
    return True, ""


@pytest.fixture(scope="session")
def can_lab() -> None:
    ok, why = labs_possible()
    if not ok:
        if REQUIRE_LAB:
            pytest.fail(f"labs cannot run here, and LABKIT_REQUIRE_LAB=1 (or CI) wants them: {why}")
        pytest.skip(f"labs cannot run here: {why} (set LABKIT_REQUIRE_LAB=1 to fail instead)")


@pytest.fixture
def lab(can_lab: None):  # type: ignore[no-untyped-def]
    from labkit import Lab

    with Lab(profile="article", seed=1) as lab:
        yield lab


@pytest.fixture(scope="module")
def shared_lab(can_lab: None):  # type: ignore[no-untyped-def]
    from labkit import Lab

    with Lab(profile="article", seed=2) as lab:
        yield lab


# a 2-core machine shared with notebook runs: hypothesis' per-example deadline is noise here
from hypothesis import settings  # noqa: E402

settings.register_profile("labkit", deadline=None, max_examples=100)
settings.load_profile("labkit")
