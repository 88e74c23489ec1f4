"""Several Docker hosts on one LAN (``Lab(hosts=N)``), like the nodes of a swarm.

The first host is the daemon's own namespace, as in every lab. Each further host
(``host2``, ``host3``, …) is a network namespace of its own built the same way dockerd
builds a host: lo, docker0 with the profile's gateway, ``ip_forward=1``, bridged traffic
through iptables, and Docker's iptables rules applied with the real ``iptables-restore``
inside it. Every host's uplink ``eth0`` plugs into a bridge ``br-lan`` in the ``outside``
namespace, which so becomes the LAN's switch (198.51.100.0/24) and its router.

Containers on a further host run with :meth:`DockerHost.create_container` given that host's
namespace (:mod:`.swarm` places them); overlay networks are in :mod:`.overlay`.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit.core import firewall, names
from labkit.core import overlay as rules
from labkit.core.ipam import IPAM, default_pools
from labkit.daemon import netlink, nodefiles, tools
from labkit.daemon.netlink import Netns
from labkit.daemon.records import Network, NodeRecord
from labkit.daemon.tools import in_netns, run_tool
from labkit.errors import SubnetExhausted

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost

LAN_BRIDGE = "br-lan"


@dataclass
class HostState:
    """One Docker host of the lab: its namespace, LAN address and local networks."""

    name: str
    netns: Netns
    ip: str
    mac: str
    position: int
    #: its local (bridge-driver) networks: docker0 as ``bridge``, ``docker_gwbridge``, …;
    #: for the first host this *is* ``DockerHost.networks``
    networks: dict[str, Network] = field(default_factory=dict)


class Lan:
    """The lab's Docker hosts, by name."""

    def __init__(self, dh: DockerHost) -> None:
        p = dh.profile
        self.hosts: dict[str, HostState] = {
            "host": HostState("host", dh.host, p.uplink_ip, p.uplink_mac, 0, dh.networks)
        }

    def host(self, name: str) -> HostState:
        rules.check_host(name, list(self.hosts))
        return self.hosts[name]

    def info(self) -> dict[str, Any]:
        return {h.name: {"ip": h.ip, "mac": h.mac} for h in self.hosts.values()}


def state(dh: DockerHost) -> Lan:
    """The lab's :class:`Lan` (made on first use: a one-host lab has one too, for overlays)."""
    if dh.lan is None:
        dh.lan = Lan(dh)
    return dh.lan


def run_in(hs: HostState, argv: list[str], stdin: str | None = None) -> str:
    """Run a tool in a host's network namespace (``nsenter --net``) and return its output."""
    return run_tool(in_netns(netns_of(hs), argv), stdin)


def netns_of(hs: HostState) -> str | None:
    """The path of a host's network namespace, for ``nsenter``; None for the first host
    (the daemon's own)."""
    return None if hs.name == "host" else hs.netns.path


def apply_rules(hs: HostState, cmds: list[firewall.Command]) -> None:
    """``iptables-restore --noflush`` with these commands, in that host's namespace."""
    tools.apply_rules(cmds, netns_of(hs))


def build(dh: DockerHost, count: int) -> None:
    """Turn the outside into the LAN's switch and add hosts 2..count to it."""
    rules.check_count(count)
    lan = state(dh)
    if count == 1:
        return
    p = dh.profile
    outside = dh.nodes["outside"].netns
    o = outside.ipr
    # the router's address moves from its eth0 to a bridge: the LAN's switch
    o.link("add", ifname=LAN_BRIDGE, kind="bridge", address=p.router_mac, txqlen=0)
    sw = outside.index(LAN_BRIDGE)
    oeth = outside.index("eth0")
    o.addr("del", index=oeth, address=p.router_ip, prefixlen=p.uplink_prefixlen)
    o.link("set", index=oeth, master=sw)
    o.addr("add", index=sw, address=p.router_ip, prefixlen=p.uplink_prefixlen)
    o.link("set", index=sw, state="up")
    for position, name in enumerate(rules.host_names(count)[1:], start=1):
        lan.hosts[name] = _add_host(dh, name, position, outside, sw)


def _add_host(dh: DockerHost, name: str, position: int, outside: Netns, sw: int) -> HostState:
    """One more Docker host: a namespace with docker0, an uplink on the LAN, Docker's rules."""
    p = dh.profile
    bridge = dh.default.bridge  # docker0
    ns = netlink.create_netns(name, dh.home_fd)
    ip = rules.uplink_ip(p.uplink_ip, position)
    mac = rules.uplink_mac(position)
    o = outside.ipr
    port = f"eth{position}"
    o.link("add", ifname=port, kind="veth", txqlen=0,
           peer={"ifname": "eth0", "net_ns_fd": ns.fd, "address": mac, "txqlen": 0})
    o.link("set", index=outside.index(port), master=sw, state="up")
    ipr = ns.ipr
    ipr.link("set", index=1, state="up")
    ipam = IPAM(str(dh.default_ipam.subnet), gateway=dh.gateway,
                round_robin=dh.profile.round_robin)
    ipr.link("add", ifname=bridge, kind="bridge", address=dh.host_mac(), txqlen=0)
    br = ns.index(bridge)
    ipr.addr("add", index=br, address=dh.gateway, prefixlen=ipam.prefixlen,
             broadcast=ipam.broadcast)
    ipr.link("set", index=br, state="up")
    up = ns.index("eth0")
    ipr.addr("add", index=up, address=ip, prefixlen=p.uplink_prefixlen)
    ipr.link("set", index=up, state="up")
    ipr.route("add", dst="0.0.0.0/0", gateway=p.router_ip)
    with netlink.inside(ns, dh.home_fd):
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
        with contextlib.suppress(OSError), open(
            "/proc/sys/net/bridge/bridge-nf-call-iptables", "w"
        ) as f:
            f.write("1")
    hs = HostState(name, ns, ip, mac, position)
    ruleset = firewall.Ruleset([firewall.BridgeRules(bridge, dh.subnet, icc=dh.icc)])
    run_in(hs, ["iptables-restore", "--noflush"], ruleset.restore_text())
    hostname = f"docker-{name}"
    files = nodefiles.write_files(name, hostname, ip, [], p.resolver_ip)
    # like a container, another host does not see the first host's /run/netns pins
    pid = nodefiles.start_holder(ns.path, hostname, files)
    dh.nodes[name] = NodeRecord(name, "host", ns, hostname, pid, files)
    hs.networks["bridge"] = Network("bridge", names.new_id(dh.rng), bridge, ipam, br, False,
                                    dh.icc)
    return hs


def networks_for(dh: DockerHost, rec: NodeRecord) -> dict[str, Network]:
    """The networks a container's endpoints refer to: its own host's local ones first."""
    on = getattr(rec, "on", "host")
    if on == "host":
        return dh.networks
    return {**dh.networks, **state(dh).hosts[on].networks}


def local_subnet(hs: HostState) -> ipaddress.IPv4Network:
    """The first of Docker's default pools that no local network of this host uses."""
    used = [n.ipam.subnet for n in hs.networks.values()]
    for pool in default_pools():
        if not any(pool.overlaps(u) for u in used):
            return pool
    raise SubnetExhausted(f"all of Docker's default address pools are in use on {hs.name}")
