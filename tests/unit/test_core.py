"""Pure logic: names, IPAM, MACs, firewall text, hosts files. No privileges needed."""

from __future__ import annotations

import ipaddress
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit.core import firewall, hosts, names
from labkit.core.ipam import IPAM, default_pools, parse_subnet
from labkit.core.profiles import get_profile
from labkit.core.snapshot import match_wires
from labkit.errors import InvalidArgument, InvalidName, InvalidSubnet, SubnetExhausted

DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


@given(st.text(max_size=70))
def test_names_follow_dockers_rule(text: str) -> None:
    ok = bool(DOCKER_NAME.fullmatch(text)) and len(text) <= 64 and text not in names.RESERVED
    if ok:
        assert names.validate_name(text) == text
    else:
        with pytest.raises(InvalidName):
            names.validate_name(text)


@pytest.mark.parametrize("bad", ["", "a", "-x", "_x", "a b", "ü1", "c1\n", None, 5, "host"])
def test_bad_names_say_the_rule(bad: object) -> None:
    with pytest.raises(InvalidName) as info:
        names.validate_name(bad)
    assert "name" in str(info.value)


@given(st.ip_addresses(v=4))
def test_mac_from_ip_is_02_42_and_the_address(ip: ipaddress.IPv4Address) -> None:
    mac = names.mac_from_ip(str(ip))
    assert mac.startswith("02:42:")
    assert bytes(int(b, 16) for b in mac.split(":")[2:]) == ip.packed


def test_article_mac() -> None:
    assert names.mac_from_ip("172.17.0.2").upper() == "02:42:AC:11:00:02"


def test_veth_names_are_dockers_shape_and_seeded() -> None:
    a = [names.veth_name(random.Random(3)) for _ in range(2)]
    assert a[0] == a[1]
    assert re.fullmatch(r"veth[0-9a-f]{7}", a[0])
    rng = random.Random(1)
    first = names.veth_name(rng)
    again = names.veth_name(random.Random(1), taken={first})
    assert again != first


def test_ids_and_bridge_names() -> None:
    cid = names.new_id(random.Random(0))
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert names.short_id(cid) == cid[:12]
    assert names.bridge_name(cid) == "br-" + cid[:12]


def test_ipam_article_era() -> None:
    pool = IPAM("172.17.0.0/16", gateway="172.17.42.1")
    assert [pool.allocate() for _ in range(3)] == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
    pool.release("172.17.0.3")
    assert pool.allocate() == "172.17.0.3"


def test_ipam_never_hands_out_the_gateway() -> None:
    pool = IPAM("10.0.0.0/29", gateway="10.0.0.3")
    got = []
    with pytest.raises(SubnetExhausted, match=r"10\.0\.0\.0/29"):
        while True:
            got.append(pool.allocate())
    assert "10.0.0.3" not in got
    assert sorted(got) == ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    assert got[:2] == ["10.0.0.2", "10.0.0.4"]  # counting from the second host address


@given(st.integers(min_value=16, max_value=30), st.data())
def test_ipam_properties(prefix: int, data: st.DataObject) -> None:
    net = ipaddress.IPv4Network(f"10.{data.draw(st.integers(0, 255))}.0.0/16").subnets(
        new_prefix=prefix
    )
    subnet = next(net)
    pool = IPAM(str(subnet))
    n = min(subnet.num_addresses - 3, 40)
    got = [pool.allocate() for _ in range(n)]
    assert len(set(got)) == n
    for ip in got:
        addr = ipaddress.IPv4Address(ip)
        assert addr in subnet and addr != pool.gateway
        assert addr not in (subnet.network_address, subnet.broadcast_address)
    victim = data.draw(st.sampled_from(got))
    pool.release(victim)
    assert pool.allocate() == victim


@pytest.mark.parametrize(
    "bad,match",
    [
        ("10.0.0.1/24", "host bits"),
        ("10.0.0.0/31", "too small"),
        ("nonsense", "not an IPv4"),
        ("fe80::/64", "not an IPv4"),
        ("127.0.0.0/8", "special"),
        (42, "string"),
    ],
)
def test_bad_subnets(bad: object, match: str) -> None:
    with pytest.raises(InvalidSubnet, match=match):
        parse_subnet(bad)


@given(st.text(max_size=30))
def test_parse_subnet_never_crashes(text: str) -> None:
    try:
        net = parse_subnet(text)
    except InvalidSubnet:
        return
    assert net.prefixlen <= 30


