"""Overlay networks (``docker network create -d overlay --attachable``), as libnetwork's
overlay driver builds them on each host (moby/libnetwork ``drivers/overlay``).

* A network namespace per overlay network on every host that has a container on it
  (``ov_network.go``: ``initSandbox``, made on the first join), named ``1-`` + the id's first
  10 characters (the lab pins it as ``<host>-1-…``, as every host's pins share one
  ``/run/netns``). Inside: a bridge ``br0`` holding the network's gateway address and a
  VXLAN device ``vxlan0`` (``setupSubnetSandbox``: made as ``ov-%06x-<id>`` and
  ``vx-%06x-<id>``, moved in and renamed). The VXLAN device is created in the host's own
  namespace before it is moved, so its UDP socket (port 4789) stays on the host's uplink.
* ``createVxlan`` (``ov_utils.go``): learning, proxy, l2miss, l3miss; MTU 1450.
* Each container gets a veth pair: one end in that namespace on ``br0``, the other its
  ``eth0`` (MTU 1450, MAC from the IP), and a second interface ``eth1`` on the host's
  ``docker_gwbridge`` (created on first use from the host's local pools, with ICC off and
  masquerade on), which carries its default route to the outside world
  (``joinleave.go``/``libnetwork/default_gateway.go``).
* Each host's load-balancer endpoint on the network (``lb-<network>``, namespace
  ``lb_<id[:9]>``), made on the host's first join with the next address, and each host's
  ``ingress_sbox`` leg on docker_gwbridge (its ``.2``): as dockerd 20.10 makes them, so the
  addresses are a real swarm's.
* What swarm's gossip (``peerdb.go``: ``peerAdd``) would write in every *other* host's
  namespace: a permanent neighbour entry ``IP → MAC`` on ``vxlan0`` and an fdb entry
  ``MAC → dst <the container's host>`` (``bridge fdb … self permanent``). Written here
  directly, on join, and deleted on leave.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyroute2.netlink import NLM_F_CREATE, NLM_F_REPLACE
from pyroute2.netlink.rtnl import RTM_DELNEIGH, RTM_NEWNEIGH
from pyroute2.netlink.rtnl.ndmsg import ndmsg

from labkit.core import firewall, names
from labkit.core import overlay as rules
from labkit.core.ipam import IPAM, parse_subnet
from labkit.core.ports import PortSpec
from labkit.daemon import forkserver, lan, netlink, nodefiles
from labkit.daemon import ports as ports_mod
from labkit.daemon.lan import HostState, Lan, netns_of
from labkit.daemon.netlink import Netns
from labkit.daemon.records import Endpoint, Network, NodeRecord
from labkit.errors import Conflict, InvalidSubnet, SubnetExhausted

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost

NUD_PERMANENT = 0x80
AF_BRIDGE = 7
NTF_SELF = 0x02  # the entry belongs to the VXLAN device itself (``bridge fdb … self``)
IFLA_MTU = "IFLA_MTU"


@dataclass
class Sandbox:
    """The overlay network's namespace on one host."""

    host: str
    node: NodeRecord
    br: int
    vx: int
    next_port: int = 0
    peers: set[str] = field(default_factory=set)
    #: the host's load-balancer endpoint on this network (``lb-<network>``), and its namespace
    lb: Endpoint | None = None
    lb_node: NodeRecord | None = None


@dataclass
class OverlayNetwork(Network):
    """A swarm-scope overlay network: one VNI, one subnet, a sandbox per host in use."""

    vni: int = 0
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)

    def attrs(self, containers: list[str]) -> dict[str, Any]:
        out = super().attrs(containers)
        out.update(
            {
                "driver": "overlay",
                "scope": "swarm",
                "attachable": True,
                "vni": self.vni,
                "mtu": rules.MTU,
                "sandboxes": {h: sb.node.name for h, sb in self.sandboxes.items()},
            }
        )
        return out


def is_overlay(net: object) -> bool:
    """Is this network record an overlay network?"""
    return isinstance(net, OverlayNetwork)


