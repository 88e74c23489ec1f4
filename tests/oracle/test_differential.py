"""The differential suite: each scenario on a real Docker Engine (20.10) and on a ``Lab()``
(modern profile), read with the same tools (the machine's iproute2 ``-j`` and
``iptables-save``, entered into each namespace), normalised only where values are random
(ids, hostnames, MACs, veth and bridge names), and compared.

Where Docker 20.10 and the Docker labkit imitates (27) are known to differ, the test states
the difference as an explicit expectation with its source; nothing is skipped.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from readers import ENV, DockerSide, LabSide, addrs, iptables_rules, links, routes, run_in
from support.dockerd import DockerEngine

from labkit import Lab, LabkitError

# -------------------------------------------------------------- Docker 20.10 vs 27
#: the engine host's resolv.conf: the lab host's options, the engine's own upstream
HOST_RESOLV = "nameserver 198.51.100.1\noptions timeout:1 attempts:1\n"
#: what Docker 20.10 derives from it on a user-defined network (measured)
EMBEDDED_RESOLV = "nameserver 127.0.0.11\noptions timeout:1 attempts:1 ndots:0\n"

#: IPv6 in a container on an IPv4-only network. Docker 17.04 – 25 (so 20.10, measured)
#: set ``net.ipv6.conf.all.disable_ipv6=1`` in the container: no IPv6 anywhere, not even
#: ``::1`` on lo (https://github.com/moby/moby/issues/32433, from
#: https://github.com/moby/moby/issues/20569). Docker ≥ 26 disables IPv6 on eth0 only and
#: lo keeps ``::1`` (https://github.com/moby/moby/pull/47406, discussed in
#: https://github.com/moby/moby/issues/47948); labkit does what 26+ does.
IPV6_ON = {"docker": {"lo": False, "eth0": False}, "lab": {"lo": True, "eth0": False}}


class Pair:
    """The same ``docker`` actions on the engine and on the lab."""

    def __init__(self, eng: DockerEngine, lab: Lab) -> None:
        self.eng, self.lab = eng, lab
        self.d, self.l = DockerSide(eng), LabSide(lab)
        self.sides = (self.d, self.l)

    def run(self, name: str, network: str = "bridge", links: dict[str, str] | None = None,
            ports: dict[str, int] | None = None) -> None:
        argv = ["run", "-d", "--name", name]
        if network != "bridge":  # docker refuses --link with an explicit --network bridge
            argv += ["--network", network]
        for target, alias in (links or {}).items():
            argv += ["--link", f"{target}:{alias}"]
        for cport, hport in (ports or {}).items():
            argv += ["-p", f"{hport}:{cport.split('/')[0]}"]
        self.eng.docker(*argv, "busybox", "sleep", "1d")
        self.lab.run(name, links, ports=ports, network=network)

    def rm(self, name: str) -> None:
        self.eng.docker("rm", "-f", name)
        self.lab.rm(name)

    def network_create(self, name: str) -> None:
        self.eng.docker("network", "create", name)
        self.lab.networks.create(name)

    def connect(self, network: str, name: str) -> None:
        self.eng.docker("network", "connect", network, name)
        self.lab.networks.get(network).connect(name)

    def disconnect(self, network: str, name: str) -> None:
        self.eng.docker("network", "disconnect", network, name)
        self.lab.networks.get(network).disconnect(name)

    def ip_of(self, side: str, name: str, network: str = "bridge") -> str:
        if side == "docker":
            return self.eng.docker(
                "inspect", "-f", f"{{{{.NetworkSettings.Networks.{network}.IPAddress}}}}", name
            ).stdout.strip()
        return self.lab.containers.get(name).networks[network]["ip"]

    def hostnames(self, side: str) -> dict[str, str]:
        """short id (a container's hostname, unless it joined another's namespace) ->
        container name, to normalise /etc/hosts."""
        if side == "docker":
            out = self.eng.docker("ps", "-a", "--format", "{{.ID}} {{.Names}}").stdout
            return dict(line.split() for line in out.splitlines())
        return {c.attrs["short_id"]: c.name for c in self.lab.containers.list()}

    def file(self, side: str, name: str, path: str) -> str:
        text = (self.d if side == "docker" else self.l).file(name, path)
        for hostname, cname in self.hostnames(side).items():
            text = text.replace(hostname, f"<{cname}>")
        return text

    def bridges(self, side: str) -> dict[str, str]:
        """br-<hash> -> br-<network name>."""
        if side == "docker":
            out = self.eng.docker("network", "ls", "--format", "{{.ID}} {{.Name}}").stdout
            return {f"br-{i}": f"br-{n}" for i, n in (ln.split() for ln in out.splitlines())}
        return {n.bridge: f"br-{n.name}" for n in self.lab.networks.list() if n.name != "bridge"}

    def iptables(self, side: str) -> list[str]:
        s = self.d if side == "docker" else self.l
        return iptables_rules(s.iptables(), self.bridges(side))


@pytest.fixture
def pair(engine: DockerEngine) -> Iterator[Pair]:
    """The session's engine (emptied afterwards) beside a fresh lab: for the default bridge,
    whose addresses come back when containers go."""
    with Lab(profile="modern", seed=9) as lab:
        yield Pair(engine, lab)
    ids = engine.docker("ps", "-aq").stdout.split()
    if ids:
        engine.docker("rm", "-f", *ids)


@pytest.fixture
def fresh_pair(engine_factory: Callable[..., DockerEngine]) -> Iterator[Pair]:
    """A fresh engine (~1.5 s) beside a fresh lab, for user-defined networks: Docker 20.10
    remembers the last pool it handed out, so networks would not start at 172.18.0.0/16
    again on a used engine."""
    eng = engine_factory(resolv_conf=HOST_RESOLV)
    with Lab(profile="modern", seed=9) as lab:
        yield Pair(eng, lab)


def both(p: Pair, fn: Callable[[Any], Any]) -> tuple[Any, Any]:
    return fn(p.d), fn(p.l)


# -------------------------------------------------------------- the default bridge
def test_link_attributes_addresses_and_routes(pair: Pair) -> None:
    for n in ("c1", "c2", "c3"):
        pair.run(n)
    d_host, l_host = both(pair, lambda s: links(s, "host"))
    for name in ("docker0", "veth*"):  # the host's eth0 is each harness's own uplink
        assert d_host[name] == l_host[name], name
    assert d_host["docker0"]["qlen"] is None  # txqueuelen 0: `ip link` prints no qlen
    assert d_host["veth*"]["qlen"] is None
    d_c, l_c = both(pair, lambda s: links(s, "c1"))
    assert d_c == l_c
    assert d_c["eth0"]["qlen"] is None
    d_a, l_a = both(pair, lambda s: addrs(s, "host"))
    assert d_a["docker0"] == l_a["docker0"] == [
        ("inet", "172.17.0.1", 16, "172.17.255.255", "global")
    ]
    d_a, l_a = both(pair, lambda s: addrs(s, "c1"))
    assert d_a == l_a
    assert d_a["eth0"] == [("inet", "172.17.0.2", 16, "172.17.255.255", "global")]
    assert both(pair, lambda s: routes(s, "c1")) == (routes(pair.d, "c1"),) * 2
    d_r, l_r = both(pair, lambda s: [r for r in routes(s, "host") if r[2] == "docker0"])
    assert d_r == l_r
    # IPv6: the one known 20.10-vs-27 difference here (IPV6_ON)
    for side in pair.sides:
        for dev in ("lo", "eth0"):
            v6 = [i for a in side.ip("c1", "addr", "show", dev) for i in a.get("addr_info", [])
                  if i["family"] == "inet6"]
            assert bool(v6) is IPV6_ON[side.name][dev], (side.name, dev, v6)


def test_container_sees_no_netns_pins(pair: Pair) -> None:
    for n in ("c1", "c2", "c3"):
        pair.run(n)
    # Docker: the container has its own root filesystem, no /run/netns at all
    assert pair.eng.docker("exec", "c1", "ls", "/run/netns", check=False).returncode != 0
    # labkit: `ip link` inside a container names no other namespace and prints no error
    code, out = pair.lab.containers.get("c1").exec_run("ip -d link show eth0")
    assert code == 0
    assert "Peer netns reference is invalid" not in out
    assert "link-netnsid 0" in out
    code, out = pair.lab.containers.get("c1").exec_run("ls /run/netns")
    assert out.strip() == ""


def test_run_link_rm_reuse_and_twenty_containers(pair: Pair) -> None:
    pair.run("c1")
    pair.run("c2", links={"c1": "web"})
    for side in ("docker", "lab"):
        assert pair.file(side, "c2", "/etc/hosts").splitlines()[-2:] == [
            "172.17.0.2\tweb <c1> c1", "172.17.0.3\t<c2>"
        ], side
    assert pair.file("docker", "c2", "/etc/hosts") == pair.file("lab", "c2", "/etc/hosts")
    for i in range(3, 21):
        pair.run(f"c{i}")
    ips = {side: [pair.ip_of(side, f"c{i}") for i in range(1, 21)] for side in ("docker", "lab")}
    assert ips["docker"] == ips["lab"] == [f"172.17.0.{i}" for i in range(2, 22)]
    pair.rm("c5")
    pair.rm("c9")
    pair.run("c21")
    pair.run("c22")
    for side in ("docker", "lab"):  # first free, lowest first (libnetwork's bitmap)
        assert [pair.ip_of(side, "c21"), pair.ip_of(side, "c22")] == [
            "172.17.0.6", "172.17.0.10"
        ], side
    # the same rules for twenty containers as for one
    assert pair.iptables("docker") == pair.iptables("lab")


def test_resolv_conf_default_bridge(pair: Pair) -> None:
    pair.run("c1")
    # Docker copies the host's resolv.conf (minus localhost servers): each side's host
    host_conf = {"docker": pair.eng.sandbox("cat", "/etc/resolv.conf").stdout,
                 "lab": pair.lab.host.exec_run("cat /etc/resolv.conf").output}
    for side in ("docker", "lab"):
        assert pair.file(side, "c1", "/etc/resolv.conf") == host_conf[side], side


# -------------------------------------------------------------- user-defined networks
def test_user_defined_network_connect_and_default_route(fresh_pair: Pair) -> None:
    pair = fresh_pair
    pair.run("c1")
    pair.network_create("appnet")
    pair.network_create("net2")
    assert pair.iptables("docker") == pair.iptables("lab")
    d_h, l_h = both(pair, lambda s: links(s, "host"))
    assert d_h["br-*"] == l_h["br-*"]
    d_a, l_a = both(pair, lambda s: addrs(s, "host"))
    assert d_a["br-*"] == l_a["br-*"]
    pair.connect("appnet", "c1")  # "appnet" < "bridge": the default route moves to eth1
    d_r, l_r = both(pair, lambda s: routes(s, "c1"))
    assert d_r == l_r
    assert ("default", "172.18.0.1", "eth1", None, None, None) in d_r
    assert both(pair, lambda s: addrs(s, "c1")) == (addrs(pair.d, "c1"),) * 2
    pair.connect("net2", "c1")  # "net2" > "appnet": it stays on appnet's gateway
    d_r, l_r = both(pair, lambda s: routes(s, "c1"))
    assert d_r == l_r
    assert ("default", "172.18.0.1", "eth1", None, None, None) in d_r
    for side in ("docker", "lab"):
        assert pair.file(side, "c1", "/etc/resolv.conf") == (
            EMBEDDED_RESOLV
        ), side


def test_default_route_after_each_connect_and_disconnect(fresh_pair: Pair) -> None:
    pair = fresh_pair
    """libnetwork's gateway endpoint is the one whose network name sorts first; interface
    names count up and are never reused."""
    pair.run("c1")
    for n in ("appnet", "net2", "net3"):
        pair.network_create(n)
    steps: list[tuple[Callable[[], None], tuple[str, str]]] = [
        (lambda: pair.connect("net2", "c1"), ("172.17.0.1", "eth0")),
        (lambda: pair.connect("appnet", "c1"), ("172.18.0.1", "eth2")),
        (lambda: pair.disconnect("appnet", "c1"), ("172.17.0.1", "eth0")),
        (lambda: pair.connect("net3", "c1"), ("172.17.0.1", "eth0")),
        (lambda: pair.disconnect("bridge", "c1"), ("172.19.0.1", "eth1")),
        (lambda: pair.connect("bridge", "c1"), ("172.17.0.1", "eth4")),
    ]
    for i, (act, (gw, dev)) in enumerate(steps):
        act()
        d_r, l_r = both(pair, lambda s: routes(s, "c1"))
        assert d_r == l_r, i
        assert ("default", gw, dev, None, None, None) in d_r, (i, d_r)
        assert both(pair, lambda s: addrs(s, "c1")) == (addrs(pair.d, "c1"),) * 2, i
    for side in ("docker", "lab"):  # resolv.conf stays on the embedded DNS
        assert pair.file(side, "c1", "/etc/resolv.conf") == (
            EMBEDDED_RESOLV
        ), side


def test_network_named_after_bridge_keeps_the_default_route(fresh_pair: Pair) -> None:
    pair = fresh_pair
    pair.run("c1")
    pair.network_create("zeta")  # "bridge" < "zeta": the default route stays on eth0
    pair.connect("zeta", "c1")
    d_r, l_r = both(pair, lambda s: routes(s, "c1"))
    assert d_r == l_r
    assert ("default", "172.17.0.1", "eth0", None, None, None) in d_r


def test_names_and_links_on_a_user_defined_network(fresh_pair: Pair) -> None:
    pair = fresh_pair
    pair.network_create("appnet")
    pair.run("u1", network="appnet")
    pair.run("u2", network="appnet", links={"u1": "web"})
    for side in ("docker", "lab"):
        assert pair.file(side, "u2", "/etc/resolv.conf") == (
            EMBEDDED_RESOLV
        ), side
    # on a user-defined network --link writes nothing to /etc/hosts (the embedded DNS
    # answers the alias instead)
    assert pair.file("docker", "u2", "/etc/hosts") == pair.file("lab", "u2", "/etc/hosts")
    assert "web" not in pair.file("docker", "u2", "/etc/hosts")
    out = pair.eng.docker("exec", "u2", "nslookup", "u1", check=False).stdout
    assert "172.18.0.2" in out
    code, out = pair.lab.containers.get("u2").exec_run("getent hosts u1")
    assert out.split()[:1] == ["172.18.0.2"]
    out = pair.eng.docker("exec", "u2", "nslookup", "web", check=False).stdout
    assert "172.18.0.2" in out
    code, out = pair.lab.containers.get("u2").exec_run("getent hosts web")
    assert out.split()[:1] == ["172.18.0.2"], (code, out)


def test_pool_order_after_removal(engine_factory: Callable[..., DockerEngine]) -> None:
    """From a fresh engine: three networks, the middle one removed, two more created."""
    eng = engine_factory()
    got = {}
    for n in ("n1", "n2", "n3"):
        eng.docker("network", "create", n)
    eng.docker("network", "rm", "n2")
    for n in ("n4", "n5"):
        eng.docker("network", "create", n)
    fmt = "{{range .IPAM.Config}}{{.Subnet}}{{end}}"
    got["docker"] = [eng.docker("network", "inspect", "-f", fmt, n).stdout.strip()
                     for n in ("n1", "n3", "n4", "n5")]
    with Lab(profile="modern") as lab:
        for n in ("n1", "n2", "n3"):
            lab.networks.create(n)
        lab.networks.get("n2").remove()
        for n in ("n4", "n5"):
            lab.networks.create(n)
        got["lab"] = [lab.networks.get(n).subnet for n in ("n1", "n3", "n4", "n5")]
    # Docker 20.10 (measured): the predefined pools are handed out round robin, a cursor
    # past the last pool given (https://github.com/moby/libnetwork/pull/2177,
    # predefinedStartIndex): n4 takes the pool after n3's, not n2's freed one. Docker 27's
    # linear allocator (https://github.com/moby/moby/pull/47768, allocatePredefinedPool)
    # walks the pools from the first and takes the first free one, as labkit does.
    assert got["docker"] == ["172.18.0.0/16", "172.20.0.0/16", "172.21.0.0/16",
                             "172.22.0.0/16"]
    assert got["lab"] == ["172.18.0.0/16", "172.20.0.0/16", "172.19.0.0/16",
                          "172.21.0.0/16"]


# -------------------------------------------------------------- ports, icc, isolation
def test_published_port_rules_and_proxy(pair: Pair) -> None:
    pair.run("p1", ports={"80/tcp": 8080})
    assert pair.iptables("docker") == pair.iptables("lab")
    d_proxy, l_proxy = _proxies(pair.eng, pair.lab)
    v4 = ["-proto", "tcp", "-host-ip", "0.0.0.0", "-host-port", "8080",
          "-container-ip", "172.17.0.2", "-container-port", "80"]
    assert l_proxy == [v4]
    # Docker 20.10 also starts a proxy on "::" (the engine's host has IPv6); labkit's host
    # has no IPv6 uplink, so it runs only the IPv4 one
    assert d_proxy == [v4, [a if a != "0.0.0.0" else "::" for a in v4]]


def _proxies(eng: DockerEngine, lab: Lab) -> tuple[list[list[str]], list[list[str]]]:
    """The userland proxies' arguments: docker-proxy's in the engine, labkit.apps.proxy's in
    the lab (its processes, read from the machine's /proc)."""
    d_ps = eng.sandbox("ps", "-eo", "args").stdout.splitlines()
    d_proxy = [ln.split()[1:] for ln in d_ps if ln.startswith("/usr/sbin/docker-proxy")]
    l_proxy = []
    for pid in _pids_in(lab.sandbox_pid):
        argv = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
        if "labkit.apps.proxy" in argv:
            l_proxy.append(argv[argv.index("labkit.apps.proxy") + 1:-1])
    return d_proxy, l_proxy


def _pids_in(pid1: int) -> list[int]:
    ns = os.readlink(f"/proc/{pid1}/ns/pid")
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                if os.readlink(f"/proc/{e}/ns/pid") == ns:
                    out.append(int(e))
            except OSError:
                pass
    return out


def test_icc_false(engine_factory: Callable[..., DockerEngine]) -> None:
    eng = engine_factory(args=("--icc=false",))
    with Lab(profile="modern", icc=False) as lab:
        p = Pair(eng, lab)
        p.run("c1")
        p.run("c2")
        assert p.iptables("docker") == p.iptables("lab")
        assert "-A FORWARD -i docker0 -o docker0 -j DROP" in p.iptables("lab")
        # the observable result: c2 cannot ping c1 on either
        assert eng.docker("exec", "c2", "ping", "-c1", "-W1", "172.17.0.2",
                          check=False).returncode != 0
        assert not lab.containers.get("c2").ping("172.17.0.2", timeout=1).ok


def test_isolation_ping_and_tcp(fresh_pair: Pair) -> None:
    pair = fresh_pair
    pair.network_create("appnet")
    pair.network_create("other")
    pair.run("a1", network="appnet")
    pair.run("a2", network="appnet")
    pair.run("o1", network="other")
    assert pair.iptables("docker") == pair.iptables("lab")
    a1 = pair.ip_of("docker", "a1", "appnet")
    assert a1 == pair.ip_of("lab", "a1", "appnet")
    # same network: reachable; across networks: dropped by the isolation chains
    for src, ok in (("a2", True), ("o1", False)):
        d = pair.eng.docker("exec", src, "ping", "-c1", "-W1", a1, check=False).returncode == 0
        lab_ok = pair.lab.containers.get(src).ping(a1, timeout=1).ok
        assert d is ok and lab_ok is ok, (src, d, lab_ok)
    # a TCP exchange a2 -> a1:7: the same bytes back on both (the lab side uses the
    # machine's tools in the container's namespace; Docker's side busybox's nc)
    pair.eng.docker("exec", "-d", "a1", "nc", "-l", "-p", "7", "-e", "cat")
    d_out = pair.eng.docker("exec", "a2", "sh", "-c", f"echo hello | nc -w1 {a1} 7",
                            check=False).stdout
    server = subprocess.Popen(
        ["nsenter", "-t", str(pair.l.pid("a1")), "-n", "--", "busybox", "nc", "-l", "-p", "7",
         "-e", "cat"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lab_out = ""
        for _ in range(20):
            r = subprocess.run(
                ["nsenter", "-t", str(pair.l.pid("a2")), "-n", "--", "busybox", "sh", "-c",
                 f"echo hello | busybox nc -w1 {a1} 7"], capture_output=True, text=True,
                env=ENV)
            lab_out = r.stdout
            if lab_out:
                break
    finally:
        server.kill()
        server.wait()
    assert d_out == lab_out == "hello\n"


def test_dns_upstream_leaves_from_the_container(pair: Pair) -> None:
    """The embedded DNS forwards what it does not know from inside the container's network
    namespace (libnetwork resolver.go: ``r.backend.ExecFunc(extConnect)``): on the way out
    the query's source is the container's address, masqueraded at the uplink."""
    pair.lab.networks.create("dnsnet")
    u = pair.lab.run("q1", network="dnsnet")
    point = "host:" + pair.lab.networks.get("dnsnet").bridge
    with pair.lab.capture(point, proto="udp", port=53) as cap:
        code, out = u.exec_run("getent hosts www.example.com")
    assert out.split()[:1] == ["203.0.113.10"], (code, out)
    pkts = cap[point]
    sources = {p["IP"].src for p in pkts if p.haslayer("IP") and p["UDP"].dport == 53}
    assert sources == {u.ip}
    assert ipaddress.ip_address(u.ip) in ipaddress.ip_network("172.18.0.0/16")
    assert re.match(r"\d+\.\d+\.\d+\.\d+", u.ip)


def test_rm_of_a_container_others_joined(pair: Pair) -> None:
    """``docker rm -f`` of a container whose namespace another joined: both engines remove
    it; the joiner keeps running in the namespace, with only ``lo`` left and its
    ``/etc/hosts`` unchanged (labkit: ``modes.hand_over``)."""
    pair.run("c1")
    pair.run("c2", network="container:c1")
    hosts = {side: pair.file(side, "c2", "/etc/hosts") for side in ("docker", "lab")}
    assert hosts["docker"] == hosts["lab"]
    assert hosts["docker"].splitlines()[-1] == "172.17.0.2\t<c1>"  # c1's hostname, shared
    raw = [s.file("c2", "/etc/hosts") for s in pair.sides]
    for s in pair.sides:
        assert sorted(ln["ifname"] for ln in s.ip("c2", "link")) == ["eth0", "lo"], s.name
    pair.rm("c1")
    names = pair.eng.docker("ps", "--format", "{{.Names}}").stdout.split()
    assert names == ["c2"] and [c.name for c in pair.lab.containers.list()] == ["c2"]
    for s in pair.sides:
        assert [ln["ifname"] for ln in s.ip("c2", "link")] == ["lo"], s.name
        assert [a["ifname"] for a in s.ip("c2", "-4", "addr")] == ["lo"], s.name
    # each side's file unchanged: c1's line stays, under c1's hostname (c2's too)
    for s, before in zip(pair.sides, raw, strict=True):
        assert s.file("c2", "/etc/hosts") == before, s.name
    assert pair.eng.docker("exec", "c2", "hostname").stdout.strip() in raw[0]
    assert pair.lab.containers.get("c2").exec_run("hostname").output.strip() in raw[1]


def test_published_port_over_ipv6(engine_factory: Callable[..., DockerEngine]) -> None:
    """``-p 8080:80`` with ``"ipv6": true`` and ``ip6tables`` (experimental in 20.10, the
    default in 27): the same port rules in ip6tables as in iptables, for the container's
    IPv6 address, and the proxy on ``::`` forwards to that address."""
    eng = engine_factory(daemon_config={
        "ipv6": True, "fixed-cidr-v6": "fd00:db8:1::/64", "experimental": True, "ip6tables": True,
    })
    with Lab(profile="modern", seed=9, ipv6=True) as lab:
        eng.docker("run", "-d", "--name", "p6", "-p", "8080:80", "busybox", "sleep", "1d")
        lab.run("p6", ports={"80/tcp": 8080})
        d_ip6 = eng.docker(
            "inspect", "-f", "{{.NetworkSettings.GlobalIPv6Address}}", "p6"
        ).stdout.strip()
        l_ip6 = lab.containers.get("p6").ip6
        assert d_ip6 and l_ip6

        def port_rules(save: str, ip6: str) -> list[str]:
            return sorted(ln.replace(ip6, "<p6>") for ln in save.splitlines()
                          if ip6 in ln or "--dport 8080" in ln)

        d_rules = port_rules(eng.sandbox("ip6tables-save").stdout, d_ip6)
        l_rules = port_rules(run_in(LabSide(lab).pid("host"), "ip6tables-save").stdout, l_ip6)
        assert len(d_rules) == 3 and d_rules == l_rules  # DNAT, ACCEPT, hairpin MASQUERADE
        dnat = "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT"
        assert f"{dnat} --to-destination [<p6>]:80" in l_rules

        d_proxy, l_proxy = _proxies(eng, lab)
        six = [["<p6>" if a in (d_ip6, l_ip6) else a for a in argv] for argv in (d_proxy + l_proxy)]
        d_six, l_six = six[:len(d_proxy)], six[len(d_proxy):]
        assert sorted(d_six) == sorted(l_six)
        assert ["-proto", "tcp", "-host-ip", "::", "-host-port", "8080",
                "-container-ip", "<p6>", "-container-port", "80"] in l_six


def test_run_and_connect_with_ip(fresh_pair: Pair) -> None:
    """``docker run --ip`` and ``network connect --ip``: the same addresses, and the same
    refusals (default bridge, a pool-chosen subnet, taken, outside, not an address)."""
    p = fresh_pair
    p.eng.docker("network", "create", "--subnet", "10.30.0.0/24", "fixed")
    p.eng.docker("network", "create", "pooled")
    p.lab.networks.create("fixed", subnet="10.30.0.0/24")
    p.lab.networks.create("pooled")
    p.eng.docker("run", "-d", "--name", "web", "--network", "fixed", "--ip", "10.30.0.50",
                 "busybox", "sleep", "1d")  # fmt: skip
    p.lab.run("web", network="fixed", ip="10.30.0.50")
    p.run("next", network="fixed")
    p.run("c1")
    p.eng.docker("network", "connect", "--ip", "10.30.0.60", "fixed", "c1")
    p.lab.networks.get("fixed").connect("c1", ipv4_address="10.30.0.60")
    for name in ("web", "next", "c1"):
        assert p.ip_of("docker", name, "fixed") == p.ip_of("lab", name, "fixed"), name
    assert [p.ip_of("lab", n, "fixed") for n in ("web", "next", "c1")] == [
        "10.30.0.50", "10.30.0.2", "10.30.0.60"]
    cases = [
        (["--network", "bridge", "--ip", "172.17.0.50"], {"ip": "172.17.0.50"}),
        (["--network", "pooled", "--ip", "172.19.0.50"],
         {"network": "pooled", "ip": "172.19.0.50"}),
        (["--network", "fixed", "--ip", "10.30.0.50"], {"network": "fixed", "ip": "10.30.0.50"}),
        (["--network", "fixed", "--ip", "10.30.0.1"], {"network": "fixed", "ip": "10.30.0.1"}),
        (["--network", "fixed", "--ip", "10.99.0.5"], {"network": "fixed", "ip": "10.99.0.5"}),
    ]
    for i, (flags, kwargs) in enumerate(cases):
        r = p.eng.docker("run", "-d", "--name", f"bad{i}", *flags, "busybox", "sleep", "1d",
                         check=False)  # fmt: skip
        docker_said = r.stderr.strip().removeprefix("docker: Error response from daemon: ")
        with pytest.raises(LabkitError) as err:
            p.lab.run(f"bad{i}", **kwargs)  # type: ignore[arg-type]
        assert r.returncode != 0
        # labkit's message starts with dockerd's words (then says what to do)
        assert str(err.value).startswith(docker_said.rstrip(".")), (docker_said, err.value)
