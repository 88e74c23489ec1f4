"""Address management as Docker's default IPAM does it for one bridge network.

The gateway sits on the bridge; containers get the first free address counting from the
subnet's second host address (172.17.0.2, even in the article's era when the gateway was
172.17.42.1), never the gateway's; addresses come back on removal and are reused. That is
why a container's address depends on start order ("IP は不定").
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Mapping
from typing import Any

from labkit.errors import Conflict, InvalidArgument, InvalidSubnet, SubnetExhausted


#: Docker's default pools for user-defined networks, in order (``ipamutils/utils.go``):
#: 172.17-19/16, then 172.20/14, 172.24/14, 172.28/14 split into /16s, then
#: 192.168.0.0/16 split into /20s.
def default_pools() -> list[ipaddress.IPv4Network]:
    pools = [ipaddress.IPv4Network(f"172.{n}.0.0/16") for n in (17, 18, 19)]
    for big in ("172.20.0.0/14", "172.24.0.0/14", "172.28.0.0/14"):
        pools.extend(ipaddress.IPv4Network(big).subnets(new_prefix=16))
    pools.extend(ipaddress.IPv4Network("192.168.0.0/16").subnets(new_prefix=20))
    return pools


def parse_subnet(subnet: object) -> ipaddress.IPv4Network:
    """Parse and check a bridge subnet; raise :class:`InvalidSubnet` with the fix."""
    if isinstance(subnet, ipaddress.IPv4Network):
        net = subnet
    else:
        if not isinstance(subnet, str):
            raise InvalidSubnet(f"subnet must be a string like '10.99.0.0/24', not {subnet!r}")
        try:
            net = ipaddress.IPv4Network(subnet, strict=True)
        except ipaddress.AddressValueError as exc:
            raise InvalidSubnet(f"subnet {subnet!r} is not an IPv4 network: {exc}") from None
        except ValueError as exc:
            raise InvalidSubnet(
                f"subnet {subnet!r} is not a network address ({exc}); "
                "write it with its host bits zero, e.g. '10.99.0.0/24'"
            ) from None
    if net.prefixlen > 30:
        raise InvalidSubnet(
            f"subnet {net} is too small: a bridge needs a gateway and at least one container "
            "address, so use /30 or larger"
        )
    if net.is_loopback or net.is_multicast or net.is_link_local or net.is_unspecified:
        raise InvalidSubnet(f"subnet {net} is a special-purpose range; use a private one")
    return net


class IPAM:
    """The address pool of one bridge network.

    >>> pool = IPAM("172.17.0.0/16", gateway="172.17.42.1")
    >>> pool.allocate(), pool.allocate()
    ('172.17.0.2', '172.17.0.3')
    """

    def __init__(self, subnet: str, gateway: str | None = None, round_robin: bool = False) -> None:
        self.subnet = parse_subnet(subnet)
        #: Docker ≤ 1.8 (``daemon/networkdriver/ipallocator``, getNextIP) handed out the
        #: next free address *after the last one given*, wrapping around; Docker ≥ 1.9's
        #: libnetwork IPAM hands out the first free one (measured on 20.10)
        self.round_robin = round_robin
        self._last: int | None = None
        hosts_first = self.subnet.network_address + 1
        if gateway is None:
            gw = hosts_first
        else:
            try:
                gw = ipaddress.IPv4Address(gateway)
            except ValueError:
                raise InvalidSubnet(f"gateway {gateway!r} is not an IPv4 address") from None
            if gw not in self.subnet or gw in (
                self.subnet.network_address,
                self.subnet.broadcast_address,
            ):
                raise InvalidSubnet(f"gateway {gw} is not a host address of {self.subnet}")
        self.gateway = gw
        self._first = int(hosts_first) + 1  # the subnet's second host address
        self._end = int(self.subnet.broadcast_address) - 1
        self._used: set[int] = set()

    @property
    def prefixlen(self) -> int:
        return self.subnet.prefixlen

    @property
    def broadcast(self) -> str:
        """The subnet's broadcast address (dockerd sets it on the bridge and on eth0)."""
        return str(self.subnet.broadcast_address)

    @property
    def in_use(self) -> list[str]:
        """Addresses handed out, in order."""
        return [str(ipaddress.IPv4Address(i)) for i in sorted(self._used)]

    def allocate(self) -> str:
        """The first free address; raise :class:`SubnetExhausted` naming the subnet."""
        gw = int(self.gateway)
        first_host = int(self.subnet.network_address) + 1
        # Docker starts at the second host address; the first one is handed out last, and
        # only when the gateway sits elsewhere (as in the article's 172.17.42.1 era).
        order: list[int] | itertools.chain[int] = itertools.chain(
            range(self._first, self._end + 1), (first_host,)
        )
        last = self._last
        if self.round_robin and last is not None and last != first_host:
            order = itertools.chain(
                range(last + 1, self._end + 1), (first_host,), range(self._first, last + 1)
            )
        for i in order:
            if i != gw and i not in self._used:
                self._used.add(i)
                self._last = i
                return str(ipaddress.IPv4Address(i))
        raise SubnetExhausted(
            f"subnet {self.subnet} has no free address left (the gateway {self.gateway} and "
            f"{len(self._used)} container{'s' if len(self._used) != 1 else ''} use them all); "
            "remove a container or create the lab with a larger subnet"
        )

    def claim(self, ip: object) -> str:
        """Hand out the address the user asked for (``docker run --ip``), with libnetwork's
        errors: not an IPv4 address, outside the subnet, or taken (the gateway, the
        network and broadcast addresses, or a container's)."""
        try:
            if not isinstance(ip, str):
                raise ValueError(ip)
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidArgument(f"invalid IPv4 address: {ip}") from None
        if addr not in self.subnet:
            raise InvalidSubnet(
                f"Invalid address {addr}: It does not belong to any of this network's subnets "
                f"({self.subnet})"
            )
        taken = {int(self.gateway), int(self.subnet.network_address),
                 int(self.subnet.broadcast_address), *self._used}  # fmt: skip
        if int(addr) in taken:
            raise Conflict(f"Address already in use ({addr} in {self.subnet})")
        self._used.add(int(addr))
        return str(addr)

    def reserve(self, ip: str) -> None:
        """Keep an address out of the pool (``docker network create --aux-address``)."""
        self._used.add(int(ipaddress.IPv4Address(ip)))

    def release(self, ip: str) -> None:
        """Give an address back to the pool (harmless when it was not in use)."""
        self._used.discard(int(ipaddress.IPv4Address(ip)))