def create(dh: DockerHost, name: str, subnet: str | None = None) -> dict[str, Any]:
    """``docker network create -d overlay --attachable [--subnet S] NAME``: the swarm
    manager's part (a VNI from 4097 up, a /24 of 10.0.0.0/8); hosts build their part when
    a container of theirs joins."""
    names.validate_name(name, "network")
    if name in dh.networks or name in ("host", "none", "ingress", rules.GWBRIDGE):
        raise Conflict(f"network with name {name} already exists")
    overlays = [n for n in dh.networks.values() if is_overlay(n)]
    used = [n.ipam.subnet for n in overlays] + [rules.INGRESS_SUBNET]
    if subnet is not None:
        net_addr = parse_subnet(subnet)
        for other in [*used, rules.LAN]:
            if net_addr.overlaps(other):
                raise InvalidSubnet(
                    f"subnet {net_addr} overlaps {other}, already used in this swarm; pick "
                    "another"
                )
    else:
        free = next((s for s in rules.overlay_subnets()
                     if not any(s.overlaps(u) for u in used)), None)  # fmt: skip
        if free is None:
            raise SubnetExhausted("the swarm's address pool 10.0.0.0/8 is used up")
        net_addr = free
    vnis = {n.vni for n in overlays if isinstance(n, OverlayNetwork)}
    vni = next(v for v in range(rules.VXLAN_ID_START + 1, 1 << 24) if v not in vnis)
    nid = names.new_id(dh.rng)
    net = OverlayNetwork(name, nid, "br0", IPAM(str(net_addr)), -1, True, True, [],
                         time.monotonic(), vni=vni)  # fmt: skip
    dh.networks[name] = net
    return net.attrs([])


def remove(dh: DockerHost, name: str) -> None:
    """``docker network rm``: each host's namespace (and the VXLAN device in it) goes."""
    net = dh.network(name)
    assert isinstance(net, OverlayNetwork)
    members = [c.name for c in dh.members(name)]
    if members:
        raise Conflict(
            f"error while removing network: network {name} id {net.id} has active endpoints "
            f"({', '.join(members)}); remove or disconnect them first"
        )
    for sb in net.sandboxes.values():
        for node in (sb.lb_node, sb.node):
            if node is not None:
                node.netns.close()
                netlink.delete_netns_file(node.netns.path)
                dh.nodes.pop(node.name, None)
    del dh.networks[name]


def _set_mtu(rt: Any, index: int, mtu: int) -> None:
    """``ip link set dev INDEX mtu MTU`` on the lean socket."""
    from pyroute2.netlink.rtnl import RTM_NEWLINK
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    m = ifinfmsg()
    m["index"] = index
    m["attrs"] = [(IFLA_MTU, mtu)]
    rt.request(m, RTM_NEWLINK, 0)


def sandbox(dh: DockerHost, net: OverlayNetwork, hs: HostState) -> Sandbox:
    """The network's namespace on this host, built on first use (``initSandbox``)."""
    sb = net.sandboxes.get(hs.name)
    if sb is not None:
        return sb
    key = rules.sandbox_key(net.id)
    node_name = f"{hs.name}-{key}"
    ns = netlink.create_netns(node_name, dh.home_fd, ipv6=False)
    try:
        ipr = ns.ipr
        ipr.link("set", index=1, state="up")
        brname = rules.bridge_name(net.vni, net.id)
        ipr.link("add", ifname=brname, kind="bridge", address=dh.host_mac(), mtu=rules.MTU)
        br = ns.index(brname)
        ipr.link("set", index=br, ifname="br0")
        ipr.addr("add", index=br, address=net.gateway, prefixlen=net.ipam.prefixlen,
                 broadcast=net.ipam.broadcast)
        # the VXLAN device is made in the host's namespace (its UDP socket lives there, on
        # the uplink), then moved into the overlay's namespace and renamed
        vxname = rules.vxlan_name(net.vni, net.id)
        h = hs.netns.ipr
        h.link("add", ifname=vxname, kind="vxlan", vxlan_id=net.vni,
               vxlan_port=rules.VXLAN_PORT, vxlan_learning=1, vxlan_proxy=1,
               vxlan_l2miss=1, vxlan_l3miss=1, mtu=rules.MTU, address=dh.host_mac())
        try:
            h.link("set", index=hs.netns.index(vxname), net_ns_fd=ns.fd)
        except BaseException:
            with contextlib.suppress(Exception):
                h.link("del", ifname=vxname)
            raise
        vx = ns.index(vxname)
        ipr.link("set", index=vx, ifname="vxlan0")
        ipr.link("set", index=vx, master=br, state="up")
        ipr.link("set", index=br, state="up")
    except BaseException:
        ns.close()
        netlink.delete_netns_file(ns.path)
        raise
    node = NodeRecord(node_name, "overlay", ns, key, None)
    node.on = hs.name
    dh.nodes[node_name] = node
    sb = Sandbox(hs.name, node, br, vx)
    net.sandboxes[hs.name] = sb
    return sb


