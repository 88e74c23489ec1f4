"""Fault injection against real labs: exits, signals, huge output, bad input, hostile sizes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP

from labkit import InvalidArgument, InvalidSubnet, Lab
from labkit.errors import DaemonDied, DaemonTimeout

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def _script(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path), PYTHONPATH=str(REPO))
    code = "import sys\nfrom labkit import Lab\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("lab = Lab()\nlab.run('c1')\n", 0),
        ("lab = Lab()\nlab.run('c1')\nsys.exit(3)\n", 3),
        ("lab = Lab()\nraise RuntimeError('left open')\n", 1),
    ],
)
def test_exit_without_close(can_lab: None, tmp_path: Path, body: str, code: int) -> None:
    os.chmod(tmp_path, 0o700)
    done = _script(body, tmp_path)
    assert "Fatal Python error" not in done.stderr, done.stderr
    assert done.returncode == code, done.stderr
    assert list((tmp_path / "labkit").glob("*.json")) == []  # no stale registry record


def test_output_is_capped_and_the_lab_survives(lab: Lab) -> None:
    r = lab.host.exec_run(["sh", "-c", "head -c 20000000 /dev/zero | tr '\\0' x"], timeout=60)
    assert r.exit_code == 0 and r.truncated
    assert r.output.startswith("x" * 1000)
    assert "[labkit: output truncated at 16 MB; 3222784 more bytes" in r.output
    r = lab.host.exec_run("yes", timeout=1)  # unbounded: cut, then killed at the timeout
    assert r.exit_code == 124 and r.truncated
    assert lab.host.exec_run("echo alive").output == "alive\n"
    assert not lab.host.exec_run("echo small").truncated


def test_a_timed_out_exec_kills_its_grandchildren(lab: Lab) -> None:
    c1 = lab.run("c1")
    r = c1.exec_run(["sh", "-c", "sleep 417 & (sleep 418 &); sleep 419"], timeout=1)
    assert r.exit_code == 124
    left = lab.host.exec_run("ps -eo args").output
    assert not any(f"sleep 41{i}" in left for i in (7, 8, 9)), left


def test_bad_inputs_are_labkit_errors(lab: Lab) -> None:
    c1 = lab.run("c1")
    cases = [
        (lambda: c1.exec_run("echo 'unbalanced"), "No closing quotation"),
        (lambda: c1.send("hello"), "scapy packet"),
        (lambda: c1.exec_run(["echo", "a\0b"]), "NUL"),
        (lambda: c1.exec_run("true", timeout="x"), "timeout"),
        (lambda: c1.exec_run("true", timeout=-1), "timeout"),
        (lambda: c1.exec_run("env", environment={"A": 1}), "environment"),
        (lambda: lab.run("p1", ports={"80/tcp": 8080.9}), "port"),
        (lambda: lab.run("p2", ports={"80/tcp": True}), "port"),
        (lambda: c1.send(IP(dst="203.0.113.10") / UDP(), count=0), "count"),
    ]
    for call, words in cases:
        with pytest.raises(InvalidArgument, match=words):
            call()
    assert [c.name for c in lab.containers.list()] == ["c1"]
    assert c1.exec_run("env", environment={"A": "1"}).output.count("A=1") == 1


def test_subnets_overlapping_the_labs_ranges_are_refused(can_lab: None) -> None:
    with pytest.raises(
        InvalidSubnet, match=r"198\.51\.100\.0/24 .*198\.51\.100\.0/24 \(the lab's uplink\)"
    ):
        Lab(subnet="198.51.100.0/24")
    with Lab(seed=3) as lab:
        before = [n.name for n in lab.networks.list()]
        with pytest.raises(InvalidSubnet, match=r"203\.0\.113\.0/24 \(the lab's outside world\)"):
            lab.networks.create("net1", subnet="203.0.113.0/24")
        with pytest.raises(InvalidSubnet, match=r"172\.17\.0\.0/16 \(network 'bridge'"):
            lab.networks.create("net2", subnet="172.17.9.0/24")
        assert [n.name for n in lab.networks.list()] == before
        net = lab.networks.create("net3", subnet="10.77.0.0/24")
        with pytest.raises(InvalidSubnet, match=r"10\.77\.0\.0/24 \(network 'net3'"):
            lab.networks.create("net4", subnet="10.77.0.0/16")
        assert net.subnet == "10.77.0.0/24"


def test_a_sigkilled_daemon_is_named(can_lab: None) -> None:
    lab = Lab()
    try:
        pid = lab._conn.daemon_pid  # type: ignore[union-attr]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(DaemonDied, match="killed by SIGKILL"):
            for _ in range(100):
                lab.containers.list()
                time.sleep(0.05)
    finally:
        lab.close()


def test_a_stopped_daemon_times_out_then_recovers(lab: Lab) -> None:
    conn = lab._conn
    assert conn is not None and conn.daemon_pid is not None
    os.kill(conn.daemon_pid, signal.SIGSTOP)
    try:
        with pytest.raises(DaemonTimeout, match="it is stopped"):
            conn.request("list_containers", deadline=2)
    finally:
        os.kill(conn.daemon_pid, signal.SIGCONT)
    assert lab.containers.list() == []
    assert lab.host.exec_run("echo back").output == "back\n"


def test_ctrl_c_during_large_writes_keeps_the_pipe_in_step(lab: Lab) -> None:
    """SIGINT arrives while big requests are being written: each call is interrupted, but
    every frame is written whole, so the lab keeps working (it used to crash ~1 in 33)."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, interrupt)
    big = "x" * (8 * 1024 * 1024)
    interrupted = 0
    try:
        for i in range(12):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
            signal.setitimer(signal.ITIMER_REAL, 0.0005 * (i + 1))
            try:
                lab._call("inspect", big)
            except KeyboardInterrupt:
                interrupted += 1
            except Exception:  # noqa: BLE001, S110 - NotFound when the write won the race
                pass
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    assert interrupted > 0
    assert lab.host.exec_run("echo intact").output == "intact\n"
    assert lab.run("c1").ip


