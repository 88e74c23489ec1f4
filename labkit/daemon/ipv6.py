"""IPv6 on the lab's Docker host, as Docker 27 with ``"ipv6": true`` sets it up.

- dockerd turns on ``net.ipv6.conf.all.forwarding`` and, with ``ip6tables`` (on by default
  since Docker 27), writes the same chains and rules as for IPv4 into ip6tables: the
  FORWARD policy DROP, DOCKER-USER, the isolation chains and, for each network,
  ``-A POSTROUTING -s <ULA /64> ! -o <bridge> -j MASQUERADE`` (NAT for IPv6, as for IPv4).
- Each IPv6 bridge carries the network's gateway (``::1`` of its /64) and ``fe80::1/64``.
- A container on an IPv6 network gets the next address of the /64 (libnetwork adds it
  with ``IFA_F_NODAD``: no duplicate address detection), its EUI-64 link-local address
  from the kernel, and ``default via <gateway>``; on an IPv4-only network its eth0 keeps
  ``disable_ipv6=1`` (Docker ≥ 26).
- The lab's LAN gets IPv6 too: the host's uplink, the router and a server beyond, all in
  the documentation range 2001:db8::/32 (:mod:`labkit.core.ipv6`).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from labkit.core import firewall
from labkit.core import ipv6 as v6
from labkit.daemon.tools import run_tool
from labkit.errors import InvalidArgument, InvalidSubnet

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost
    from labkit.daemon.netlink import Netns
    from labkit.daemon.records import Network

IFA_F_NODAD = 0x02


def add_addr(ns: Netns, index: int, address: str, prefixlen: int) -> None:
    """``ip -6 addr add ADDRESS/LEN dev IF nodad``."""
    ns.ipr.addr("add", index=index, address=address, prefixlen=prefixlen, family=10,
                flags=IFA_F_NODAD)  # fmt: skip


def apply6(cmds: list[firewall.Command]) -> None:
    """Run ip6tables commands in one ``ip6tables-restore --noflush``."""
    if cmds:
        run_tool(["ip6tables-restore", "--noflush"], stdin=firewall.restore_text(cmds))


def start(host: DockerHost) -> dict[str, Any]:
    """dockerd starting with ``"ipv6": true``: the LAN's IPv6, docker0's /64, ip6tables."""
    h, o = host.host, host.nodes["outside"].netns
    host.write_sysctl("net.ipv6.conf.all.forwarding", "1")
    up = h.index("eth0")
    add_addr(h, up, v6.UPLINK6, v6.LAN6_PREFIXLEN)
    h.ipr.route("add", dst="::/0", gateway=v6.ROUTER6, family=10)
    oeth = o.index("eth0")
    add_addr(o, oeth, v6.ROUTER6, v6.LAN6_PREFIXLEN)
    add_addr(o, 1, v6.WORLD6, 128)
    net = host.default
    subnet = next(v6.ula_pools(host.host_id))
    enable_on_bridge(host, net, subnet)
    rules = firewall.Ruleset([firewall.BridgeRules(net.bridge, str(subnet), icc=host.icc)])
    run_tool(["ip6tables-restore", "--noflush"], stdin=v6.ip6tables_text(rules.restore_text()))
    return {"subnet6": str(subnet), "gateway6": str(subnet.network_address + 1)}


def enable_on_bridge(host: DockerHost, net: Network, subnet: ipaddress.IPv6Network) -> None:
    """An IPv6 /64 on a bridge network: its IPAM, the gateway and fe80::1 on the bridge."""
    net.ipam6 = v6.IPAM6(subnet)
    add_addr(host.host, net.index, str(net.ipam6.gateway), subnet.prefixlen)
    add_addr(host.host, net.index, v6.BRIDGE_LL, 64)


def pick_subnet6(host: DockerHost, subnet6: str | None) -> ipaddress.IPv6Network:
    """The network's /64: the one asked for, or the next free one of the ULA pool."""
    used = [n.ipam6.subnet for n in host.networks.values() if n.ipam6 is not None]
    if subnet6 is not None:
        net = v6.parse_subnet6(subnet6)
        for other in used:
            if net.overlaps(other):
                raise InvalidSubnet(f"subnet6 {net} overlaps {other}, already used in this lab")
        return net
    for pool in v6.ula_pools(host.host_id):
        if not any(pool.overlaps(u) for u in used):
            return pool
    raise InvalidSubnet("the ULA pool of this lab is used up")  # 65536 networks


def check_network(host: DockerHost, ipv6: bool, subnet: str | None, subnet6: str | None) -> None:
    """Refuse IPv6 where the lab or the network has none, with the fix."""
    if v6.is_ipv6(subnet):
        raise InvalidSubnet(
            f"subnet {subnet!r} is IPv6: give it as subnet6= with ipv6=True "
            "(docker network create --ipv6 --subnet …)"
        )
    if subnet6 is not None and not ipv6:
        raise InvalidArgument(
            f"subnet6={subnet6!r} on an IPv4-only network: add ipv6=True "
            "(docker network create --ipv6)"
        )
    if ipv6 and not host.ipv6:
        raise InvalidArgument(
            "this lab was started without IPv6, so its host has no IPv6 uplink and no "
            "ip6tables rules: start it with Lab(ipv6=True)"
        )


def setup_rules(host: DockerHost, net: Network) -> list[firewall.Command]:
    """ip6tables rules for a new user-defined IPv6 network (the IPv4 ones, for its /64)."""
    assert net.ipam6 is not None
    cmds = firewall.bridge_inserts(firewall.BridgeRules(net.bridge, str(net.ipam6.subnet)))
    apply6(cmds)
    return cmds


def attach(ns: Netns, ifname: str, net: Network, fresh: bool) -> str:
    """The container's IPv6 address on ``ifname`` (and, on its first network, the default
    route); ``disable_ipv6`` turned off on the interface first when the namespace was made
    IPv4-only."""
    assert net.ipam6 is not None
    ip6 = net.ipam6.allocate()
    try:
        path = f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"
        from labkit.daemon import netlink

        with netlink.inside(ns, ns.home_fd), open(path, "w") as f:
            f.write("0")
        add_addr(ns, ns.index(ifname), ip6, net.ipam6.prefixlen)
        if fresh:
            ns.ipr.route("replace", dst="::/0", gateway=str(net.ipam6.gateway), family=10,
                         oif=ns.index(ifname))  # fmt: skip
    except BaseException:
        net.ipam6.release(ip6)
        raise
    return str(ip6)
