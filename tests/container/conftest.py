"""labkit's image on a real Docker Engine (tests/support/dockerd.py), built from
.devcontainer/Dockerfile on a debootstrap base prepared outside the engine (image.py).

Without an engine the suite skips locally with the reason, and fails under ``CI=true``.
The engine is stopped and its files removed at the end of the session, passed or failed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.dockerd import DockerEngine, EngineUnavailable, unavailable_reason  # noqa: E402

from container import image  # noqa: E402

#: the least privilege a lab needs in a container (README "Where it runs")
LEAST = ["--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined"]
TAG = "labkit:test"
COUNTERS_RE = re.compile(r"\[\d+:\d+\]")
BASE_TAG = "labkit-base:test"


def no_engine(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires a Docker engine for tests/container, but: {why}")
    pytest.skip(f"no Docker engine here: {why}")


def engine_state(eng: DockerEngine) -> dict[str, Any]:
    """The engine's own namespaces (the Docker host): links, IPv4 addresses and routes,
    rules, iptables. (docker0's flags and IPv6 link-local address change when its first
    container attaches; its existence and IPv4 configuration must not.)"""

    def out(*cmd: str) -> str:
        return eng.sandbox(*cmd).stdout

    return {
        "links": sorted(ln.split(":")[1].strip() for ln in out("ip", "-o", "link").splitlines()),
        "addrs": out("ip", "-4", "-o", "addr"),
        "routes": out("ip", "-4", "route", "show", "table", "all").replace(" linkdown", ""),
        "rules": out("ip", "rule"),
        "iptables": "\n".join(COUNTERS_RE.sub("", ln) for ln in out("iptables-save").splitlines()
                              if not ln.startswith("#")),  # fmt: skip
    }


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerEngine]:
    why = unavailable_reason()
    if why:
        no_engine(why)
    eng = DockerEngine()
    try:
        try:
            eng.start()
        except EngineUnavailable as exc:
            no_engine(str(exc))
        yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="session")
def labkit_image(engine: DockerEngine) -> str:
    """``docker build -f .devcontainer/Dockerfile --build-arg BASE=<debootstrap base>``."""
    for tool in ("debootstrap", "chroot"):
        if shutil.which(tool, path=image.SBIN_PATH) is None:
            no_engine(f"{tool} is missing: apt-get install -y debootstrap")
    root = image.base_rootfs()
    engine.import_rootfs(root, BASE_TAG)
    ctx = Path(tempfile.mkdtemp(prefix="ldk-ctx-"))
    try:
        ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.egg-info")
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(image.REPO / name, ctx / name)
        for name in ("labkit", "notebooks", ".devcontainer"):
            shutil.copytree(image.REPO / name, ctx / name, ignore=ignore)
        engine.docker("build", "-q", "-f", str(ctx / ".devcontainer" / "Dockerfile"),
                      "--build-arg", f"BASE={BASE_TAG}", "-t", TAG, str(ctx))  # fmt: skip
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return TAG
