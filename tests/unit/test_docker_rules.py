"""Pure rules measured on Docker 20.10 (tests/oracle) or read in moby's history."""

from __future__ import annotations

from labkit.core.ipam import IPAM
from labkit.daemon.host import embedded_resolv_conf


def test_first_free_reuses_the_lowest_address() -> None:
    pool = IPAM("172.17.0.0/16", gateway="172.17.0.1")
    got = [pool.allocate() for _ in range(3)]
    assert got == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
    pool.release("172.17.0.3")
    assert pool.allocate() == "172.17.0.3"


def test_round_robin_continues_after_the_last_and_wraps() -> None:
    """Docker ≤ 1.8's ipallocator (getNextIP from last + 1, wrapping)."""
    pool = IPAM("10.0.0.0/29", gateway="10.0.0.1", round_robin=True)  # hosts .2 – .6
    assert [pool.allocate() for _ in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    pool.release("10.0.0.3")
    assert pool.allocate() == "10.0.0.5"
    assert pool.allocate() == "10.0.0.6"
    assert pool.allocate() == "10.0.0.3"  # wrapped: the freed one, at last


def test_round_robin_with_the_gateway_elsewhere_hands_out_the_first_host_last() -> None:
    pool = IPAM("10.0.0.0/29", gateway="10.0.0.6", round_robin=True)
    assert [pool.allocate() for _ in range(5)] == [
        "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.1"
    ]


def test_embedded_resolv_conf_keeps_the_hosts_options_and_adds_ndots() -> None:
    assert embedded_resolv_conf("nameserver 198.51.100.1\n") == (
        "nameserver 127.0.0.11\noptions ndots:0\n"
    )
    assert embedded_resolv_conf(
        "search example.org\nnameserver 203.0.113.53\noptions timeout:1 attempts:1\n"
    ) == "search example.org\nnameserver 127.0.0.11\noptions timeout:1 attempts:1 ndots:0\n"
    assert embedded_resolv_conf("nameserver 192.0.2.1\noptions ndots:2\n").endswith(
        "options ndots:2\n"
    )