def gwbridge(dh: DockerHost, hs: HostState) -> Network:
    """The host's ``docker_gwbridge``, made on first use as dockerd makes it: a bridge
    network from the host's local pools, ICC off, masquerade on."""
    net = hs.networks.get(rules.GWBRIDGE)
    if net is not None:
        return net
    subnet = lan.local_subnet(hs)
    ipam = IPAM(str(subnet))
    ipr = hs.netns.ipr
    ipr.link("add", ifname=rules.GWBRIDGE, kind="bridge", address=dh.host_mac(), txqlen=0)
    index = hs.netns.index(rules.GWBRIDGE)
    try:
        ipr.addr("add", index=index, address=str(ipam.gateway), prefixlen=ipam.prefixlen,
                 broadcast=ipam.broadcast)
        ipr.link("set", index=index, state="up")
        cmds = firewall.bridge_inserts(firewall.BridgeRules(rules.GWBRIDGE, str(subnet),
                                                            icc=False))
        lan.apply_rules(hs, cmds)
    except BaseException:
        with contextlib.suppress(Exception):
            ipr.link("del", index=index)
        raise
    # made by the daemon, not the user: it cannot be removed while overlays need it, and
    # its addresses are not in the embedded DNS (only the overlay's are)
    net = Network(rules.GWBRIDGE, names.new_id(dh.rng), rules.GWBRIDGE, ipam, index, False,
                  False, cmds, time.monotonic())
    hs.networks[rules.GWBRIDGE] = net
    _ingress_sbox(dh, hs, net)
    return net


def _ingress_sbox(dh: DockerHost, hs: HostState, gw: Network) -> None:
    """Every swarm node has an ``ingress_sbox`` namespace with an interface on
    docker_gwbridge, which takes the bridge's first free address (172.18.0.2: measured on
    dockerd 20.10, where the first overlay container's ``eth1`` is 172.18.0.3). labkit builds
    that leg of it (``eth1``, the address, up); not the ``ingress`` overlay it also joins."""
    name = f"{hs.name}-ingress_sbox"
    ns = netlink.create_netns(name, dh.home_fd, ipv6=False)
    try:
        ns.rt.link_up(1)
        ip = gw.ipam.allocate()
        veth = dh.new_veth()
        mac = names.mac_from_ip(ip)
        hs.netns.rt.veth_add(veth, "eth1", ns.fd, mac, gw.index, dh.host_mac())
        index = ns.index("eth1")
        ns.rt.addr_add(index, ip, gw.ipam.prefixlen, gw.ipam.broadcast)
        ns.rt.link_up(index)
    except BaseException:
        ns.close()
        netlink.delete_netns_file(ns.path)
        raise
    node = NodeRecord(name, "ingress", ns, "ingress_sbox", None)
    node.on = hs.name
    node.endpoints = [Endpoint(rules.GWBRIDGE, "eth1", ip, mac, veth)]
    dh.nodes[name] = node


def _peer(sb: Sandbox, ip: str, mac: str, vtep: str, add: bool) -> None:
    """``peerAdd``/``peerDelete``: ``ip neigh add IP lladdr MAC dev vxlan0 nud permanent``
    and ``bridge fdb add MAC dev vxlan0 dst VTEP self permanent``."""
    rt = sb.node.netns.rt  # the lean socket: two requests per peer on the run's hot path
    if add:
        _neigh(rt, RTM_NEWNEIGH, socket.AF_INET, 0, sb.vx, mac, ip)
        _neigh(rt, RTM_NEWNEIGH, AF_BRIDGE, NTF_SELF, sb.vx, mac, vtep)
        sb.peers.add(ip)
    else:
        with contextlib.suppress(OSError):
            _neigh(rt, RTM_DELNEIGH, socket.AF_INET, 0, sb.vx, mac, ip)
        with contextlib.suppress(OSError):
            _neigh(rt, RTM_DELNEIGH, AF_BRIDGE, NTF_SELF, sb.vx, mac, vtep)
        sb.peers.discard(ip)


