"""Pure logic behind network modes and macvlan: no lab, no privileges."""

from __future__ import annotations

import pytest

from labkit.core.ipam import IPAM
from labkit.core.snapshot import match_wires
from labkit.daemon.macvlan import check_driver
from labkit.daemon.modes import is_mode, joined
from labkit.errors import InvalidArgument


def test_modes_are_told_from_network_names() -> None:
    assert is_mode("none") and is_mode("host") and is_mode("container:c1")
    assert not is_mode("bridge") and not is_mode("appnet") and not is_mode("hostnet")
    assert joined("container:c1") == "c1"


def test_reserved_addresses_are_skipped() -> None:
    pool = IPAM("198.51.100.0/24", gateway="198.51.100.1")
    pool.reserve("198.51.100.2")
    assert pool.allocate() == "198.51.100.3"


@pytest.mark.parametrize(
    ("driver", "parent", "words"),
    [("ipvlan", "eth0", "not found"), ("macvlan", None, "parent"), ("bridge", "eth0", "option")],
)
def test_drivers_and_their_options(driver: str, parent: str | None, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        check_driver(driver, parent)
    check_driver("macvlan", "eth0")
    check_driver("bridge", None)


def _link(index: int, ifname: str, kind: str, peer: int | None = None) -> dict:
    return {"index": index, "ifname": ifname, "kind": kind, "peer_index": peer}


def test_a_macvlan_child_is_wired_to_its_parent_in_the_host() -> None:
    nodes = {
        "host": {
            "kind": "host",
            "links": [_link(1, "lo", "loopback"), _link(3, "eth0", "veth", 2)],
        },
        "outside": {"kind": "outside", "links": [_link(2, "eth0", "veth", 3)]},
        "m1": {"kind": "container", "links": [_link(4, "eth0", "macvlan", 3)]},
        "m2": {"kind": "container", "links": [_link(4, "eth0", "macvlan", 99)]},
    }
    wires = match_wires(nodes)
    assert {"a": {"node": "host", "ifname": "eth0"}, "b": {"node": "m1", "ifname": "eth0"}} in wires
    assert not any(w["b"]["node"] == "m2" for w in wires)  # no such parent: no cable
    assert len(wires) == 2


def test_ula_prefix_as_moby_derives_it() -> None:
    import hashlib
    import ipaddress

    from labkit.core import ipv6 as v6

    base = v6.ula_base("engine-1")
    gid = int.from_bytes(hashlib.sha256(b"engine-1").digest()[:8], "big") & (2**40 - 1)
    assert base.prefixlen == 48 and base.network_address.packed[0] == 0xFD
    assert int(base.network_address) >> 80 == (0xFD << 40) | gid
    first, second = list(v6.ula_pools("engine-1"))[:2]
    assert (first.prefixlen, int(second.network_address) - int(first.network_address)) == (
        64,
        1 << 64,
    )
    assert v6.ula_base("engine-2") != base
    assert ipaddress.IPv6Network("fd00::/8").supernet_of(base)


def test_link_local_is_eui64_of_the_mac() -> None:
    from labkit.core import ipv6 as v6

    assert v6.link_local("02:42:ac:11:00:02") == "fe80::42:acff:fe11:2"


def test_ipam6_hands_out_from_2() -> None:
    import ipaddress

    from labkit.core.ipv6 import IPAM6

    pool = IPAM6(ipaddress.IPv6Network("fd00:1::/64"))
    assert str(pool.gateway) == "fd00:1::1"
    assert [pool.allocate(), pool.allocate()] == ["fd00:1::2", "fd00:1::3"]
    pool.release("fd00:1::2")
    assert pool.allocate() == "fd00:1::2"
