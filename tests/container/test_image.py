"""labkit's image in a real Docker Engine: the least privilege works, the defaults are
diagnosed exactly, Binder-like confinement prints the reason and the live paths, and
neither the engine's namespaces nor the machine's change."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.dockerd import DockerEngine, root_namespace_snapshot

from container.conftest import LEAST, engine_state
from container.image import REPO

NBVAL = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--nbval", "--nbval-sanitize-with", "sanitize.cfg", "--nbval-current-env"]  # fmt: skip
LIVE = ("Codespaces", ".devcontainer", "VM")


@pytest.fixture(scope="module")
def machine_before(engine: DockerEngine) -> Iterator[dict[str, object]]:
    """The machine's root namespace before the module; compared at its end."""
    before = root_namespace_snapshot()
    yield before
    assert root_namespace_snapshot() == before


@pytest.fixture
def untouched_engine(engine: DockerEngine, labkit_image: str,
                     machine_before: dict[str, object]) -> Iterator[DockerEngine]:  # fmt: skip
    """(d) the engine's own namespaces are the same before and after each test."""
    before = engine_state(engine)
    yield engine
    assert engine_state(engine) == before
    assert engine.docker("ps", "-aq").stdout.strip() == ""


def run(eng: DockerEngine, *args: str, name: str | None = None) -> tuple[int, str]:
    argv = ["run", *(["--name", name] if name else ["--rm"]), *args]
    proc = eng.docker(*argv, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("user", ["1000:1000", "0:0"])
def test_least_privilege_doctor_passes(untouched_engine: DockerEngine, labkit_image: str,
                                       user: str) -> None:  # fmt: skip
    """(a) ``--security-opt seccomp=unconfined --security-opt systempaths=unconfined``, no
    capability added: a real lab starts, NAT works, as the learner and as root."""
    code, out = run(untouched_engine, *LEAST, "--user", user, labkit_image, "labkit", "doctor")
    assert code == 0, out
    assert "[ok  ] lab " in out and "[ok  ] NAT to the outside world" in out, out


def test_least_privilege_notebooks_pass_nbval(untouched_engine: DockerEngine,
                                              labkit_image: str) -> None:  # fmt: skip
    """(a) nbval on the NAT and published-ports notebooks, with ``make test``'s sanitizers."""
    code, out = run(untouched_engine, *LEAST, labkit_image, *NBVAL,
                    "06-nat-masquerade.ipynb", "08-published-ports.ipynb")  # fmt: skip
    assert code == 0, out[-4000:]
    assert " passed" in out and "failed" not in out, out[-2000:]


@pytest.mark.parametrize("user", ["1000:1000", "0:0"])
def test_default_flags_are_diagnosed(untouched_engine: DockerEngine, labkit_image: str,
                                     user: str) -> None:  # fmt: skip
    """(b) Docker's defaults: doctor fails and names the missing settings as ``docker run``
    spells them; nothing is left in the container."""
    name = f"lk-default-{user.split(':')[0]}"
    try:
        code, out = run(untouched_engine, "--user", user, labkit_image, "labkit", "doctor",
                        name=name)  # fmt: skip
        assert code != 0, out
        assert "docker run --security-opt seccomp=unconfined --security-opt " \
               "systempaths=unconfined" in out, out  # fmt: skip
        assert "seccomp" in out.split("fix:")[0], out  # the cause, not only the fix
        assert "kernel.unprivileged_userns_clone" not in out, out  # the old, wrong advice
        if user == "0:0":
            assert "CAP_SYS_ADMIN" in out and "--cap-add SYS_ADMIN" in out, out
        diff = untouched_engine.docker("diff", name).stdout.strip()
        assert diff == "", f"doctor left files in the container: {diff}"
    finally:
        untouched_engine.docker("rm", "-f", name, check=False)


def _first_cell(notebook: str) -> str:
    nb = json.loads((REPO / "notebooks" / notebook).read_text())
    return "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])


@pytest.mark.parametrize("binder_env", [False, True])
def test_binder_like_prints_reason_and_live_paths(untouched_engine: DockerEngine,
                                                  labkit_image: str, binder_env: bool) -> None:
    """(c) uid 1000, no capabilities, Docker's masked paths (seccomp unconfined, as some
    Binder nodes): the environment check and 00-start-here's first cell say why and where
    the labs run live."""
    confined = ["--user", "1000:1000", "--cap-drop", "ALL", "--security-opt",
                "seccomp=unconfined"]  # fmt: skip
    if binder_env:
        confined += ["-e", "BINDER_REQUEST=v2/gh/example/labkit/main",
                     "-e", "BINDER_SERVICE_HOST=10.0.0.1"]  # fmt: skip
    check = "from labkit.tools.notebook import check_environment; check_environment()"
    code, out = run(untouched_engine, *confined, labkit_image, "python", "-c", check)
    assert code != 0 and "RuntimeError: labs cannot run" in out, out
    assert "fresh /proc" in out and "masked paths" in out and "/proc/" in out, out
    for where in LIVE:
        assert where in out, out
    if binder_env:
        assert "running in: binder" in out or "this place cannot be changed" in out, out
    else:
        assert "--security-opt systempaths=unconfined" in out, out
    code, out = run(untouched_engine, *confined, labkit_image, "python", "-c",
                    _first_cell("00-start-here.ipynb"))  # fmt: skip
    assert "masked paths" in out and "[FAIL]" in out, out
    for where in LIVE:
        assert where in out, out