def _neigh(rt: Any, msg_type: int, family: int, flags: int, index: int, mac: str,
           dst: str) -> None:  # fmt: skip
    """One ``RTM_NEWNEIGH``/``RTM_DELNEIGH`` (``ip neigh replace … nud permanent``, or with
    ``AF_BRIDGE`` and ``NTF_SELF`` ``bridge fdb replace MAC dev vxlan0 dst VTEP self``)."""
    m = ndmsg()
    m["family"] = family
    m["ifindex"] = index
    m["state"] = NUD_PERMANENT
    m["flags"] = flags
    m["attrs"] = [("NDA_LLADDR", mac), ("NDA_DST", dst)]
    create = NLM_F_CREATE | NLM_F_REPLACE if msg_type == RTM_NEWNEIGH else 0
    rt.request(m, msg_type, create)


def _announce(dh: DockerHost, lan: Lan, net: OverlayNetwork, hs: HostState, sb: Sandbox,
              ep: Endpoint, add: bool) -> None:
    """Gossip, done at once: tell the other hosts about this endpoint, and (on add) this
    host about theirs."""
    for other in net.sandboxes.values():
        if other.host != hs.name:
            _peer(other, ep.ip, ep.mac, hs.ip, add)
    if not add:
        return
    for rec in dh.containers:
        e = rec.endpoint(net.name)
        on = getattr(rec, "on", "host")
        if e is not None and on != hs.name and e.ip not in sb.peers:
            _peer(sb, e.ip, e.mac, lan.hosts[on].ip, True)
    for other in net.sandboxes.values():  # the other hosts' load-balancer endpoints
        if other.host != hs.name and other.lb is not None and other.lb.ip not in sb.peers:
            _peer(sb, other.lb.ip, other.lb.mac, lan.hosts[other.host].ip, True)


def _ensure_lb(dh: DockerHost, the_lan: Lan, net: OverlayNetwork, hs: HostState,
               sb: Sandbox) -> None:  # fmt: skip
    """The host's load-balancer endpoint on the network, as dockerd 20.10 makes it when the
    host's first container joins (``docker network inspect`` lists it as ``lb-<network>``):
    a namespace ``lb_<id[:9]>`` with an ``eth0`` on the overlay, taking the next address.
    It is what a swarm service's virtual IP would be balanced from; labkit builds no
    services, so it only holds its address and is announced to the other hosts."""
    if sb.lb is not None:
        return
    ip = net.ipam.allocate()
    undo: list[Any] = [lambda: net.ipam.release(ip)]
    name = f"{hs.name}-lb_{net.id[:9]}"
    ns = netlink.create_netns(name, dh.home_fd, ipv6=False)
    undo.append(ns.close)
    undo.append(lambda: netlink.delete_netns_file(ns.path))
    try:
        ns.rt.link_up(1)
        ep = _attach(dh, sb, ns, "eth0", ip, net, undo)
    except BaseException as exc:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        raise netlink.as_labkit_error(exc, f"the load-balancer endpoint of {net.name}") from None
    node = NodeRecord(name, "lb", ns, f"lb_{net.id[:9]}", None)
    node.on = hs.name
    node.endpoints = [ep]
    dh.nodes[name] = node
    sb.lb, sb.lb_node = ep, node
    for other in net.sandboxes.values():
        if other.host != hs.name:
            _peer(other, ep.ip, ep.mac, hs.ip, True)


def run(dh: DockerHost, lan: Lan, hs: HostState, name: str, net: OverlayNetwork,
        ports: list[PortSpec] | None = None) -> dict[str, Any]:  # fmt: skip
    """``docker run --network OVERLAY [-p H:C]``: eth0 on the overlay (MTU 1450), eth1 on
    ``docker_gwbridge`` with the default route, embedded DNS, and the peers told. Published
    ports go through eth1: the DNAT rule and the proxy point at its docker_gwbridge address
    (dockerd 20.10, measured in ``tests/oracle``: ``--to-destination 172.18.0.3:80``)."""
    ip = net.ipam.allocate()
    undo: list[Any] = [lambda: net.ipam.release(ip)]
    try:
        sb = sandbox(dh, net, hs)
        gw = gwbridge(dh, hs)
        rec = _create(dh, hs, sb, name, net, ip, gw, undo)
        for spec in ports or []:
            ports_mod.publish(dh, rec, spec, undo, ep=rec.endpoints[1], bridge=gw.bridge,
                              netns=netns_of(hs))  # fmt: skip
        _announce(dh, lan, net, hs, sb, rec.endpoints[0], True)
        _ensure_lb(dh, lan, net, hs, sb)
        return dh.attrs(rec)
    except BaseException as exc:
        dh.nodes.pop(name, None)
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        raise netlink.as_labkit_error(exc, f"docker run --network {net.name} {name}") from None


