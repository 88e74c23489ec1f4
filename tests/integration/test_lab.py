"""The lab engine, tested with real namespaces, bridges and packets (no mocks)."""

from __future__ import annotations

import threading

import pytest

from labkit import (
    Conflict,
    InvalidArgument,
    InvalidName,
    InvalidSubnet,
    Lab,
    LabClosed,
    NotFound,
    SubnetExhausted,
)

pytestmark = pytest.mark.lab


def test_article_profile_host(lab: Lab) -> None:
    out = lab.host.exec_run("ifconfig docker0").output
    assert "inet 172.17.42.1  netmask 255.255.0.0" in out
    assert "ether 56:84:7a:fe:97:99" in out
    brctl = lab.host.exec_run("brctl show").output.splitlines()
    assert brctl[1].split()[:3] == ["docker0", "8000.56847afe9799", "no"]
    assert lab.host.sysctl("net.ipv4.ip_forward") == "1"


def test_run_gives_docker_facts(lab: Lab) -> None:
    c1 = lab.run("c1")
    assert (c1.ip, c1.mac) == ("172.17.0.2", "02:42:ac:11:00:02")
    assert c1.veth.startswith("veth") and len(c1.veth) == 11
    int(c1.veth[4:], 16)
    # the kernel agrees: eth0 inside, host end enslaved to docker0
    eth0 = c1.exec_run("ip -o addr show dev eth0").output
    assert "inet 172.17.0.2/16" in eth0
    link = c1.exec_run("cat /sys/class/net/eth0/address").output.strip()
    assert link == "02:42:ac:11:00:02"
    assert lab.host.exec_run(f"cat /sys/class/net/{c1.veth}/master/uevent").output.count(
        "INTERFACE=docker0"
    )
    assert c1.veth in lab.host.exec_run("brctl show docker0").output
    route = c1.exec_run("route -n").output.splitlines()
    assert route[2].split()[:4] == ["0.0.0.0", "172.17.42.1", "0.0.0.0", "UG"]
    assert c1.exec_run("hostname").output.strip() == c1.short_id == c1.id[:12]


def test_sys_shows_each_nodes_own_network(lab: Lab) -> None:
    c1 = lab.run("c1")
    assert sorted(c1.exec_run("ls /sys/class/net").output.split()) == ["eth0", "lo"]
    host_ifs = lab.host.exec_run("ls /sys/class/net").output.split()
    assert {"docker0", "eth0", "lo", c1.veth} <= set(host_ifs)
    assert lab.outside.exec_run("sysctl -n net.ipv4.ip_forward").output.strip() == "0"
    assert lab.host.exec_run("sysctl -n net.ipv4.ip_forward").output.strip() == "1"


def test_addresses_round_robin_in_the_article_profile(lab: Lab) -> None:
    a, b, c = (lab.run(n) for n in ("a1", "b1", "c1"))
    assert [a.ip, b.ip, c.ip] == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
    lab.rm("b1")
    assert lab.host.exec_run(f"ip link show {b.veth}").exit_code != 0
    # Docker ≤ 1.8's ipallocator: the next address after the last one handed out
    d = lab.run("d1")
    assert d.ip == "172.17.0.5" and d.mac == "02:42:ac:11:00:05"
    assert [x.name for x in lab.containers.list()] == ["a1", "c1", "d1"]


def test_addresses_first_free_and_reused_in_the_modern_profile(can_lab: None) -> None:
    with Lab(profile="modern", seed=3) as lab:
        a, b, c = (lab.run(n) for n in ("a1", "b1", "c1"))
        assert [a.ip, b.ip, c.ip] == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
        lab.rm("b1")
        d = lab.run("d1")
        assert d.ip == "172.17.0.3" and d.mac == "02:42:ac:11:00:03"


def test_links_and_ping_between_containers(lab: Lab) -> None:
    c1 = lab.run("c1")
    c2 = lab.run("c2", links={"c1": "web"})
    hosts = c2.exec_run("cat /etc/hosts").output
    assert f"172.17.0.2\tweb {c1.hostname} c1" in hosts
    assert "web" not in c1.exec_run("cat /etc/hosts").output
    r = c2.exec_run("ping -n -c1 -W2 web")
    assert r.exit_code == 0, r.output
    assert "64 bytes from 172.17.0.2" in r.output


