"""The macvlan driver (``docker network create -d macvlan -o parent=eth0``), as libnetwork
builds it (``libnetwork/drivers/macvlan``).

A macvlan network has no bridge and no firewall rules. Each container's interface is a
macvlan *child* of the parent (the host's uplink ``eth0``) in ``bridge`` mode, created in
the host under a temporary name, moved into the container's namespace and renamed ``eth0``
(``macvlan_endpoint.go``, ``macvlan_joinleave.go``). Its MAC is ``02:42:`` + the IPv4
address, as for bridge endpoints (``netutils.GenerateMACFromIP``). The children sit on the
LAN itself, with addresses of the LAN: the LAN reaches them without NAT, and their default
route is the LAN's router (``--gateway``).

The classic surprise is built in, by the kernel: a macvlan child never exchanges frames
with its own parent. Frames the host sends out of ``eth0`` go to the wire, not to the
children, and frames from the children to the host's own address never arrive. So the host
cannot reach its macvlan containers, and they cannot reach it. The usual fix is a macvlan
*shim* on the host (``ip link add mv-shim link eth0 type macvlan mode bridge`` with an
address and a route), a sibling of the children.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from typing import TYPE_CHECKING, Any

from labkit.core import names
from labkit.core.ipam import IPAM, parse_subnet
from labkit.daemon.records import Network
from labkit.errors import Conflict, InvalidArgument, InvalidSubnet, NotFound

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost
    from labkit.daemon.netlink import Netns

DRIVERS = ("bridge", "macvlan", "overlay")  # overlay: labkit.daemon.overlay
#: libnetwork's macvlan modes; the kernel in a user namespace here allows bridge mode
MODE = "bridge"


def check_driver(driver: str, parent: str | None) -> None:
    """Refuse unknown drivers, and options that belong to another driver."""
    if driver not in DRIVERS:
        raise InvalidArgument(
            f'plugin "{driver}" not found: labkit\'s Docker host has the drivers '
            f"{', '.join(DRIVERS)} (a lab's kernel refuses ipvlan links); use one of those"
        )
    if driver == "bridge" and parent is not None:
        raise InvalidArgument("parent= is an option of the macvlan driver, not of bridge")
    if driver == "macvlan" and not parent:
        raise InvalidArgument(
            "a macvlan network needs its parent interface: the host's uplink, "
            "lab.networks.create(NAME, driver='macvlan', parent='eth0', "
            "subnet='198.51.100.0/24', gateway='198.51.100.1') (docker network create -d "
            "macvlan -o parent=eth0 …)"
        )


def create(
    host: DockerHost,
    name: str,
    parent: str,
    subnet: str | None,
    gateway: str | None,
) -> dict[str, Any]:
    """``docker network create -d macvlan --subnet S --gateway G -o parent=P NAME``."""
    try:
        index = host.host.index(parent)
    except NotFound:
        raise NotFound(
            f"-o parent interface was not found on the host: {parent} (the lab's host has "
            "the uplink eth0)"
        ) from None
    if subnet is None:
        raise InvalidArgument(
            "give the LAN's subnet and router to a macvlan network, e.g. "
            "subnet='198.51.100.0/24', gateway='198.51.100.1': its containers live on the "
            "parent's LAN, so Docker's default pools would not fit it"
        )
    net_addr = parse_subnet(subnet)
    for other in host.networks.values():
        if other.driver == "macvlan" and net_addr.overlaps(other.ipam.subnet):
            raise InvalidSubnet(
                f"subnet {net_addr} overlaps {other.ipam.subnet} of macvlan network "
                f"{other.name}; use another subnet"
            )
        if other.driver == "bridge" and net_addr.overlaps(other.ipam.subnet):
            raise InvalidSubnet(
                f"subnet {net_addr} overlaps {other.ipam.subnet}, the bridge network "
                f"{other.name}'s; pick the parent's LAN"
            )
    ipam = IPAM(str(net_addr), gateway=gateway)
    # the host's own address on that LAN is taken; Docker would be told with
    # --aux-address host=198.51.100.73 (it does not look at the LAN by itself)
    uplink = ipaddress.IPv4Address(host.profile.uplink_ip)
    if uplink in net_addr:
        ipam.reserve(str(uplink))
    nid = names.new_id(host.rng)
    net = Network(name, nid, "", ipam, index, True, True, [], time.monotonic())
    net.driver = "macvlan"
    net.user_subnet = subnet is not None
    net.parent = parent
    host.networks[name] = net
    return net.attrs([])


def attach(
    host: DockerHost, net: Network, ns: Netns, ifname: str, mac: str, undo: list[Any]
) -> None:
    """The container's interface: a macvlan child of the parent, moved into ``ns`` and
    renamed ``ifname`` (libnetwork creates it as ``macvlan`` + a random suffix)."""
    ipr = host.host.ipr
    tmp = "mv" + names.veth_name(host.rng, set())[4:]
    ipr.link("add", ifname=tmp, kind="macvlan", link=net.index, macvlan_mode=MODE,
             address=mac, txqlen=0)  # fmt: skip
    try:
        ipr.link("set", index=host.host.index(tmp), net_ns_fd=ns.fd)
    except BaseException:
        with contextlib.suppress(Exception):
            ipr.link("del", ifname=tmp)
        raise
    ns.ipr.link("set", index=ns.index(tmp), ifname=ifname)


def check_name(host: DockerHost, name: str) -> None:
    if name in host.networks or name in ("host", "none"):
        raise Conflict(f"network with name {name} already exists")