def reserved_ranges(profile: Any) -> dict[str, ipaddress.IPv4Network]:
    """The lab's own ranges, which no bridge subnet may overlap: the host's uplink
    (198.51.100.0/24) and the outside world (203.0.113.0/24)."""
    return {
        "the lab's uplink": ipaddress.IPv4Network(
            f"{profile.uplink_ip}/{profile.uplink_prefixlen}", strict=False
        ),
        "the lab's outside world": ipaddress.IPv4Network(
            f"{profile.world_ip}/{profile.world_prefixlen}", strict=False
        ),
    }


def check_overlap(
    subnet: object, taken: Mapping[str, ipaddress.IPv4Network | str]
) -> ipaddress.IPv4Network:
    """Parse ``subnet`` and refuse it when it overlaps a range in ``taken`` (what → range),
    naming both. Like ``docker network create --subnet``'s "Pool overlaps with other one
    on this address space"."""
    net = parse_subnet(subnet)
    for what, other in taken.items():
        other_net = ipaddress.IPv4Network(other, strict=False)
        if net.overlaps(other_net):
            raise InvalidSubnet(
                f"subnet {net} overlaps {other_net} ({what}); traffic to {what} would be "
                "routed into the bridge instead: pick a range that overlaps neither, e.g. "
                "10.99.0.0/24"
            )
    return net
