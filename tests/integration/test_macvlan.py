"""``docker network create -d macvlan -o parent=eth0``: containers on the LAN, no NAT, and
the host that cannot reach its own macvlan children (until a shim is added)."""

from __future__ import annotations

import pytest

from labkit import InvalidArgument, InvalidSubnet, Lab, NotFound

pytestmark = pytest.mark.lab

LAN = {"subnet": "198.51.100.0/24", "gateway": "198.51.100.1"}


@pytest.fixture(scope="module")
def mvlab(can_lab: None):  # type: ignore[no-untyped-def]
    with Lab(seed=14) as lab:
        lab.networks.create("mv", driver="macvlan", parent="eth0", **LAN)
        yield lab


def test_children_of_the_uplink_in_bridge_mode(mvlab: Lab) -> None:
    m1 = mvlab.run("m1", network="mv")
    try:
        assert (m1.ip, m1.mac, m1.gateway) == ("198.51.100.2", "02:42:c6:33:64:02", "198.51.100.1")
        detail = m1.exec_run("ip -d link show eth0").output
        assert "macvlan mode bridge" in detail
        assert "default via 198.51.100.1 dev eth0" in m1.exec_run("ip route").output
        net = mvlab.networks.get("mv")
        assert (net.driver, net.parent, net.bridge) == ("macvlan", "eth0", "")
        # no bridge, no rules: the host's links and its nat table are unchanged
        assert "macvlan" not in mvlab.host.exec_run("ip -d link").output
        assert "198.51.100.0/24" not in mvlab.host.exec_run("iptables-save").output
    finally:
        mvlab.rm("m1")


def test_the_lan_reaches_them_without_nat(mvlab: Lab) -> None:
    m1, m2 = mvlab.run("m1", network="mv"), mvlab.run("m2", network="mv")
    try:
        assert mvlab.outside.ping(m1.ip)
        assert m1.ping(m2.ip)
        with mvlab.capture("outside:eth0", proto="icmp") as cap:
            assert m1.ping(mvlab.outside.ip)
        request = cap["outside:eth0"][0]
        assert request["IP"].src == m1.ip and request["Ether"].src == m1.mac
        # the child's frames leave through eth0 without entering the host's IP stack:
        # its connection tracking never sees them (no NAT could happen)
        assert len(mvlab.host.conntrack(host=m1.ip)) == 0
    finally:
        mvlab.rm("m1")
        mvlab.rm("m2")


def test_the_host_cannot_reach_its_children_until_a_shim(mvlab: Lab) -> None:
    m1 = mvlab.run("m1", network="mv")
    h = mvlab.host
    try:
        with mvlab.capture("host:eth0", "m1:eth0", "outside:eth0", proto="arp") as cap:
            out = h.exec_run(f"ping -c 1 -W 1 {m1.ip}")
        assert out.exit_code != 0
        # the host's ARP request leaves on the wire; the child on the same eth0 never sees it
        assert any(p["ARP"].pdst == m1.ip for p in cap["outside:eth0"])
        assert not any(p["ARP"].pdst == m1.ip for p in cap["m1:eth0"])
        assert not m1.ping(h.ip, timeout=0.5)
        # the usual fix: a macvlan sibling on the host, with an address and a route
        for cmd in (
            "ip link add mv-shim link eth0 type macvlan mode bridge",
            "ip addr add 198.51.100.254/32 dev mv-shim",
            "ip link set mv-shim up",
            "ip route add 198.51.100.0/26 dev mv-shim",
        ):
            assert h.exec_run(cmd).exit_code == 0, cmd
        assert h.exec_run(f"ping -c 1 -W 1 {m1.ip}").exit_code == 0
        assert m1.exec_run("ping -c 1 -W 1 198.51.100.254").exit_code == 0
    finally:
        h.exec_run("ip link del mv-shim")
        mvlab.rm("m1")


def test_connect_and_disconnect_a_bridge_container(mvlab: Lab) -> None:
    c1 = mvlab.run("c1")
    try:
        mvlab.networks.get("mv").connect(c1)
        c1.reload()
        assert c1.networks["mv"]["ip"] == "198.51.100.2"
        assert mvlab.outside.ping("198.51.100.2")
        mvlab.networks.get("mv").disconnect(c1)
        assert "eth1" not in c1.exec_run("ls /sys/class/net").output.split()
        # the address and the MAC are free again at once
        m9 = mvlab.run("m9", network="mv")
        assert m9.ip == "198.51.100.2" and mvlab.outside.ping(m9.ip)
        mvlab.rm(m9)
    finally:
        mvlab.rm("c1")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"driver": "ipvlan"}, InvalidArgument, 'plugin "ipvlan" not found'),
        ({"driver": "macvlan", **LAN}, InvalidArgument, "needs its parent interface"),
        ({"driver": "macvlan", "parent": "eth9", **LAN}, NotFound, "parent interface was not"),
        ({"driver": "macvlan", "parent": "eth0"}, InvalidArgument, "give the LAN's subnet"),
        (
            {"driver": "macvlan", "parent": "eth0", "subnet": "198.51.100.0/25"},
            InvalidSubnet,
            "overlaps",
        ),
        ({"driver": "bridge", "parent": "eth0"}, InvalidArgument, "option of the macvlan"),
    ],
)
def test_bad_networks_are_refused_and_the_lab_stays(
    mvlab: Lab, kwargs: dict, error: type, words: str
) -> None:
    before = [n.name for n in mvlab.networks.list()]
    links = mvlab.host.exec_run("ip -o link").output.count("\n")
    with pytest.raises(error, match=words):
        mvlab.networks.create("bad", **kwargs)
    assert [n.name for n in mvlab.networks.list()] == before
    assert mvlab.host.exec_run("ip -o link").output.count("\n") == links
    m1 = mvlab.run("m1", network="mv")
    assert mvlab.outside.ping(m1.ip)
    mvlab.rm(m1)


def test_removing_the_network_leaves_the_uplink(mvlab: Lab) -> None:
    mvlab.networks.create(
        "mv2", driver="macvlan", parent="eth0", subnet="192.0.2.0/24", gateway="192.0.2.1"
    )
    mvlab.networks.get("mv2").remove()
    assert mvlab.host.exec_run("ip -o link show eth0").exit_code == 0
    assert mvlab.run("after").ping(mvlab.outside.ip)
    mvlab.rm("after")
