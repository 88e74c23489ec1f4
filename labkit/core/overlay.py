"""Pure rules of Docker's multi-host networking: host names, LAN addresses, and the names,
VNIs, subnets and MTU that libnetwork's overlay driver picks.

Sources (moby/libnetwork):

* ``drivers/overlay/ovmanager/ovmanager.go``: ``vxlanIDStart = 4096``; the swarm manager
  hands out VNIs from there, one per overlay subnet, and the ``ingress`` network every swarm
  has takes the first (4096), so the first network a user creates gets 4097.
* ``drivers/overlay/ov_network.go``: ``generateVxlanName`` → ``vx-%06x-<id[:5]>``,
  ``getBridgeNamePrefix`` → ``ov-%06x``; both devices are moved into the network's own
  namespace (``1-<id[:10]>``) and renamed ``br0`` and ``vxlan0`` there (``osl``
  ``AddInterface`` with the prefixes ``br`` and ``vxlan``).
* ``drivers/overlay/ov_utils.go``: ``createVxlan`` sets Learning, Proxy, L2miss and L3miss;
  ``drivers/overlay/overlay.go``: ``vxlanEncap = 50``, so the MTU inside is 1500 − 50 = 1450.
* The swarm's default address pool is 10.0.0.0/8 cut into /24s (``docker swarm init
  --default-addr-pool 10.0.0.0/8 --default-addr-pool-mask-length 24``); ``ingress`` holds
  10.0.0.0/24, so the first user overlay gets 10.0.1.0/24.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from labkit.errors import InvalidArgument, NotFound

#: how many Docker hosts one lab may have (each is a namespace with its own rules)
MAX_HOSTS = 8
VXLAN_ID_START = 4096
VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
MTU = 1500 - VXLAN_OVERHEAD
SWARM_POOL = ipaddress.IPv4Network("10.0.0.0/8")
SWARM_POOL_PREFIX = 24
INGRESS_SUBNET = ipaddress.IPv4Network("10.0.0.0/24")
GWBRIDGE = "docker_gwbridge"
LAN = ipaddress.IPv4Network("198.51.100.0/24")


def host_names(count: int) -> list[str]:
    """``["host", "host2", …]`` for a lab of ``count`` Docker hosts."""
    check_count(count)
    return ["host"] + [f"host{i}" for i in range(2, count + 1)]


def check_count(count: object) -> int:
    """``hosts=N``: an int from 1 to :data:`MAX_HOSTS`, or a clear error."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidArgument(f"hosts must be an int (1 to {MAX_HOSTS}), not {count!r}")
    if count < 1:
        raise InvalidArgument(
            f"hosts={count}: a lab needs at least one Docker host; use Lab() or Lab(hosts=2)"
        )
    if count > MAX_HOSTS:
        raise InvalidArgument(
            f"hosts={count} is too many: a lab has at most {MAX_HOSTS} Docker hosts (each is a "
            "full set of namespaces and rules on this machine)"
        )
    return count


def check_host(name: object, known: list[str]) -> str:
    """``host=NAME`` of ``lab.run``: one of the lab's hosts, or a clear error."""
    if not isinstance(name, str) or name not in known:
        raise NotFound(
            f"no Docker host named {name!r} in this lab (hosts: {', '.join(known)}); "
            f"start the lab with Lab(hosts=N) for more hosts"
        )
    return name


def uplink_ip(first: str, position: int) -> str:
    """The LAN address of the host at ``position`` (0 for ``host``): the first host keeps
    the profile's address (198.51.100.73), the next ones follow it."""
    return str(ipaddress.IPv4Address(first) + position)


def uplink_mac(position: int) -> str:
    """A fixed, locally administered MAC for the uplink of the host at ``position`` ≥ 1."""
    return f"06:d8:0e:5d:b9:{position:02x}"


def overlay_subnets() -> Iterator[ipaddress.IPv4Network]:
    """The swarm pool's /24s in order, ``ingress``'s 10.0.0.0/24 left out."""
    for net in SWARM_POOL.subnets(new_prefix=SWARM_POOL_PREFIX):
        if net != INGRESS_SUBNET:
            yield net


def vxlan_name(vni: int, network_id: str) -> str:
    """``generateVxlanName``: ``vx-%06x-`` + the network id's first 5 characters."""
    return f"vx-{vni:06x}-{network_id[:5]}"


def bridge_name(vni: int, network_id: str) -> str:
    """``generateBridgeName``: ``ov-%06x-`` + the network id's first 5 characters."""
    return f"ov-{vni:06x}-{network_id[:5]}"


def sandbox_key(network_id: str) -> str:
    """The overlay network's namespace name under ``/var/run/docker/netns``: ``1-`` + 10."""
    return f"1-{network_id[:10]}"