def test_default_pools_in_dockers_order() -> None:
    pools = [str(p) for p in default_pools()]
    assert pools[:4] == ["172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16"]
    assert "172.31.0.0/16" in pools and pools[pools.index("172.31.0.0/16") + 1] == (
        "192.168.0.0/20"
    )


def test_profiles() -> None:
    assert get_profile("article").gateway == "172.17.42.1"
    assert get_profile("modern").gateway == "172.17.0.1"
    with pytest.raises(InvalidArgument, match="article, modern"):
        get_profile("docker1")


def test_docker27_default_bridge_rules() -> None:
    rs = firewall.Ruleset([firewall.BridgeRules("docker0", "172.17.0.0/16")])
    assert rs.nat_rules() == [
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "-A DOCKER -i docker0 -j RETURN",
    ]
    flt = rs.filter_rules()
    assert flt[:6] == [
        "-A FORWARD -j DOCKER-USER",
        "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A FORWARD -o docker0 -j DOCKER",
        "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
        "-A FORWARD -i docker0 -o docker0 -j ACCEPT",
    ]
    assert flt[-1] == "-A DOCKER-USER -j RETURN"
    text = rs.restore_text()
    assert ":FORWARD DROP [0:0]" in text and text.count("COMMIT") == 2


def test_icc_false_drops_bridge_to_bridge() -> None:
    rs = firewall.Ruleset([firewall.BridgeRules("docker0", "172.17.0.0/16", icc=False)])
    assert "-A FORWARD -i docker0 -o docker0 -j DROP" in rs.filter_rules()


def test_published_port_rules() -> None:
    rs = firewall.Ruleset(
        [firewall.BridgeRules("docker0", "172.17.0.0/16")],
        [firewall.PublishedPort("docker0", "172.17.0.2", 80, 8080)],
    )
    assert (
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination "
        "172.17.0.2:80" in rs.nat_rules()
    )
    assert (
        "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"
        in rs.filter_rules()
    )


def test_hosts_file_with_link() -> None:
    text = hosts.hosts_file(
        "172.17.0.3", "bbbbbbbbbbbb", [hosts.LinkEntry("172.17.0.2", "web", "aaaaaaaaaaaa", "c1")]
    )
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert lines[-2] == "172.17.0.2\tweb aaaaaaaaaaaa c1"
    assert lines[-1] == "172.17.0.3\tbbbbbbbbbbbb"


def test_resolv_conf_points_inside() -> None:
    assert hosts.resolv_conf("203.0.113.53").splitlines()[0] == "nameserver 203.0.113.53"


def test_match_wires_pairs_by_index() -> None:
    def link(name: str, index: int, peer: int | None, kind: str = "veth") -> dict:
        return {"ifname": name, "index": index, "peer_index": peer, "kind": kind}

    nodes = {
        "host": {
            "kind": "host",
            "links": [link("lo", 1, None, "loopback"), link("vethA", 5, 2), link("vethB", 7, 2)],
        },
        "c1": {"kind": "container", "links": [link("eth0", 2, 5)]},
        "c2": {"kind": "container", "links": [link("eth0", 2, 7)]},
    }
    wires = match_wires(nodes)
    assert {"a": {"node": "host", "ifname": "vethA"}, "b": {"node": "c1", "ifname": "eth0"}} in (
        wires
    )
    assert {"a": {"node": "host", "ifname": "vethB"}, "b": {"node": "c2", "ifname": "eth0"}} in (
        wires
    )
    assert len(wires) == 2


def test_claim_hands_out_the_asked_address_and_refuses_as_libnetwork() -> None:
    from labkit.core.ipam import IPAM
    from labkit.errors import Conflict, InvalidArgument, InvalidSubnet

    pool = IPAM("10.30.0.0/24")
    assert pool.claim("10.30.0.50") == "10.30.0.50"
    assert pool.allocate() == "10.30.0.2"  # the claimed one is skipped later, not before
    assert "10.30.0.50" in pool.in_use
    for taken in ("10.30.0.50", "10.30.0.1", "10.30.0.0", "10.30.0.255", "10.30.0.2"):
        with pytest.raises(Conflict, match="Address already in use"):
            pool.claim(taken)
    with pytest.raises(InvalidSubnet, match="does not belong to any of this network's subnets"):
        pool.claim("10.99.0.5")
    for bad in ("banana", 5, None, "10.30.0.300"):
        with pytest.raises(InvalidArgument, match="invalid IPv4 address"):
            pool.claim(bad)
    pool.release("10.30.0.50")
    assert pool.claim("10.30.0.50") == "10.30.0.50"
