"""The lab's pid 1 is its one fork server: holders and packet agents are its children."""

from __future__ import annotations

import pytest

from labkit import Lab

pytestmark = pytest.mark.lab


def _processes(lab: Lab) -> list[tuple[int, int, str]]:
    """``ps -e -o pid=,ppid=,comm=`` in the lab's own pid namespace."""
    out = lab.host.exec_run("ps -e -o pid=,ppid=,comm=").output
    rows = []
    for line in out.splitlines():
        pid, ppid, comm = line.split(None, 2)
        rows.append((int(pid), int(ppid), comm.strip()))
    return rows


def test_agents_and_holders_are_forked_by_pid_1(lab: Lab) -> None:
    c1, c2 = lab.run("c1"), lab.run("c2")
    assert c1.ping(c2.ip)
    with lab.capture("c2:eth0", "host:docker0", proto="icmp") as cap:
        assert c1.ping(c2.ip)
    assert len(cap["c2:eth0"]) == 2
    rows = _processes(lab)
    agents = [(pid, ppid) for pid, ppid, comm in rows if comm == "labkit-agent"]
    # c1 pinged, c2 and the host captured: one agent each, all children of pid 1
    assert len(agents) == 3, rows
    assert {ppid for _, ppid in agents} == {1}, rows
    # the holders (outside, c1, c2) too; the daemon is pid 1's only other child
    children = [pid for pid, ppid, comm in rows if ppid == 1 and comm != "labkit-agent"]
    holders = {lab.containers.get(n).attrs["pid"] for n in ("c1", "c2")}
    assert holders <= set(children), (holders, rows)


def test_a_removed_containers_agent_is_reaped(lab: Lab) -> None:
    c1 = lab.run("c1")
    assert c1.ping(lab.gateway)
    before = [pid for pid, _, comm in _processes(lab) if comm == "labkit-agent"]
    assert len(before) == 1
    c1.remove()
    rows = _processes(lab)
    assert [pid for pid, _, comm in rows if comm == "labkit-agent"] == []
    assert not [r for r in rows if "defunct" in r[2]], rows


def test_agents_that_capture_and_ping_never_import_scapy(lab: Lab) -> None:
    """scapy is loaded in an agent only to craft a packet (``send``, ``sr1``): a lab that
    captures and pings keeps its agents small."""
    from scapy.layers.inet import IP, UDP

    c1, c2 = lab.run("c1"), lab.run("c2")
    with lab.capture("c1:eth0", "host:docker0", "outside:eth0", proto="icmp") as cap:
        assert c1.ping(lab.outside.ip) and c1.ping(c2.ip)
    assert len(cap["outside:eth0"]) == 2
    info = lab.api.probe_info()
    assert sorted(info) == ["c1", "host", "outside"]
    assert {node: i["scapy"] for node, i in info.items()} == dict.fromkeys(info)
    c2.send(IP(dst=c1.ip) / UDP(dport=9) / b"x")
    after = lab.api.probe_info()
    assert after["c2"]["scapy"] and after["c1"]["scapy"] is None


def test_a_holder_writes_its_pid_for_labkit_shell(lab: Lab) -> None:
    """The holder writes its own pid file (no thread of the daemon does); `labkit shell`
    finds the node through it."""
    import os
    import subprocess
    import sys

    from labkit.cli import shell_argv
    from labkit.client import registry

    c1 = lab.run("c1")
    pid = lab.api.inspect("c1")["pid"]
    assert lab.host.exec_run("cat /run/labkit/nodes/c1/pid").output == f"{pid}\n"
    record = [r for r in registry.running_labs() if int(r["owner_pid"]) == os.getpid()][-1]
    out = subprocess.run(shell_argv(record, "c1", ["cat", "/etc/hostname"]),
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.stdout.strip() == c1.hostname, (out.stdout, out.stderr, sys.argv)
