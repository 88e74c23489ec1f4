"""IPv6 as Docker 27 sets it up: ULA subnets, addresses, the lab's IPv6 LAN (pure logic).

Docker 27 adds a ULA prefix to its default address pools when none of them is IPv6 (moby
PR #47853, ``deriveULABaseNetwork`` in ``daemon/daemon.go``): the Global ID is the 40 low
bits of the first 8 bytes of ``sha256(engine host id)``, put after ``fd``, giving a /48 that
is split into /64s. A user-defined network with ``--ipv6`` and no IPv6 ``--subnet`` takes
the next free /64 of it. The default bridge takes ``fixed-cidr-v6``; labkit gives it the
first /64 of the same /48 (what Docker 28 does when ``fixed-cidr-v6`` is unset, moby PR
#48319; on Docker 27 write it in ``daemon.json``). Addresses are handed out in order from
``::2`` (the gateway is ``::1``), and the bridge also carries ``fe80::1/64``.

The lab's IPv6 LAN mirrors the IPv4 one, in the documentation range 2001:db8::/32:
the host's uplink ``2001:db8:100::73/64``, the router ``2001:db8:100::1``, and a server
beyond at ``2001:db8:113::10``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator

from labkit.errors import InvalidSubnet, SubnetExhausted

UPLINK6 = "2001:db8:100::73"
ROUTER6 = "2001:db8:100::1"
LAN6_PREFIXLEN = 64
WORLD6 = "2001:db8:113::10"
#: the bridge's link-local address (libnetwork's ``bridgeIPv6``, ``setup_ipv6.go``)
BRIDGE_LL = "fe80::1"


def ula_base(host_id: str) -> ipaddress.IPv6Network:
    """The /48 ULA prefix Docker 27 derives from the engine's host id."""
    sha = hashlib.sha256(host_id.encode()).digest()
    gid = int.from_bytes(sha[:8], "big") & ((1 << 40) - 1)
    addr = int(ipaddress.IPv6Address("fd00::")) + (gid << 80)
    return ipaddress.IPv6Network((addr, 48))


def ula_pools(host_id: str) -> Iterator[ipaddress.IPv6Network]:
    """The /64s of the ULA pool, in the order Docker hands them out."""
    return ula_base(host_id).subnets(new_prefix=64)


def is_ipv6(subnet: object) -> bool:
    """Does this string look like an IPv6 network (it has a colon)?"""
    return isinstance(subnet, str) and ":" in subnet


def parse_subnet6(subnet: object) -> ipaddress.IPv6Network:
    """Parse an IPv6 subnet for a network; raise :class:`InvalidSubnet` with the fix."""
    if not isinstance(subnet, str):
        raise InvalidSubnet(f"an IPv6 subnet is a string like 'fd00:1::/64', not {subnet!r}")
    try:
        net = ipaddress.IPv6Network(subnet, strict=True)
    except ValueError as exc:
        raise InvalidSubnet(
            f"subnet6 {subnet!r} is not an IPv6 network ({exc}); write it like 'fd00:1::/64'"
        ) from None
    if net.prefixlen > 126:
        raise InvalidSubnet(f"subnet6 {net} is too small; use /64 (Docker's size) or larger")
    if net.is_link_local or net.is_multicast or net.is_loopback or net.is_unspecified:
        raise InvalidSubnet(f"subnet6 {net} is a special-purpose range; use a ULA one (fd…)")
    return net


def link_local(mac: str) -> str:
    """The EUI-64 link-local address the kernel gives an interface with this MAC."""
    b = bytearray(int(x, 16) for x in mac.split(":"))
    b[0] ^= 0x02
    eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui))


class IPAM6:
    """The IPv6 address pool of one network: gateway ``::1``, containers from ``::2``."""

    def __init__(self, subnet: ipaddress.IPv6Network) -> None:
        self.subnet = subnet
        self.gateway = subnet.network_address + 1
        self._used: set[int] = set()

    @property
    def prefixlen(self) -> int:
        return self.subnet.prefixlen

    def allocate(self) -> str:
        start = int(self.subnet.network_address) + 2
        end = int(self.subnet.broadcast_address)
        i = start
        while i <= end:
            if i not in self._used:
                self._used.add(i)
                return str(ipaddress.IPv6Address(i))
            i += 1
        raise SubnetExhausted(f"subnet {self.subnet} has no free IPv6 address left")

    def release(self, ip: str) -> None:
        self._used.discard(int(ipaddress.IPv6Address(ip)))


def ip6tables_text(iptables_text: str) -> str:
    """Docker's IPv4 restore text, as its ip6tables rules read (loopback is ``::1/128``)."""
    return iptables_text.replace("! -d 127.0.0.0/8", "! -d ::1/128")
