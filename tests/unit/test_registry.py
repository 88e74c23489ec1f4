"""The lab registry trusts only a directory that is this user's own (no lab needed)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from labkit.client import registry
from labkit.errors import EnvironmentProblem, RegistryUnsafe

NOBODY = 65534


@pytest.fixture
def regdir(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # under /tmp itself, so that another user (uid 65534) can reach it
    base = Path(tempfile.mkdtemp(prefix="labkit-regtest-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    yield base / "labkit"
    shutil.rmtree(base)


def _record(pid: int = os.getpid()) -> dict[str, object]:
    return {
        "owner_pid": pid,
        "sandbox_pid": pid,
        "profile": "modern",
        "subnet": "x",
        "mode": "root",
    }


def test_creates_a_0700_directory_and_lists_our_records(regdir: Path) -> None:
    path = registry.register(_record())
    assert (os.stat(regdir).st_mode & 0o777) == 0o700
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert [r["owner_pid"] for r in registry.running_labs()] == [os.getpid()]
    registry.unregister(path)
    assert registry.running_labs() == []


def test_a_directory_made_by_another_user_is_refused(regdir: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to let uid 65534 create the directory first")
    os.chmod(regdir.parent, 0o777)
    pid = os.fork()
    if pid == 0:  # the other user plants the directory and a record
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.mkdir(regdir, 0o700)
            (regdir / "1-1.json").write_text(json.dumps(_record(1)))
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    assert os.waitpid(pid, 0)[1] == 0
    assert os.lstat(regdir).st_uid == NOBODY
    with pytest.raises(RegistryUnsafe, match="belongs to uid 65534"):
        registry.running_labs()
    with pytest.raises(RegistryUnsafe):
        registry.register(_record())
    assert issubclass(RegistryUnsafe, EnvironmentProblem)


def test_a_symlinked_directory_is_refused(regdir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    regdir.symlink_to(target)
    with pytest.raises(RegistryUnsafe, match="not a directory"):
        registry.registry_dir()


def test_a_loose_mode_is_refused(regdir: Path) -> None:
    regdir.mkdir(mode=0o700)
    os.chmod(regdir, 0o755)
    with pytest.raises(RegistryUnsafe, match="mode 0755"):
        registry.registry_dir()


def test_a_planted_symlink_is_never_followed(regdir: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    registry.registry_dir()
    rec = _record()
    planted = regdir / f"{rec['owner_pid']}-{rec['sandbox_pid']}.json"
    planted.symlink_to(victim)
    with pytest.raises(RegistryUnsafe, match="already exists"):
        registry.register(rec)
    assert victim.read_text() == "precious"
    assert registry.running_labs() == []  # a symlinked record is not read either


def test_a_record_naming_someone_elses_process_is_ignored(regdir: Path) -> None:
    registry.registry_dir()
    # pid 1 is alive but (unless we are root) not ours; a garbage record is skipped
    (regdir / "garbage.json").write_text("{not json")
    listed = registry.running_labs()
    expected = [1] if os.stat("/proc/1").st_uid == os.getuid() else []
    path = registry.register({**_record(), "sandbox_pid": 1})
    assert [r["sandbox_pid"] for r in registry.running_labs()] == expected
    assert listed == []
    registry.unregister(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can start another user's process")
def test_another_users_process_is_not_ours_even_for_root() -> None:
    """root's labs run as a subordinate uid in a user namespace root owns (ours); a process
    of another user in root's own user namespace is not, although root owns that one too."""
    import subprocess
    import time

    other = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "sleep", "30"])  # fmt: skip
    try:
        for _ in range(500):  # until sleep runs as uid 65534 (/proc/PID is root's before)
            if os.stat(f"/proc/{other.pid}").st_uid == 65534:
                break
            time.sleep(0.01)
        assert os.stat(f"/proc/{other.pid}").st_uid == 65534
        assert registry._ours(other.pid) is False
        assert registry._ours(os.getpid()) is True
    finally:
        other.kill()
        other.wait()
