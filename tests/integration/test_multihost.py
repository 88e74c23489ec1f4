"""Several Docker hosts on one LAN, and overlay networks across them: real VXLAN traffic."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.vxlan import VXLAN

from labkit import Conflict, InvalidArgument, Lab, NotFound

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def swarm(can_lab: None):  # type: ignore[no-untyped-def]
    with Lab(hosts=2, seed=12) as lab:
        lab.networks.create("ov", driver="overlay")
        lab.run("c1", network="ov")
        lab.run("c2", network="ov", host="host2")
        yield lab


def test_hosts_on_one_lan(swarm: Lab) -> None:
    assert [h.name for h in swarm.hosts] == ["host", "host2"]
    assert swarm.hosts[0] is swarm.host
    h2 = swarm.node("host2")
    assert h2.ip == "198.51.100.74" and swarm.host.ip == "198.51.100.73"
    # a full Docker host: its own docker0, forwarding and Docker's rules
    assert "inet 172.17.0.1/16" in h2.exec_run("ip addr show docker0").output
    assert h2.sysctl("net.ipv4.ip_forward") == "1"
    nat = h2.exec_run("iptables -t nat -S POSTROUTING").output
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in nat
    # the outside is the LAN's switch: both uplinks are ports of its bridge
    links = swarm.outside.exec_run("ip -o link show master br-lan").output
    assert " eth0@" in links and " eth1@" in links
    assert swarm.host.ping(h2.ip)


def test_bridge_container_on_the_second_host_goes_out_through_its_nat(swarm: Lab) -> None:
    b = swarm.run("b2", host="host2")
    try:
        assert b.ip == "172.17.0.2"  # host2's own docker0, its own allocator
        with swarm.capture("outside:eth1", proto="icmp") as cap:
            assert b.ping(swarm.outside.ip)
        assert cap["outside:eth1"][0][IP].src == "198.51.100.74"
    finally:
        swarm.rm("b2")


def test_overlay_network_as_docker_allocates_it(swarm: Lab) -> None:
    ov = swarm.networks.get("ov")
    assert ov.attrs["driver"] == "overlay" and ov.attrs["vni"] == 4097
    assert ov.subnet == "10.0.1.0/24" and ov.gateway == "10.0.1.1"  # 10.0.0.0/24 is ingress
    c1, c2 = swarm.containers.get("c1"), swarm.containers.get("c2")
    # as in a real two-node swarm: each host's load-balancer endpoint takes the address
    # after its first container (c1 .2, host's lb .3, c2 .4, host2's lb .5), and each
    # host's ingress_sbox holds docker_gwbridge's .2
    assert (c1.ip, c2.ip) == ("10.0.1.2", "10.0.1.4") and c1.mac == "02:42:0a:00:01:02"
    lbs = {h: swarm.node(h).exec_run(["ip", "-n", f"{h}-lb_{ov.id[:9]}", "-br", "-4", "addr",
                                      "show", "eth0"]).output.split()[2:]  # fmt: skip
           for h in ("host",)}  # fmt: skip
    assert lbs == {"host": ["10.0.1.3/24"]}
    out = c1.exec_run("ip -o link show eth0").output
    assert "mtu 1450" in out
    assert c1.networks["docker_gwbridge"]["ip"] == "172.18.0.3"
    assert "default via 172.18.0.1 dev eth1" in c1.exec_run("ip route").output


def test_overlay_namespace_holds_bridge_vxlan_and_gossip_entries(swarm: Lab) -> None:
    ov = swarm.networks.get("ov")
    ns = f"host-1-{ov.id[:10]}"
    vx = swarm.host.exec_run(["ip", "netns", "exec", ns, "ip", "-d", "link", "show", "vxlan0"])
    assert "vxlan id 4097" in vx.output and "dstport 4789" in vx.output
    assert "master br0" in vx.output and "l2miss l3miss" in vx.output
    fdb = swarm.host.exec_run(["ip", "netns", "exec", ns, "bridge", "fdb", "show", "dev",
                               "vxlan0"]).output  # fmt: skip
    assert "02:42:0a:00:01:04 dst 198.51.100.74" in fdb and "self permanent" in fdb
    assert "02:42:0a:00:01:05 dst 198.51.100.74" in fdb  # host2's load-balancer endpoint
    neigh = swarm.host.exec_run(["ip", "netns", "exec", ns, "ip", "neigh"]).output
    assert "10.0.1.4 dev vxlan0 lladdr 02:42:0a:00:01:04 PERMANENT" in neigh
    br = swarm.host.exec_run(["ip", "netns", "exec", ns, "ip", "addr", "show", "br0"]).output
    assert "inet 10.0.1.1/24" in br


def test_cross_host_ping_is_vxlan_on_both_uplinks(swarm: Lab) -> None:
    c1, c2 = swarm.containers.get("c1"), swarm.containers.get("c2")
    assert c1.ping(c2.ip)
    with swarm.capture("host:eth0", "host2:eth0", proto="udp", port=4789) as cap:
        assert c1.ping(c2.ip)
    for point, (src, dst) in {
        "host:eth0": ("198.51.100.73", "198.51.100.74"),
        "host2:eth0": ("198.51.100.73", "198.51.100.74"),
    }.items():
        pkt = cap[point][0]
        assert (pkt[IP].src, pkt[IP].dst, pkt[UDP].dport) == (src, dst, 4789)
        assert pkt[VXLAN].vni == 4097
        inner = pkt[VXLAN].payload
        assert (inner[IP].src, inner[IP].dst, inner[ICMP].type) == (c1.ip, c2.ip, 8)
    # and back: the reply is encapsulated by host2
    back = [p for p in cap["host:eth0"] if p[IP].src == "198.51.100.74"]
    assert back and back[0][VXLAN].payload[ICMP].type == 0


def test_names_resolve_across_hosts(swarm: Lab) -> None:
    r = swarm.containers.get("c1").exec_run("ping -c1 -W2 c2")
    assert r.exit_code == 0 and "10.0.1.4" in r.output, r.output


def test_gwbridge_carries_outbound_traffic_with_nat(swarm: Lab) -> None:
    c1 = swarm.containers.get("c1")
    with swarm.capture("host:docker_gwbridge", "host:eth0", proto="icmp") as cap:
        assert c1.ping(swarm.outside.ip)
    assert cap["host:docker_gwbridge"][0][IP].src == "172.18.0.3"
    assert cap["host:eth0"][0][IP].src == "198.51.100.73"
    flt = swarm.host.exec_run("iptables -S FORWARD").output
    assert "-A FORWARD -i docker_gwbridge -o docker_gwbridge -j DROP" in flt  # ICC off


def test_two_overlays_are_isolated(swarm: Lab) -> None:
    ov2 = swarm.networks.create("ov2", driver="overlay")
    try:
        assert ov2.attrs["vni"] == 4098 and ov2.subnet == "10.0.2.0/24"
        d1 = swarm.run("d1", network="ov2", host="host2")
        d2 = swarm.run("d2", network="ov2")
        assert d1.ping(d2.ip)  # across hosts on their own VNI
        assert not d1.ping(swarm.containers.get("c1").ip, timeout=1)
        assert not d2.ping(swarm.containers.get("c2").ip, timeout=1)
        fdb = swarm.host.exec_run(["ip", "netns", "exec", f"host-1-{ov2.id[:10]}", "bridge",
                                   "fdb", "show", "dev", "vxlan0"]).output  # fmt: skip
        assert "02:42:0a:00:01:04" not in fdb  # ov's peers are not ov2's
    finally:
        for name in ("d1", "d2"):
            if name in swarm.containers:
                swarm.rm(name)
        ov2.remove()
    assert "ov2" not in [n.name for n in swarm.networks.list()]


def test_container_on_an_overlay_and_a_bridge_network(swarm: Lab) -> None:
    app = swarm.networks.create("appnet")
    try:
        e1 = swarm.run("e1", network="ov")
        web = swarm.run("web", network="appnet")
        app.connect(e1)
        e1.reload()
        assert set(e1.networks) == {"ov", "appnet"}  # appnet now gives the default route
        assert e1.ping(web.ip)  # the bridge network, on this host
        assert e1.ping(swarm.containers.get("c2").ip)  # the overlay, across hosts
    finally:
        for name in ("e1", "web"):
            if name in swarm.containers:
                swarm.rm(name)
        app.remove()


def test_connect_and_disconnect_as_dockerd_does(swarm: Lab) -> None:
    """Measured on dockerd 20.10: a bridge container connected to an overlay keeps its
    default route (an overlay gives none) and gets no docker_gwbridge; an overlay container
    connected to a bridge network loses its docker_gwbridge interface, and gets it back when
    that network leaves."""
    ov, c2 = swarm.networks.get("ov"), swarm.containers.get("c2")
    b = swarm.run("b3")  # docker0 on the first host
    app = swarm.networks.create("app2")
    g = swarm.run("g1", network="ov", host="host")
    try:
        ov.connect(b)
        b.reload()
        assert sorted(b.networks) == ["bridge", "ov"] and b.networks["ov"]["ifname"] == "eth1"
        assert "default via 172.17.0.1 dev eth0" in b.exec_run("ip route").output
        assert "mtu 1450" in b.exec_run("ip link show eth1").output
        assert b.ping(c2.ip)  # across the tunnel from a bridge container
        assert c2.exec_run(["ping", "-c1", "-W2", "b3"]).exit_code == 0  # and by name
        ov.disconnect(b)
        assert not b.ping(c2.ip, timeout=0.5)
        app.connect(g)
        g.reload()
        assert sorted(g.networks) == ["app2", "ov"]  # docker_gwbridge's eth1 went
        assert g.networks["app2"]["ifname"] == "eth2"
        assert "default via 172.19.0.1 dev eth2" in g.exec_run("ip route").output
        app.disconnect(g)
        g.reload()
        assert sorted(g.networks) == ["docker_gwbridge", "ov"]  # back, as eth3
        assert "default via 172.18.0.1 dev eth3" in g.exec_run("ip route").output
        assert g.ping(swarm.outside.ip)
    finally:
        for name in ("b3", "g1"):
            swarm.rm(name)
        app.remove()


def test_rm_makes_the_other_hosts_forget_the_peer(swarm: Lab) -> None:
    ov = swarm.networks.get("ov")
    f = swarm.run("f2", network="ov", host="host2")
    ns = f"host-1-{ov.id[:10]}"
    show = ["ip", "netns", "exec", ns, "ip", "neigh", "show", "dev", "vxlan0"]
    assert f.ip in swarm.host.exec_run(show).output
    swarm.rm("f2")
    assert f.ip not in swarm.host.exec_run(show).output


def test_bad_input_gets_clear_errors_and_the_lab_stays(swarm: Lab) -> None:
    before = [c.name for c in swarm.containers.list()]
    with pytest.raises(NotFound, match="no Docker host named 'host3'"):
        swarm.run("xx", network="ov", host="host3")
    with pytest.raises(InvalidArgument, match='plugin "weave" not found'):
        swarm.networks.create("xx", driver="weave")
    with pytest.raises(Conflict, match="active endpoints"):
        swarm.networks.get("ov").remove()
    with pytest.raises(InvalidArgument, match="port"):
        swarm.run("xx", network="ov", ports={"80/tcp": 70000})
    with pytest.raises(Conflict, match="already attached"):
        swarm.networks.get("ov").connect("c1")
    with pytest.raises(InvalidArgument, match="not on host2"):
        swarm.networks.create("local")
        swarm.run("xx", network="local", host="host2")
    swarm.networks.get("local").remove()
    with pytest.raises(InvalidArgument, match="first host only"):
        swarm.run("xx", network="none", host="host2")
    with pytest.raises(InvalidArgument, match="first host"):
        swarm.hosts[1].masquerade(False)
    assert [c.name for c in swarm.containers.list()] == before
    assert swarm.containers.get("c1").ping(swarm.containers.get("c2").ip)


WHOAMI = ["python3", "-m", "labkit.apps.whoami"]


def _ask(node, ip: str, port: int) -> str:  # type: ignore[no-untyped-def]
    for _ in range(50):  # until the server listens
        out = node.exec_run([*WHOAMI, "ask", ip, str(port)], timeout=10).output.strip()
        if out.startswith("you are"):
            return out
    return out


def test_ports_published_on_each_host_through_docker_gwbridge(swarm: Lab) -> None:
    """``docker run --network ov -p 8080:80`` on host2: the DNAT in host2's nat table goes to
    the container's docker_gwbridge address (its eth1), as dockerd does; the same host port
    is free on the first host (ports belong to one host), here for a bridge container."""
    h2 = swarm.node("host2")
    web = swarm.run("web", network="ov", host="host2", ports={"80/tcp": 8080})
    local = swarm.run("local1", ports={"80/tcp": 8080})
    try:
        gw_ip = web.networks["docker_gwbridge"]["ip"]
        dnat = f"-j DNAT --to-destination {gw_ip}:80"
        assert f"-A DOCKER ! -i docker_gwbridge -p tcp -m tcp --dport 8080 {dnat}" in (
            h2.exec_run("iptables -t nat -S DOCKER").output
        )
        assert gw_ip not in swarm.host.exec_run("iptables-save").output
        for node in (web, local):
            node.exec_run([*WHOAMI, "80"], detach=True)
        out = _ask(swarm.outside, h2.ip, 8080)
        assert out.startswith("you are 198.51.100.1:") and f"I am {gw_ip}:80" in out, out
        out = _ask(swarm.outside, swarm.host.ip, 8080)
        assert f"I am {local.ip}:80" in out, out
        with pytest.raises(Conflict, match="already allocated"):
            swarm.run("web2", network="ov", host="host2", ports={"80/tcp": 8080})
    finally:
        swarm.rm("web")
        swarm.rm("local1")
    assert gw_ip not in h2.exec_run("iptables-save").output
    assert "-host-port 8080" not in h2.exec_run("ps -e -o args=").output


@pytest.mark.parametrize("hosts", [0, -1, 9, "2", True])
def test_bad_host_counts(hosts: object) -> None:
    with pytest.raises(InvalidArgument, match="hosts"):
        Lab(hosts=hosts)  # type: ignore[arg-type]


def test_several_hosts_and_ipv6_are_refused_together() -> None:
    with pytest.raises(InvalidArgument, match="not built together"):
        Lab(hosts=2, ipv6=True)


def test_overlay_on_a_one_host_lab_is_a_one_node_swarm(can_lab: None) -> None:
    with Lab(seed=3) as lab:
        assert lab.hosts == [lab.host] and "hosts" not in lab.info
        lab.networks.create("ov", driver="overlay")
        a, b = lab.run("a1", network="ov"), lab.run("b1", network="ov")
        assert (a.ip, b.ip) == ("10.0.1.2", "10.0.1.4")  # the host's lb endpoint has .3
        with lab.capture("host:eth0", proto="udp", port=4789) as cap:
            assert a.ping(b.ip)  # through br0 in the overlay namespace: no tunnel needed
        assert len(cap["host:eth0"]) == 0
        assert a.exec_run("ping -c1 -W2 b1").exit_code == 0
        with pytest.raises(NotFound, match="host2"):
            lab.run("c3", host="host2")


def test_the_machine_is_untouched_by_hosts_and_tunnels(can_lab: None) -> None:
    """Several hosts, an overlay and its VXLAN sockets live in the lab's namespaces only."""
    from test_isolation import root_namespace_state

    before = root_namespace_state()
    with Lab(hosts=2, seed=5) as lab:
        lab.networks.create("ov", driver="overlay")
        a, b = lab.run("a1", network="ov"), lab.run("b1", network="ov", host="host2")
        assert a.ping(b.ip) and b.ping(lab.outside.ip)
        during = root_namespace_state()
    assert during == before
    assert root_namespace_state() == before