def _attach(dh: DockerHost, sb: Sandbox, ns: Netns, ifname: str, ip: str, net: Network,
            undo: list[Any]) -> Endpoint:  # fmt: skip
    """A veth pair: ``vethN`` on the overlay's ``br0``, ``ifname`` in the container; MTU
    1450 on both ends, the address, up (``ov_endpoint.go``/``joinleave.go``)."""
    mac = names.mac_from_ip(ip)
    sbns = sb.node.netns
    port = f"veth{sb.next_port}"
    sb.next_port += 1
    sbns.rt.veth_add(port, ifname, ns.fd, mac, sb.br, dh.host_mac())
    undo.append(lambda: sbns.rt.link_del(sbns.index(port)))
    _set_mtu(sbns.rt, sbns.index(port), rules.MTU)
    index = ns.index(ifname)
    _set_mtu(ns.rt, index, rules.MTU)
    ns.rt.addr_add(index, ip, net.ipam.prefixlen, net.ipam.broadcast)
    ns.rt.link_up(index)
    return Endpoint(net.name, ifname, ip, mac, port)


def _gw_endpoint(dh: DockerHost, hs: HostState, ns: Netns, ifname: str,
                 undo: list[Any]) -> Endpoint:  # fmt: skip
    """An interface on the host's docker_gwbridge, with the default route through it."""
    gw = gwbridge(dh, hs)
    gip = gw.ipam.allocate()
    undo.append(lambda: gw.ipam.release(gip))
    gmac = names.mac_from_ip(gip)
    veth = dh.new_veth()
    hs.netns.rt.veth_add(veth, ifname, ns.fd, gmac, gw.index, dh.host_mac())
    undo.append(lambda: hs.netns.rt.link_del(hs.netns.index(veth)))
    index = ns.index(ifname)
    ns.rt.addr_add(index, gip, gw.ipam.prefixlen, gw.ipam.broadcast)
    ns.rt.link_up(index)
    return Endpoint(rules.GWBRIDGE, ifname, gip, gmac, veth)


def _create(dh: DockerHost, hs: HostState, sb: Sandbox, name: str, net: OverlayNetwork,
            ip: str, gw: Network, undo: list[Any]) -> NodeRecord:  # fmt: skip
    cid = names.new_id(dh.rng)
    hostname = names.short_id(cid)
    ns = netlink.create_netns(name, dh.home_fd, ipv6=False)
    undo.append(ns.close)
    undo.append(lambda: netlink.delete_netns_file(ns.path))
    ns.rt.link_up(1)
    ep = _attach(dh, sb, ns, "eth0", ip, net, undo)
    gep = _gw_endpoint(dh, hs, ns, "eth1", undo)
    ns.rt.default_route(gw.gateway)
    files = nodefiles.write_files(name, hostname, ip, [], dh.profile.resolver_ip, embedded_dns=True)
    undo.append(lambda: shutil.rmtree(files, ignore_errors=True))
    pid = nodefiles.start_holder(ns.path, hostname, files)
    rec = NodeRecord(
        name=name,
        kind="container",
        netns=ns,
        hostname=hostname,
        holder=pid,
        files=files,
        id=cid,
        endpoints=[ep, gep],
        created=time.monotonic(),
        next_if=2,
    )
    rec.on = hs.name
    undo.append(lambda: forkserver.reap(pid.result(timeout=30)))
    dh.start_dns(rec)
    undo.append(lambda: dh.stop_dns(rec))
    dh.nodes[name] = rec
    return rec


