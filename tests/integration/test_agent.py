"""Probe agents in real network namespaces, inside a throwaway sandbox.

The sandbox test runs a script under ``unshare --user --map-root-user --net --mount --pid``:
it creates netns ``a`` (172.17.0.2/16) and ``b`` (172.17.0.3/16) joined by a veth pair,
starts one agent in each with ``ip netns exec``, sniffs in ``b``, sends from ``a``, and
prints what happened as JSON; the assertions run here, on the real packets. Nothing touches
the machine's own network namespace.

The other tests drive agents (or fake agents) that send no packet at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from labkit.packets.agentclient import AgentClient, AgentDied, AgentError

REPO = Path(__file__).resolve().parents[2]
UNSHARE = [
    "unshare",
    "--user",
    "--map-root-user",
    "--net",
    "--mount",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
]
ENV = dict(os.environ, PYTHONPATH=str(REPO))
AGENT = [sys.executable, "-m", "labkit.packets.agent"]


def _sandbox_refusal() -> str | None:
    """Why a user-namespace sandbox cannot be made here (None if it can)."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    try:
        out = subprocess.run(
            [*UNSHARE, "true"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        return f"unshare failed: {exc}"
    if out.returncode != 0:
        return f"unshare of a user namespace was refused: {out.stderr.strip()}"
    return None


SANDBOX_SCRIPT = textwrap.dedent(
    """
    import json, os, socket, subprocess, sys, threading, time

    def sh(*argv):
        subprocess.run(argv, check=True)

    sh("mount", "-t", "tmpfs", "tmpfs", "/run")
    sh("mount", "-t", "sysfs", "sysfs", "/sys")
    for ns in ("a", "b", "c"):
        sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
    sh("ip", "link", "set", "va", "netns", "a")
    sh("ip", "link", "set", "vb", "netns", "b")
    sh("ip", "-n", "a", "addr", "add", "172.17.0.2/16", "dev", "va")
    sh("ip", "-n", "b", "addr", "add", "172.17.0.3/16", "dev", "vb")
    sh("ip", "-n", "a", "addr", "add", "2001:db8::2/64", "dev", "va", "nodad")
    sh("ip", "-n", "b", "addr", "add", "2001:db8::3/64", "dev", "vb", "nodad")
    for ns, dev in (("a", "va"), ("b", "vb")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    # An agent forked the way a lab's fork server does it: by a process that imported the
    # agent module only (no scapy), the child entering netns b and serving on a socket.
    import labkit.packets.agent
    from labkit.daemon import nsutil
    assert not [m for m in sys.modules if m.startswith("scapy")]
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    forked_pid = os.fork()
    if forked_pid == 0:
        try:
            mine.close()
            fd = os.open("/run/netns/b", os.O_RDONLY)
            nsutil.setns(fd, 0x40000000)
            os.close(fd)
            os.dup2(theirs.fileno(), 0)
            os.dup2(theirs.fileno(), 1)
            theirs.close()
            labkit.packets.agent.serve(0.0)
        finally:
            os._exit(1)
    theirs.close()

    from labkit.packets import describe
    from labkit.packets.agentclient import AgentClient, AgentError, ForkedAgent
    from scapy.layers.inet import ICMP, IP, UDP

    def agent(ns):
        argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "labkit.packets.agent"]
        return AgentClient(argv, call_timeout=30)

    out = {}
    a, b = agent("a"), agent("b")
    out["ready_ms"] = [a.ready_ms, b.ready_ms]
    out["import_ms"] = [a.info["import_ms"], b.info["import_ms"]]
    out["ifaces"] = [a.info["ifaces"], b.info["ifaces"]]

    t = time.perf_counter()
    sid = b.call("sniff_start", iface="vb")
    out["sniff_start_ms"] = (time.perf_counter() - t) * 1000
    pkt = IP(dst="172.17.0.3", id=4242) / UDP(sport=40000, dport=9999) / b"hello"
    out["send"] = a.call("send", spec=describe(pkt))

    # sr1 of an unanswered packet (no route: nobody replies) waits 3 s in a thread, while
    # an ICMP echo sr1, a ping and finally sniff_stop are served meanwhile.
    slow = {}
    def slow_sr1():
        t0 = time.perf_counter()
        slow["value"] = a.call(
            "sr1", spec=describe(IP(dst="172.17.0.99") / UDP(dport=7) / b"?"), timeout=3
        )
        slow["ms"] = (time.perf_counter() - t0) * 1000
    waiter = threading.Thread(target=slow_sr1)
    waiter.start()
    time.sleep(0.2)
    t = time.perf_counter()
    r = a.call("sr1", spec=describe(IP(dst="172.17.0.3") / ICMP(id=77, seq=5) / b"probe"),
               timeout=2)
    out["sr1_call_ms"] = (time.perf_counter() - t) * 1000
    out["sr1"] = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in r.items()}
    t = time.perf_counter()
    out["ping"] = a.call("ping", dst="172.17.0.3", count=3)
    out["ping_call_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    frames = b.call("sniff_stop", sid=sid)
    out["sniff_stop_ms"] = (time.perf_counter() - t) * 1000
    out["slow_running_at_stop"] = waiter.is_alive()
    waiter.join()
    out["slow"] = slow
    out["frames"] = [(raw.hex(), t, lt) for raw, t, lt in frames]

    # Python-side capture filter; and a bpf filter fails with a clear message.
    sid = b.call("sniff_start", iface="vb", match={"proto": "udp", "port": 9999})
    a.call("send", spec=describe(IP(dst="172.17.0.3") / ICMP() / b"not me"))
    a.call("send", spec=describe(IP(dst="172.17.0.3") / UDP(dport=9999) / b"me"))
    a.call("ping", dst="172.17.0.3")  # a barrier: the UDP frame is in b's queue by now
    out["filtered"] = [raw.hex() for raw, _, _ in b.call("sniff_stop", sid=sid)]
    errors = {}
    for name, kwargs in {
        "bpf": {"iface": "vb", "bpf": "udp"},
        "nodev": {"iface": "nope0"},
    }.items():
        try:
            b.call("sniff_start", **kwargs)
        except AgentError as exc:
            errors[name] = str(exc)
    out["errors"] = errors

    # An agent started before its namespace is wired sees later interfaces and routes.
    c = agent("c")
    sh("ip", "link", "add", "vc", "netns", "c", "type", "veth", "peer", "name", "vc2",
       "netns", "b")
    sh("ip", "-n", "c", "addr", "add", "198.51.100.2/24", "dev", "vc")
    sh("ip", "-n", "b", "addr", "add", "198.51.100.1/24", "dev", "vc2")
    for ns, dev in (("c", "vc"), ("b", "vc2")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", "c", "route", "add", "default", "via", "198.51.100.1")
    out["late_ping"] = c.call("ping", dst="172.17.0.3", timeout=2)
    out["scapy_after_late_ping"] = c.call("ready")["scapy"]
    out["late_send"] = c.call("send", spec=describe(IP(dst="203.0.113.7") / UDP(dport=9)))

    # The forked agent captures and pings without importing scapy; a send imports it.
    f = AgentClient(["forked", "b"], proc=ForkedAgent(mine, forked_pid), call_timeout=30)
    out["forked_ready"] = f.info
    sid = f.call("sniff_start", iface=["vb", "lo"], match={"proto": "icmp"})
    out["forked_ping"] = f.call("ping", dst="172.17.0.2", count=2)
    out["forked_ping_lo"] = f.call("ping", dst="127.0.0.1")
    out["forked_ping_nobody"] = f.call("ping", dst="172.17.0.99", timeout=0.5)
    out["forked_ping6"] = f.call("ping", dst="2001:db8::2", count=2)
    fin = f.call("sniff_finish", sid=sid)
    out["forked_frames"] = [(raw.hex(), t, lt) for raw, t, lt in fin.pop("frames")]
    out["forked_finish"] = fin
    out["forked_scapy_before_send"] = f.call("ready")["scapy"]
    out["forked_send"] = f.call("send", spec=describe(IP(dst="172.17.0.2") / UDP(dport=9)))
    out["forked_scapy_after_send"] = f.call("ready")["scapy"]
    out["scapy_only_sniffing"] = b.call("ready")["scapy"]
    out["scapy_after_late_send"] = c.call("ready")["scapy"]
    out["forked_close"] = f.close()

    out["close"] = [x.close() for x in (a, b, c)] + [a.close()]
    print(json.dumps(out, default=lambda v: v.hex() if isinstance(v, bytes) else repr(v)))
    """
)


@pytest.fixture(scope="module")
def sandbox_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the sandbox script once; its JSON result."""
    reason = _sandbox_refusal()
    if reason is not None:
        pytest.skip(reason)
    script = tmp_path_factory.mktemp("agent") / "sandbox.py"
    script.write_text(SANDBOX_SCRIPT)
    out = subprocess.run(
        [*UNSHARE, sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        env=ENV,
        check=False,
    )
    assert out.returncode == 0, f"sandbox script failed:\n{out.stderr[-4000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.lab
def test_agents_start_in_their_namespace(sandbox_run: dict) -> None:
    assert sandbox_run["ifaces"] == [["lo", "va"], ["lo", "vb"]]
    assert all(0 < ms < 30_000 for ms in sandbox_run["ready_ms"])


@pytest.mark.lab
def test_sent_udp_frame_is_captured_with_its_addresses(sandbox_run: dict) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    # The source address was chosen inside netns a, not by this machine.
    assert sandbox_run["send"] == "IP / UDP 172.17.0.2:40000 > 172.17.0.3:9999 / Raw"
    frames = [(bytes.fromhex(raw), t, lt) for raw, t, lt in sandbox_run["frames"]]
    assert all(lt == 1 for _, _, lt in frames)
    udp = [Ether(raw) for raw, _, _ in frames if UDP in Ether(raw)]
    hello = [p for p in udp if p[UDP].dport == 9999]
    assert len(hello) == 1, [p.summary() for p in udp]
    p = hello[0]
    assert (p[IP].src, p[IP].dst, p[IP].id) == ("172.17.0.2", "172.17.0.3", 4242)
    assert (p[UDP].sport, bytes(p[UDP].payload)) == (40000, b"hello")
    times = [t for _, t, _ in frames]
    assert times == sorted(times) and times[0] > 1e9


@pytest.mark.lab
def test_sr1_gets_the_echo_reply(sandbox_run: dict) -> None:
    from scapy.layers.inet import ICMP, IP

    r = sandbox_run["sr1"]
    sent, reply = IP(bytes.fromhex(r["sent"])), IP(bytes.fromhex(r["reply"]))
    assert sent.src == "172.17.0.2" and sent[ICMP].type == 8
    assert (reply.src, reply.dst) == ("172.17.0.3", "172.17.0.2")
    assert reply[ICMP].type == 0 and reply[ICMP].id == 77 and reply[ICMP].seq == 5
    assert bytes(reply[ICMP].payload) == b"probe"
    assert r["reply_linktype"] == 228 and 0 < r["rtt_ms"] < 1000
    # ... while an unanswered sr1 was still waiting in another thread.
    assert sandbox_run["slow_running_at_stop"]
    assert sandbox_run["slow"]["value"]["reply"] is None
    assert sandbox_run["slow"]["ms"] >= 2900


@pytest.mark.lab
def test_ping_and_capture_of_the_echoes(sandbox_run: dict) -> None:
    from scapy.layers.inet import ICMP
    from scapy.layers.l2 import Ether

    ping = sandbox_run["ping"]
    assert [e["seq"] for e in ping] == [0, 1, 2]
    assert all(e["reply_from"] == "172.17.0.3" and 0 < e["rtt_ms"] < 1000 for e in ping)
    echoes = [
        Ether(bytes.fromhex(raw))
        for raw, _, _ in sandbox_run["frames"]
        if ICMP in Ether(bytes.fromhex(raw))
    ]
    requests = [p for p in echoes if p[ICMP].type == 8]
    replies = [p for p in echoes if p[ICMP].type == 0]
    assert len(requests) >= 4 and len(replies) >= 4  # sr1 + 3 pings


@pytest.mark.lab
def test_capture_filter_and_clear_errors(sandbox_run: dict) -> None:
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether

    filtered = [Ether(bytes.fromhex(raw)) for raw in sandbox_run["filtered"]]
    assert [bytes(p[UDP].payload) for p in filtered] == [b"me"]
    assert "tcpdump" in sandbox_run["errors"]["bpf"]
    assert "nope0" in sandbox_run["errors"]["nodev"]


@pytest.mark.lab
def test_agent_follows_namespace_changes_after_start(sandbox_run: dict) -> None:
    assert sandbox_run["late_ping"][0]["reply_from"] == "172.17.0.3"
    assert sandbox_run["late_send"].startswith("IP / UDP 198.51.100.2:")
    assert sandbox_run["close"] == [0, 0, 0, 0]


@pytest.mark.lab
def test_capture_and_ping_never_import_scapy(sandbox_run: dict) -> None:
    """Only send/send_many/sr1 import scapy, in the agent, on first use."""
    import scapy

    assert sandbox_run["forked_ready"]["scapy"] is None
    assert sandbox_run["forked_scapy_before_send"] is None
    assert sandbox_run["scapy_only_sniffing"] is None
    assert sandbox_run["scapy_after_late_ping"] is None
    assert sandbox_run["forked_send"] == "IP / UDP 172.17.0.3:domain > 172.17.0.2:discard"
    assert sandbox_run["forked_scapy_after_send"] == scapy.VERSION
    assert sandbox_run["scapy_after_late_send"] == scapy.VERSION
    assert sandbox_run["forked_close"] == 0


@pytest.mark.lab
def test_forked_agent_pings_and_captures_icmp(sandbox_run: dict) -> None:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Ether

    ping = sandbox_run["forked_ping"]
    assert [e["seq"] for e in ping] == [0, 1]
    assert all(e["reply_from"] == "172.17.0.2" and e["ttl"] == 64 for e in ping)
    assert all(0 < e["rtt_ms"] < 1000 for e in ping)
    assert sandbox_run["forked_ping_lo"][0]["reply_from"] == "127.0.0.1"
    ping6 = sandbox_run["forked_ping6"]
    assert [(e["seq"], e["reply_from"], e["ttl"]) for e in ping6] == [
        (0, "2001:db8::2", 64), (1, "2001:db8::2", 64),
    ]  # fmt: skip
    assert all(0 < e["rtt_ms"] < 1000 for e in ping6)
    assert sandbox_run["forked_ping_nobody"] == [
        {"seq": 0, "rtt_ms": None, "reply_from": None, "ttl": None}
    ]
    frames = [(Ether(bytes.fromhex(raw)), t, lt) for raw, t, lt in sandbox_run["forked_frames"]]
    assert all(lt == 1 and ICMP in p for p, _, lt in frames)
    times = [t for _, t, _ in frames]
    assert times == sorted(times) and times[0] > 1e9
    on_vb = [p for p, _, _ in frames if p[IP].dst in ("172.17.0.2", "172.17.0.3")]
    # two echoes and their replies on vb, each once; the lo echo and reply once each
    # (the outgoing copy on lo is dropped, as tcpdump shows it)
    assert sorted((p[IP].src, p[ICMP].type, p[ICMP].seq) for p in on_vb) == [
        ("172.17.0.2", 0, 0), ("172.17.0.2", 0, 1), ("172.17.0.3", 8, 0), ("172.17.0.3", 8, 1),
    ]  # fmt: skip
    requests = [p for p in on_vb if p[ICMP].type == 8]
    assert all(bytes(p[ICMP].payload).startswith(b"labkit ") for p in requests)
    assert len(bytes(requests[0][ICMP].payload)) == 32 and requests[0][IP].flags == 0
    on_lo = [p for p, _, _ in frames if p[IP].dst == "127.0.0.1"]
    assert sorted(p[ICMP].type for p in on_lo) == [0, 8]
    # 172.17.0.99 has no owner: the ARP query goes unanswered, no ICMP frame is sent
    fin = sandbox_run["forked_finish"]
    assert fin["kernel_drops"] == 0 and fin["limit_reached"] is False
    assert fin["kernel_packets"] >= len(frames)


# --- agents that send nothing: protocol, errors, death ------------------------------------


def test_agent_protocol_errors_and_eof() -> None:
    with AgentClient(AGENT, env=ENV) as agent:
        assert agent.info["pid"] == agent.pid and agent.ready_ms > 0
        with pytest.raises(AgentError, match="unknown op 'nope'"):
            agent.call("nope")
        with pytest.raises(AgentError, match="no capture with id 12345"):
            agent.call("sniff_stop", sid=12345)
        with pytest.raises(AgentError, match="not a scapy layer"):
            agent.call("send", spec=[{"layer": "os.system", "fields": {}}])
        # many threads waiting at once, replies routed by id
        results: dict[int, object] = {}

        def worker(i: int) -> None:
            results[i] = agent.call("ready")["pid"]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {i: agent.pid for i in range(20)}
    t = time.perf_counter()
    assert agent.close() == 0  # idempotent; exited on EOF
    assert time.perf_counter() - t < 1
    with pytest.raises(AgentDied):
        agent.call("ready")


FAKE_AGENT = textwrap.dedent(
    """
    import os, pickle, struct, sys
    from labkit.packets.agent import read_frame, write_frame
    out = sys.stdout.buffer
    req = read_frame(sys.stdin.buffer)
    write_frame(out, {"id": req["id"], "ok": True, "value": {"pid": os.getpid()}})
    read_frame(sys.stdin.buffer)  # the next request: die instead of answering
    print("agent: something went badly wrong", file=sys.stderr)
    sys.exit(3)
    """
)


def test_dead_agent_fails_pending_calls_with_its_stderr() -> None:
    agent = AgentClient([sys.executable, "-c", FAKE_AGENT], env=ENV)
    with pytest.raises(AgentDied) as info:
        agent.call("ping", dst="203.0.113.1")
    text = str(info.value)
    assert "exited with code 3" in text and "something went badly wrong" in text
    assert not agent.alive
    with pytest.raises(AgentDied, match="something went badly wrong"):
        agent.call("ready")
    assert agent.close() == 3


def test_agent_that_never_starts() -> None:
    with pytest.raises(AgentDied, match="No module named"):
        AgentClient([sys.executable, "-m", "labkit.packets.no_such_agent"], env=ENV)
