"""The three ways to build labkit's environment stay consistent (no engine needed):
.devcontainer/Dockerfile, .devcontainer/devcontainer.json, binder/ and the Makefile."""

from __future__ import annotations

import json
import re

from container.conftest import LEAST
from container.image import REPO, packages


def _devcontainer() -> dict[str, object]:
    text = (REPO / ".devcontainer" / "devcontainer.json").read_text()
    return json.loads(re.sub(r"(?m)^\s*//.*$", "", text))  # JSON with comments


def test_devcontainer_uses_the_dockerfile_and_the_least_privilege() -> None:
    dc = _devcontainer()
    assert dc["build"] == {"dockerfile": "Dockerfile", "context": ".."}
    assert dc["runArgs"] == LEAST  # exactly what tests/container proves, nothing more
    assert 8888 in dc["forwardPorts"]  # type: ignore[operator]
    assert "notebooks/00-start-here.ipynb" in json.dumps(dc["customizations"])


def test_binder_installs_the_same_tools_as_the_image() -> None:
    apt = set((REPO / "binder" / "apt.txt").read_text().split())
    tools = set(packages()) - {"python3", "python3-venv", "ca-certificates"}
    assert tools <= apt, f"binder/apt.txt lacks {sorted(tools - apt)}"
    makefile = (REPO / "Makefile").read_text()
    apt_line = re.search(r"APT_PACKAGES := ((?:.*\\\n)*.*)", makefile)
    assert apt_line is not None
    assert tools <= set(apt_line.group(1).replace("\\", " ").split())
    assert ".[notebook]" in (REPO / "binder" / "postBuild").read_text()


def test_readme_documents_the_flags_and_the_badge() -> None:
    readme = (REPO / "README.md").read_text()
    assert "--security-opt seccomp=unconfined --security-opt systempaths=unconfined" in readme
    assert "https://codespaces.new/" in readme and "--privileged" in readme