def test_nat_needs_masquerade(lab: Lab) -> None:
    c1 = lab.run("c1")
    target = lab.outside.ip
    assert c1.exec_run(["ping", "-n", "-c1", "-W2", target]).exit_code == 0
    ct = lab.host.exec_run("conntrack -L -p icmp").output
    assert f"src=172.17.0.2 dst={target}" in ct
    assert f"src={target} dst=198.51.100.73" in ct  # the reply goes to the uplink: NAT
    assert lab.host.masquerade(False) is False
    assert "MASQUERADE" not in lab.host.exec_run("iptables -t nat -S").output
    assert c1.exec_run(["ping", "-n", "-c1", "-W1", target]).exit_code != 0
    assert lab.host.masquerade(True) is True
    assert c1.exec_run(["ping", "-n", "-c1", "-W2", target]).exit_code == 0


def test_ip_forward_off_breaks_outside_only(lab: Lab) -> None:
    c1, c2 = lab.run("c1"), lab.run("c2")
    lab.host.ip_forward(False)
    assert c1.exec_run(["ping", "-n", "-c1", "-W1", lab.outside.ip]).exit_code != 0
    # bridged traffic between containers does not need forwarding
    assert c1.exec_run(["ping", "-n", "-c1", "-W2", c2.ip]).exit_code == 0
    lab.host.ip_forward(True)
    assert c1.exec_run(["ping", "-n", "-c1", "-W2", lab.outside.ip]).exit_code == 0


def test_docker27_rules(lab: Lab) -> None:
    nat = lab.host.exec_run("iptables -t nat -S").output.splitlines()
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in nat
    assert "-A DOCKER -i docker0 -j RETURN" in nat
    flt = lab.host.exec_run("iptables -S").output.splitlines()
    assert "-P FORWARD DROP" in flt
    assert flt.index("-A FORWARD -j DOCKER-USER") < flt.index(
        "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"
    )
    assert "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP" in flt


def test_stepwise_is_dockers_order(lab: Lab) -> None:
    c = lab.run("c9", stepwise=True)
    cmds = [s["command"] for s in c.steps]
    assert cmds[0].startswith(f"ip link add {c.veth} type veth peer name veth")
    tmp = cmds[0].split()[-1]
    assert cmds[2] == f"ip link set {tmp} netns c9"
    assert cmds[3].startswith(f"ip -n c9 link set {tmp} name eth0")
    assert c.exec_run("ip -o link show eth0").exit_code == 0
    assert lab.host.exec_run(f"ip link show {tmp}").exit_code != 0


def test_snapshot_reads_the_kernel(lab: Lab) -> None:
    c1 = lab.run("c1")
    lab.host.exec_run("ip link add handmade0 type veth peer name handmade1")
    snap = lab.snapshot()
    host_ifs = {link["ifname"] for link in snap["host"]["links"]}
    assert {"docker0", "eth0", c1.veth, "handmade0", "handmade1"} <= host_ifs
    assert {"a": {"node": "host", "ifname": c1.veth}, "b": {"node": "c1", "ifname": "eth0"}} in (
        snap.wires
    )
    vports = [link for link in snap["host"]["links"] if link["ifname"] == c1.veth]
    assert vports[0]["master"] == "docker0"
    routes = snap["c1"]["routes"]
    assert {"dst": "default", "gateway": "172.17.42.1"}.items() <= routes[0].items()
    # c1's MAC is learnt on its veth port once c1 has sent a frame through the bridge
    assert c1.exec_run("ping -n -c1 -W2 172.17.42.1").exit_code == 0
    fdb = lab.snapshot()["host"]["fdb"]
    assert any(f["port"] == c1.veth and f.get("mac") == c1.mac for f in fdb), fdb
    assert (
        "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
        in (snap["host"]["iptables"]["nat"])
    )


def test_exec_run_from_threads(lab: Lab) -> None:
    c1, c2 = lab.run("c1"), lab.run("c2")
    server_done = threading.Event()
    results = {}

    def slow() -> None:
        results["slow"] = c1.exec_run(["sh", "-c", "sleep 1; echo slept"])
        server_done.set()

    t = threading.Thread(target=slow)
    t.start()
    # while c1's command runs, other calls are answered
    fast = [c2.exec_run(["echo", str(i)]).output.strip() for i in range(5)]
    assert fast == ["0", "1", "2", "3", "4"]
    assert not server_done.is_set()
    t.join()
    assert results["slow"].output.strip() == "slept"