def test_send_many_in_one_call(lab: Lab) -> None:
    c1 = lab.run("c1")
    pkt = IP(dst=lab.outside.ip) / UDP(sport=40001, dport=9999) / b"burst"
    with lab.capture("outside:eth0", proto="udp", port=9999) as cap:
        c1.send(pkt, count=50)
        c1.send([pkt, IP(dst=lab.outside.ip) / UDP(sport=40002, dport=9999) / b"two"])
    got = [p[UDP].sport for p in cap["outside:eth0"] if p.haslayer(UDP)]
    assert got.count(40001) == 51 and got.count(40002) == 1, got


def _agent_pid_in(lab: Lab, node) -> str:  # type: ignore[no-untyped-def]
    """The pid (in the lab) of the probe agent that runs in ``node``'s network namespace."""
    target = node.exec_run("readlink /proc/self/ns/net").output.strip()
    script = (
        "for p in $(pgrep -x labkit-agent); do "
        'echo "$p $(readlink /proc/$p/ns/net)"; done'
    )
    rows = lab.host.exec_run(["sh", "-c", script]).output.split()
    pids = [rows[i] for i in range(0, len(rows) - 1, 2) if rows[i + 1] == target]
    assert len(pids) == 1, (rows, target)
    return pids[0]


def test_a_dead_capture_agent_is_named_and_the_other_points_kept(lab: Lab) -> None:
    c1, c2 = lab.run("c1"), lab.run("c2")
    with lab.capture("c1:eth0", "c2:eth0", proto="icmp") as cap:
        assert c2.ping(c1.ip)
        lab.host.exec_run(["kill", "-9", _agent_pid_in(lab, c1)])
    assert list(cap.failed) == ["c1:eth0"] and "c1" in cap.failed["c1:eth0"]
    assert len(cap["c1:eth0"]) == 0 and len(cap["c2:eth0"]) >= 2
    assert "FAILED" in repr(cap) and "FAILED" in cap._repr_html_()
    assert c1.ping(c2.ip)  # a new agent serves c1 afterwards


def test_removing_containers_with_agents_leaks_no_fd(lab: Lab) -> None:
    conn = lab._conn
    assert conn is not None and conn.daemon_pid is not None

    def cycle() -> None:
        c = lab.run("tmp")
        assert c.ping(lab.gateway)  # starts its probe agent
        c.remove()

    cycle()
    before = len(os.listdir(f"/proc/{conn.daemon_pid}/fd"))
    for _ in range(4):
        cycle()
    assert len(os.listdir(f"/proc/{conn.daemon_pid}/fd")) == before


def test_capture_reports_drops(lab: Lab) -> None:
    c1 = lab.run("c1")
    with lab.capture("c1:eth0", "host:docker0", proto="udp") as cap:
        c1.send(IP(dst=lab.outside.ip) / UDP(dport=9999) / b"x", count=20)
    assert set(cap.drops) == {"c1:eth0", "host:docker0"}
    for d in cap.drops.values():
        assert d["kernel"] >= 0 and d["kernel_packets"] >= 20 and d["limit_reached"] is False
    assert cap.dropped == sum(d["kernel"] for d in cap.drops.values())