def connect(dh: DockerHost, name: str, container: str) -> dict[str, Any]:
    """``docker network connect OVERLAY CONTAINER``: one more interface on the overlay (no
    default route: an overlay never gives one), on whichever host the container runs."""
    net = dh.network(name)
    assert isinstance(net, OverlayNetwork)
    rec = dh.container(container)
    if rec.endpoint(name):
        raise Conflict(f"container {container} is already attached to network {name}")
    the_lan = lan.state(dh)
    hs = the_lan.hosts[rec.on]
    ip = net.ipam.allocate()
    undo: list[Any] = [lambda: net.ipam.release(ip)]
    try:
        sb = sandbox(dh, net, hs)
        ep = _attach(dh, sb, rec.netns, f"eth{rec.next_if}", ip, net, undo)
    except BaseException as exc:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        raise netlink.as_labkit_error(exc, f"docker network connect {name} {container}") from None
    rec.endpoints.append(ep)
    rec.next_if += 1
    dh.start_dns(rec)
    dh.use_embedded_dns(rec)
    _announce(dh, the_lan, net, hs, sb, ep, True)
    _ensure_lb(dh, the_lan, net, hs, sb)
    refresh_gwbridge(dh, rec)
    return dh.attrs(rec)


def disconnect(dh: DockerHost, rec: NodeRecord, ep: Endpoint) -> None:
    """``docker network disconnect OVERLAY CONTAINER``: the peers forget it, its interface
    and address go (the caller then settles docker_gwbridge and the default route)."""
    the_lan = lan.state(dh)
    net = dh.network(ep.network)
    leave(dh, the_lan, the_lan.hosts[rec.on], net, rec, ep)
    rec.endpoints.remove(ep)


def refresh_gwbridge(dh: DockerHost, rec: NodeRecord) -> None:
    """libnetwork's rule for the gateway bridge (``sandbox.go``/``default_gateway.go``): a
    container with an overlay endpoint and no network that gives it a default route gets an
    interface on docker_gwbridge; once a bridge network joins, that interface goes (measured
    on dockerd 20.10: ``docker network connect appnet c1`` removes c1's ``eth1``)."""
    from labkit.daemon.lan import networks_for

    if rec.kind != "container":
        return
    nets = networks_for(dh, rec)
    has_overlay = any(is_overlay(nets.get(e.network)) for e in rec.endpoints)
    gives_gw = any(
        not is_overlay(nets.get(e.network)) and e.network != rules.GWBRIDGE for e in rec.endpoints
    )
    gwep = rec.endpoint(rules.GWBRIDGE)
    hs = lan.state(dh).hosts[rec.on]
    if gwep is not None and (gives_gw or not has_overlay):
        with contextlib.suppress(Exception):
            hs.netns.rt.link_del(hs.netns.index(gwep.veth))
        hs.networks[rules.GWBRIDGE].ipam.release(gwep.ip)
        rec.endpoints.remove(gwep)
    elif gwep is None and has_overlay and not gives_gw:
        undo: list[Any] = []
        try:
            gep = _gw_endpoint(dh, hs, rec.netns, f"eth{rec.next_if}", undo)
        except BaseException as exc:
            for step in reversed(undo):
                with contextlib.suppress(Exception):
                    step()
            raise netlink.as_labkit_error(exc, "docker_gwbridge") from None
        rec.endpoints.append(gep)
        rec.next_if += 1
        rec.netns.ipr.route("replace", dst="0.0.0.0/0", gateway=hs.networks[rules.GWBRIDGE]
                            .gateway, oif=rec.netns.index(gep.ifname), proto=3)  # fmt: skip


def leave(dh: DockerHost, lan: Lan, hs: HostState, net: Network, rec: NodeRecord,
          ep: Endpoint) -> None:  # fmt: skip
    """``docker rm``'s part on an overlay: the peers forget it, its port and address go."""
    assert isinstance(net, OverlayNetwork)
    sb = net.sandboxes.get(hs.name)
    if sb is not None:
        _announce(dh, lan, net, hs, sb, ep, False)
        with contextlib.suppress(Exception):
            sb.node.netns.rt.link_del(sb.node.netns.index(ep.veth))
    net.ipam.release(ep.ip)


def vtep_entries(sb: Sandbox) -> list[dict[str, Any]]:
    """``bridge fdb show dev vxlan0``'s remote entries: MAC → the VTEP (a host's uplink)."""
    out = []
    for f in sb.node.netns.ipr.fdb("dump", ifindex=sb.vx):
        dst = f.get("NDA_DST")
        if dst:
            out.append({"mac": f.get("NDA_LLADDR"), "dst": dst})
    return out


