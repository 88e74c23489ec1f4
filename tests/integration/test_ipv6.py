"""IPv6 as Docker 27 with ``"ipv6": true``: ULA /64s, link-local addresses, ip6tables NAT,
NDP; and IPv4-only networks that keep ``disable_ipv6``."""

from __future__ import annotations

import ipaddress

import pytest

from labkit import InvalidArgument, InvalidSubnet, Lab
from labkit.core import ipv6 as v6

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab6(can_lab: None):  # type: ignore[no-untyped-def]
    with Lab(seed=15, ipv6=True) as lab:
        yield lab


def ping6(node, ip: str) -> bool:  # type: ignore[no-untyped-def]
    return node.exec_run(["ping", "-6", "-c", "1", "-W", "2", ip]).exit_code == 0


def test_docker0_is_dual_stack_with_a_ula_64(lab6: Lab) -> None:
    sub = ipaddress.IPv6Network(lab6.info["subnet6"])
    assert sub.prefixlen == 64 and sub.subnet_of(ipaddress.IPv6Network("fd00::/8"))
    assert sub.supernet(new_prefix=48).network_address.packed[0] == 0xFD
    addrs = lab6.host.exec_run("ip -6 -o addr show docker0").output
    assert f"{sub.network_address + 1}/64" in addrs and "fe80::1/64" in addrs
    assert lab6.host.sysctl("net.ipv6.conf.all.forwarding") == "1"


def test_containers_get_ula_and_link_local_addresses(lab6: Lab) -> None:
    c1 = lab6.run("c1")
    try:
        sub = ipaddress.IPv6Network(lab6.info["subnet6"])
        assert c1.ip6 == str(sub.network_address + 2)
        addrs = c1.exec_run("ip -6 -o addr show eth0").output
        assert f"{c1.ip6}/64" in addrs and v6.link_local(c1.mac) + "/64" in addrs
        assert (
            f"default via {sub.network_address + 1} dev eth0" in c1.exec_run("ip -6 route").output
        )
        assert c1.ip == "172.17.0.2"  # and IPv4 as before
    finally:
        lab6.rm("c1")


def test_v6_between_containers_and_nat_to_the_outside(lab6: Lab) -> None:
    c1, c2 = lab6.run("c1"), lab6.run("c2")
    try:
        assert ping6(c1, c2.ip6)
        with lab6.capture("c1:eth0", "outside:eth0", proto="icmp6", host=lab6.outside.ip6) as cap:
            assert ping6(c1, lab6.outside.ip6)
        inside = [p for p in cap["c1:eth0"] if p["IPv6"].dst == lab6.outside.ip6]
        outside = [p for p in cap["outside:eth0"] if p["IPv6"].dst == lab6.outside.ip6]
        assert inside[0]["IPv6"].src == c1.ip6
        assert outside[0]["IPv6"].src == lab6.host.ip6 == "2001:db8:100::73"  # MASQUERADE
        nat = lab6.host.exec_run("ip6tables -t nat -S POSTROUTING").output
        assert f"-A POSTROUTING -s {lab6.info['subnet6']} ! -o docker0 -j MASQUERADE" in nat
        flt = lab6.host.exec_run("ip6tables -S").output
        assert "-P FORWARD DROP" in flt and "-A DOCKER-ISOLATION-STAGE-1" in flt
    finally:
        lab6.rm("c1")
        lab6.rm("c2")


def test_neighbours_are_found_with_ndp_not_arp(lab6: Lab) -> None:
    c1, c2 = lab6.run("c1"), lab6.run("c2")
    try:
        c1.exec_run("ip -6 neigh flush dev eth0")
        with lab6.capture("c1:eth0") as cap:
            assert ping6(c1, c2.ip6)
        types = {p["IPv6"].payload.type for p in cap["c1:eth0"] if p.haslayer("IPv6")}
        assert {135, 136} <= types  # Neighbor Solicitation and Advertisement
        assert not [p for p in cap["c1:eth0"] if p.haslayer("ARP")]
    finally:
        lab6.rm("c1")
        lab6.rm("c2")


def test_user_defined_ipv6_networks_take_the_next_64_and_are_isolated(lab6: Lab) -> None:
    first = ipaddress.IPv6Network(lab6.info["subnet6"])
    net = lab6.networks.create("v6a", ipv6=True)
    c1 = lab6.run("c1")
    a1 = lab6.run("a1", network="v6a")
    try:
        second = ipaddress.IPv6Network((int(first.network_address) + (1 << 64), 64))
        assert net.ipv6 and ipaddress.IPv6Network(net.subnet6) == second
        assert a1.ip6 == str(ipaddress.IPv6Network(net.subnet6).network_address + 2)
        assert ping6(a1, lab6.outside.ip6)
        assert not ping6(a1, c1.ip6)  # Docker's isolation rules, in ip6tables too
    finally:
        lab6.rm("a1")
        lab6.rm("c1")
        net.remove()
    assert net.subnet6 not in lab6.host.exec_run("ip6tables-save").output


