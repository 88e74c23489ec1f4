"""Nothing touched, nothing left behind: the machine's own network before, during and after."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from labkit import Lab, sandbox

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def _cmd(argv: list[str]) -> str:
    path = sandbox.which(argv[0])
    if path is None:
        return f"<{argv[0]} missing>"
    return subprocess.run([path, *argv[1:]], capture_output=True, text=True).stdout


def root_namespace_state() -> dict[str, object]:
    """What the machine's own network namespace holds (read only)."""
    links = json.loads(_cmd(["ip", "-j", "link", "show"]) or "[]")
    for link in links:  # counters and timers move on their own
        for key in ("stats", "stats64", "operstate_change"):
            link.pop(key, None)
    return {
        "links": links,
        "addrs": _cmd(["ip", "-j", "addr", "show"]),
        "routes": _cmd(["ip", "-j", "route", "show", "table", "all"]),
        "rules": _cmd(["ip", "-j", "rule", "show"]),
        "netns": _cmd(["ip", "netns", "list"]),
        "nft": _cmd(["nft", "list", "ruleset"]),
        "iptables": [_cmd(["iptables", "-t", t, "-S"]) for t in ("nat", "filter")],
        "forward": Path("/proc/sys/net/ipv4/ip_forward").read_text(),
        "hostname": Path("/proc/sys/kernel/hostname").read_text(),
        "resolv.conf": Path("/etc/resolv.conf").read_text(),
        "run_netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
    }


def test_root_namespace_untouched(can_lab: None) -> None:
    before = root_namespace_state()
    with Lab(profile="article") as lab:
        c1 = lab.run("c1")
        lab.run("c2", links={"c1": "web"})
        assert c1.exec_run(["ping", "-n", "-c1", "-W2", lab.outside.ip]).exit_code == 0
        lab.host.masquerade(False)
        lab.host.ip_forward(False)
        lab.host.exec_run("ip link add handmade type veth peer name handmade1")
        during = root_namespace_state()
    after = root_namespace_state()
    assert during == before
    assert after == before


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in found:
                    found.add(k)
                    todo.append(k)
    return found


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


OWNER = textwrap.dedent(
    """
    import sys, time
    from labkit import Lab
    lab = Lab()
    for i in range(3):
        lab.run(f"c{i}")
    lab.containers.get("c0").exec_run("sleep 300", detach=True)
    print(lab._conn.proc.pid, flush=True)
    time.sleep(300)
    """
)


def test_sigkill_of_owner_leaves_nothing(can_lab: None) -> None:
    before = root_namespace_state()
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert owner.stdout
    unshare_pid = int(owner.stdout.readline())
    procs = {p: _start_time(p) for p in _descendants(unshare_pid) | {unshare_pid}}
    assert len(procs) >= 6  # unshare, pid 1, daemon, outside + 3 holders, sleep
    owner.send_signal(signal.SIGKILL)  # our own child, by PID
    owner.wait()
    deadline = time.monotonic() + 10
    alive = procs
    while time.monotonic() < deadline:
        alive = {p: s for p, s in procs.items() if s is not None and _start_time(p) == s}
        if not alive:
            break
        time.sleep(0.05)
    assert not alive, f"lab processes still running after SIGKILL of the owner: {alive}"
    assert root_namespace_state() == before


ROOTLESS = textwrap.dedent(
    """
    import os
    from labkit import Lab
    with Lab(mode="rootless") as lab:
        c1 = lab.run("c1")
        r = c1.exec_run(["ping", "-n", "-c1", "-W2", lab.outside.ip])
        print(os.getuid(), lab.mode, c1.ip, r.exit_code)
    """
)


def test_rootless_as_unprivileged_user(can_lab: None) -> None:
    if os.geteuid() != 0:
        uid_prefix: list[str] = []
    else:
        setpriv = sandbox.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to drop to uid 65534")
        uid_prefix = [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        # inside its user namespace the daemon has no rights on files of other owners, so
        # the interpreter and the checkout must be readable by everyone
        real = os.path.realpath(sys.executable)
        for what, check in (
            ("checkout", f'test -r "{REPO}/labkit/__init__.py"'),
            ("interpreter", f'test -x "{real}"'),
        ):
            probe = subprocess.run(
                [*uid_prefix, "unshare", "--user", "--map-root-user", "sh", "-c", check],
                capture_output=True,
            )
            if probe.returncode == 0:
                continue
            if what == "checkout":
                pytest.skip(f"uid 65534 cannot read the checkout {REPO} (a parent is private)")
            pytest.fail(
                f"uid 65534 cannot execute {real}: build the venv from a world-readable "
                "interpreter (the Makefile uses /usr/bin/python3)"
            )
    env = {"PATH": os.environ["PATH"], "HOME": "/tmp", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [*uid_prefix, sys.executable, "-c", ROOTLESS],
        capture_output=True,
        text=True,
        cwd="/tmp",
        env=env,
        timeout=60,
    )
    if "cannot create a sandbox" in proc.stderr:
        pytest.skip(f"this kernel refuses unprivileged user namespaces: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr
    uid, mode, ip, code = proc.stdout.split()
    assert (mode, ip, code) == ("rootless", "172.17.0.2", "0")
    assert uid == ("65534" if uid_prefix else str(os.geteuid()))


def test_daemon_death_is_reported(can_lab: None) -> None:
    from labkit import DaemonDied

    lab = Lab()
    try:
        assert lab.sandbox_pid is not None
        lab._conn.proc.kill()  # our own child (unshare): --kill-child takes the sandbox
        with pytest.raises(DaemonDied, match="exited"):
            lab.run("c1")
    finally:
        lab.close()
