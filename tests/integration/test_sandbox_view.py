"""A lab never holds the machine: root's lab runs as an unprivileged uid, and every node
sees a private /tmp, network sysctls of its own and the rest of the filesystem read-only."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from labkit import Lab, sandbox

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.lab


def _modes() -> list[str]:
    return ["rootless", "root"] if os.geteuid() == 0 else ["rootless"]


@pytest.mark.parametrize("mode", _modes())
def test_nodes_cannot_write_the_machine(can_lab: None, mode: str) -> None:
    if not sandbox.mode_works(mode)[0]:
        pytest.skip(f"{mode} sandboxes cannot start here: {sandbox.mode_works(mode)[1]}")
    mark = f"labkit-view-{uuid.uuid4().hex[:8]}"
    with Lab(mode=mode) as lab:
        c1 = lab.run("c1")
        for node in (lab.host, c1, lab.outside):
            r = node.exec_run(["sh", "-c", f"touch /tmp/{mark} && ls /tmp/{mark}"])
            assert r.exit_code == 0, (node, r.output)  # each node has a /tmp of its own
            assert not Path("/tmp", mark).exists(), f"{node} wrote the machine's /tmp"
            r = node.exec_run(["touch", f"/etc/{mark}"])
            assert r.exit_code != 0 and "Read-only file system" in r.output, (node, r.output)
            assert not Path("/etc", mark).exists()
            r = node.exec_run(["sh", "-c", "echo 60 > /proc/sys/vm/swappiness"])
            assert r.exit_code != 0, (node, "vm.swappiness is writable from a lab")
        # a second container's /tmp is not c1's
        c2 = lab.run("c2")
        assert c2.exec_run(["ls", f"/tmp/{mark}"]).exit_code != 0
        # network sysctls stay the node's own and writable, as the tutorial needs
        assert c1.sysctl("net.ipv4.ip_forward", "1") in ("0", "1")
        assert c1.exec_run("sysctl -n net.ipv4.ip_forward").output.strip() == "1"
        assert lab.host.exec_run("brctl show").output.count("veth") == 2
        if mode == "rootless" and os.geteuid() == 0:
            status = Path(f"/proc/{lab.sandbox_pid}/status").read_text()
            uid_line = next(ln for ln in status.splitlines() if ln.startswith("Uid:"))
            assert uid_line.split()[1] != "0", "root's rootless lab runs as the machine's root"


def test_unknown_mode_is_refused(can_lab: None) -> None:
    from labkit.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="'auto', 'rootless', 'root'"):
        Lab(mode="docker")


@pytest.mark.parametrize("sysfs", ["ro", "hidden"])
def test_sysfs_fallbacks_keep_the_views_true(
    can_lab: None, monkeypatch: pytest.MonkeyPatch, sysfs: str
) -> None:
    """Where a container allows only a read-only sysfs, or none (then /sys is an empty
    tmpfs), ``brctl show`` still tells the truth: bridge-utils falls back to its ioctls."""
    from labkit.core.diagnosis import Plan

    real = sandbox.spawn_daemon
    monkeypatch.setattr(sandbox, "spawn_daemon", lambda mode: real(Plan(mode, sysfs)))
    with Lab(profile="article", seed=1) as lab:
        c1 = lab.run("c1")
        brctl = lab.host.exec_run("brctl show").output
        assert "docker0" in brctl and c1.veth in brctl, brctl
        listing = lab.host.exec_run(["ls", "/sys"]).output.split()
        if sysfs == "hidden":
            assert listing == []
        else:
            assert "class" in listing
            assert lab.host.exec_run(["touch", "/sys/x"]).exit_code != 0
        assert c1.exec_run(["ping", "-n", "-c1", "-W2", lab.outside.ip]).exit_code == 0


def test_a_copy_of_labkit_under_tmp_still_runs_labs(can_lab: None) -> None:
    """The lab's own /tmp is a fresh tmpfs (and each container's): labkit's code, when it
    lives under /tmp (a clone there), is bound back at its path, so the daemon can import
    itself and containers can run ``python3 -m labkit.apps.whoami``. (World-readable, as a
    clone must be: the lab's root is an unprivileged uid when root starts it.)"""
    import shutil
    import subprocess
    import sys
    import tempfile

    src = Path(tempfile.mkdtemp(prefix="labkit-clone-", dir="/tmp"))
    try:
        os.chmod(src, 0o755)
        shutil.copytree(REPO / "labkit", src / "labkit",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        code = (
            "import labkit\n"
            "from labkit import Lab\n"
            f"assert labkit.__file__.startswith({str(src)!r}), labkit.__file__\n"
            "with Lab(seed=3) as lab:\n"
            "    c = lab.run('c1')\n"
            "    probe = 'import labkit; print(labkit.__file__)'\n"
            "    print(c.exec_run(['python3', '-c', probe]).output)\n"
        )
        env = dict(os.environ, PYTHONPATH=str(src))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd=src, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == f"{src}/labkit/__init__.py", out.stdout
    finally:
        shutil.rmtree(src, ignore_errors=True)