def test_ipv4_only_networks_keep_disable_ipv6(lab6: Lab) -> None:
    net = lab6.networks.create("v4only")
    b1 = lab6.run("b1", network="v4only")
    try:
        assert b1.ip6 is None
        assert b1.sysctl("net.ipv6.conf.eth0.disable_ipv6") == "1"
        assert "inet6" not in b1.exec_run("ip -6 addr show eth0").output
    finally:
        lab6.rm("b1")
        net.remove()


def test_an_ipv4_only_lab_has_no_ipv6(can_lab: None) -> None:
    with Lab(seed=1) as lab:
        c1 = lab.run("c1")
        assert c1.ip6 is None and lab.outside.ip6 is None and lab.host.ip6 is None
        assert c1.sysctl("net.ipv6.conf.eth0.disable_ipv6") == "1"
        with pytest.raises(InvalidArgument, match=r"Lab\(ipv6=True\)"):
            lab.networks.create("v6", ipv6=True)
        assert [n.name for n in lab.networks.list()] == ["bridge"]
        assert c1.ping(lab.outside.ip)
    with pytest.raises(InvalidSubnet, match="is IPv6"):
        Lab(subnet="fd00::/64")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"subnet": "fd00:1::/64"}, InvalidSubnet, "give it as subnet6= with ipv6=True"),
        ({"subnet6": "fd00:1::/64"}, InvalidArgument, "add ipv6=True"),
        ({"ipv6": True, "subnet6": "fd00:1::/129"}, InvalidSubnet, "not an IPv6 network"),
        ({"ipv6": True, "subnet6": "fe80::/64"}, InvalidSubnet, "special-purpose"),
    ],
)
def test_bad_ipv6_input_is_refused_and_the_lab_stays(
    lab6: Lab, kwargs: dict, error: type, words: str
) -> None:
    with pytest.raises(error, match=words):
        lab6.networks.create("bad6", **kwargs)
    assert [n.name for n in lab6.networks.list()] == ["bridge"]
    assert "br-" not in lab6.host.exec_run("ip -br link").output
    c9 = lab6.run("c9")
    assert ping6(c9, lab6.outside.ip6)
    lab6.rm(c9)


WHOAMI = ["python3", "-m", "labkit.apps.whoami"]


def test_published_ports_over_ipv6_keep_the_clients_address(lab6: Lab) -> None:
    """``-p 8080:80`` on a dual-stack network: ip6tables DNAT to ``[ULA]:80``, a second proxy
    on ``::`` (as dockerd with ip6tables); from outside the client's own IPv6 address
    arrives, from the host itself the proxy's."""
    web = lab6.run("web6", ports={"80/tcp": 8080})
    try:
        web.exec_run([*WHOAMI, "80"], detach=True)
        nat6 = lab6.host.exec_run("ip6tables -t nat -S DOCKER").output
        assert f"--to-destination [{web.ip6}]:80" in nat6
        accept = f"-A DOCKER -d {web.ip6}/128 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80"
        assert f"{accept} -j ACCEPT" in lab6.host.exec_run("ip6tables -S DOCKER").output
        proxies = lab6.host.exec_run("ps -e -o args=").output
        assert f"-host-ip :: -host-port 8080 -container-ip {web.ip6} -container-port 80" in proxies
        ask = [*WHOAMI, "ask", lab6.host.ip6, "8080"]
        for _ in range(50):
            out = lab6.outside.exec_run(ask, timeout=10).output.strip()
            if out.startswith("you are"):
                break
        # DNAT: the client's own address (the outside's, on the LAN: the router's)
        assert out.startswith(f"you are [{v6.ROUTER6}]:"), out
        assert f"I am [{web.ip6}]:80" in out
        via_proxy = lab6.host.exec_run([*WHOAMI, "ask", "::1", "8080"], timeout=10).output
        assert via_proxy.startswith("you are [") and f"I am [{web.ip6}]:80" in via_proxy
        v4 = lab6.outside.exec_run([*WHOAMI, "ask", lab6.host.ip, "8080"], timeout=10).output
        assert v4.startswith("you are 198.51.100.1:"), v4  # IPv4 as before, not ::ffff:-mapped
    finally:
        lab6.rm("web6")
    assert web.ip6 not in lab6.host.exec_run("ip6tables-save").output
    assert "-host-port 8080" not in lab6.host.exec_run("ps -e -o args=").output