def test_errors_leave_the_lab_working(lab: Lab) -> None:
    lab.run("c1")
    with pytest.raises(InvalidName, match=r"\[a-zA-Z0-9\]"):
        lab.run("-bad")
    with pytest.raises(Conflict, match="already in use"):
        lab.run("c1")
    with pytest.raises(NotFound, match="no such container"):
        lab.run("c2", links={"nope": "web"})
    with pytest.raises(NotFound):
        lab.rm("ghost")
    with pytest.raises(InvalidName, match="reserved"):
        lab.run("outside")
    c2 = lab.run("c2")
    assert c2.ip == "172.17.0.3"  # the failed runs took no address
    assert c2.exec_run("ping -n -c1 -W2 172.17.0.2").exit_code == 0


def test_subnet_exhausted(can_lab: None) -> None:
    with Lab(subnet="10.99.0.0/30") as lab:
        c = lab.run("only")
        assert c.ip == "10.99.0.2" and lab.gateway == "10.99.0.1"
        with pytest.raises(SubnetExhausted, match=r"10\.99\.0\.0/30"):
            lab.run("second")
        lab.rm("only")
        assert lab.run("again").ip == "10.99.0.2"


def test_bad_lab_arguments_start_nothing(can_lab: None) -> None:
    with pytest.raises(InvalidSubnet, match="host bits"):
        Lab(subnet="10.99.0.1/24")
    with pytest.raises(InvalidSubnet, match="too small"):
        Lab(subnet="10.99.0.0/31")
    with pytest.raises(InvalidArgument, match="unknown profile"):
        Lab(profile="ancient")


def test_closed_lab_says_so(can_lab: None) -> None:
    lab = Lab()
    c = lab.run("c1")
    lab.close()
    lab.close()  # harmless
    with pytest.raises(LabClosed):
        c.exec_run("true")
    with pytest.raises(LabClosed):
        lab.run("c2")


def test_two_labs_same_names(can_lab: None) -> None:
    with Lab(seed=5) as a, Lab(seed=5) as b:
        ca, cb = a.run("web"), b.run("web")
        assert ca.ip == cb.ip == "172.17.0.2"
        assert ca.exec_run("ping -n -c1 -W2 172.17.0.1").exit_code == 0
        # each lab is its own world: distinct network namespaces everywhere, and breaking
        # lab b's bridge leaves lab a's traffic flowing
        def netns(node) -> str:  # type: ignore[no-untyped-def]
            return str(node.exec_run("readlink /proc/self/ns/net").output.strip())

        spaces = {netns(n) for n in (a.host, b.host, ca, cb)}
        assert len(spaces) == 4 and all(s.startswith("net:[") for s in spaces), spaces
        assert b.host.exec_run("ip link set docker0 down").exit_code == 0
        assert cb.exec_run("ping -n -c1 -W1 172.17.0.1").exit_code != 0
        assert ca.exec_run("ping -n -c1 -W2 172.17.0.1").exit_code == 0
        b.rm("web")
        # removing b's web leaves a's web running and reachable
        assert ca.exec_run("ping -n -c1 -W2 172.17.0.1").exit_code == 0
        assert a.containers.get("web").exec_run("hostname").exit_code == 0


def test_every_node_resolves_only_inside_the_lab(lab: Lab) -> None:
    c1 = lab.run("c1")
    for node in (lab.host, lab.outside, c1):
        conf = node.exec_run("cat /etc/resolv.conf").output
        assert conf.splitlines()[0] == "nameserver 203.0.113.53", (node, conf)
    assert lab.host.exec_run("hostname").output.strip() == "docker-host"
    # `route` without -n looks names up: answered inside the lab, at once
    r = lab.host.exec_run("route", timeout=5)
    assert r.exit_code == 0 and "default" in r.output
    ct = lab.host.exec_run("conntrack -L -p udp --dport 53").output
    assert all("dst=203.0.113.53" in line for line in ct.splitlines() if "dport=53" in line)


def test_seeded_labs_repeat_themselves(can_lab: None) -> None:
    facts = []
    for _ in range(2):
        with Lab(seed=99) as lab:
            c = lab.run("c1")
            mac = lab.host.exec_run(f"cat /sys/class/net/{c.veth}/address").output.strip()
            facts.append((c.id, c.veth, mac))
    assert facts[0] == facts[1]
