"""User-defined bridge networks (``docker network create/rm/connect``), as dockerd makes them.

A new network takes the first of Docker's default pools that overlaps no other network of
the lab (172.18.0.0/16 when docker0 has 172.17.0.0/16), gets a bridge named ``br-`` + the
first 12 hex digits of its id, the gateway on its first address, the same FORWARD and NAT
rules as docker0 placed before the older networks', and isolation rules so that networks
cannot reach each other. Containers on it use Docker's embedded DNS at 127.0.0.11.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from typing import TYPE_CHECKING, Any

from labkit.core import firewall, names
from labkit.core.ipam import IPAM, check_overlap, default_pools, reserved_ranges
from labkit.daemon import netlink
from labkit.daemon.records import Endpoint, Network, NodeRecord
from labkit.errors import Conflict, InvalidArgument, SubnetExhausted

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost


def _pick_subnet(host: DockerHost, subnet: str | None) -> ipaddress.IPv4Network:
    used = [n.ipam.subnet for n in host.networks.values()]
    if subnet is not None:
        taken: dict[str, ipaddress.IPv4Network | str] = dict(reserved_ranges(host.profile))
        for name, n in host.networks.items():
            taken[f"network {name!r}, already in this lab"] = n.ipam.subnet
        return check_overlap(subnet, taken)
    for pool in default_pools():
        if not any(pool.overlaps(u) for u in used):
            return pool
    raise SubnetExhausted("all of Docker's default address pools are in use in this lab")


def create(
    host: DockerHost,
    name: str,
    subnet: str | None = None,
    driver: str = "bridge",
    parent: str | None = None,
    gateway: str | None = None,
    ipv6: bool = False,
    subnet6: str | None = None,
) -> dict[str, Any]:
    """``docker network create [-d DRIVER] [--subnet S] [--gateway G] [-o parent=P] NAME``
    (the bridge driver here; macvlan in :mod:`.macvlan`)."""
    from labkit.daemon import macvlan

    names.validate_name(name, "network")
    macvlan.check_driver(driver, parent)
    from labkit.daemon import ipv6 as v6

    v6.check_network(host, ipv6, subnet, subnet6)
    if ipv6 and driver != "bridge":
        raise InvalidArgument("labkit builds IPv6 on bridge networks only (not on macvlan)")
    if name in host.networks or name in ("host", "none"):
        raise Conflict(f"network with name {name} already exists")
    if driver == "macvlan":
        return macvlan.create(host, name, str(parent), subnet, gateway)
    if driver == "overlay":  # swarm scope: labkit.daemon.overlay
        from labkit.daemon import overlay

        if parent is not None or gateway is not None:
            raise InvalidArgument(
                "parent= and gateway= are not options of labkit's overlay driver; give "
                "subnet= only (the gateway is the subnet's first address)"
            )
        return overlay.create(host, name, subnet)
    net_addr = _pick_subnet(host, subnet)
    sub6 = v6.pick_subnet6(host, subnet6) if ipv6 else None
    nid = names.new_id(host.rng)
    bridge = names.bridge_name(nid)
    ipam = IPAM(str(net_addr), gateway=gateway)
    ipr = host.host.ipr
    ipr.link("add", ifname=bridge, kind="bridge", address=host.host_mac(), txqlen=0)
    rules: list[firewall.Command] = []
    try:
        index = host.host.index(bridge)
        ipr.addr("add", index=index, address=str(ipam.gateway), prefixlen=ipam.prefixlen,
                 broadcast=ipam.broadcast)
        ipr.link("set", index=index, state="up")
        rules = firewall.bridge_inserts(firewall.BridgeRules(bridge, str(net_addr)))
        from labkit.daemon.tools import apply_rules

        apply_rules(rules)
        net = Network(name, nid, bridge, ipam, index, True, True, rules, time.monotonic())
        net.user_subnet = subnet is not None
        if sub6 is not None:
            v6.enable_on_bridge(host, net, sub6)
            net.rules6 = v6.setup_rules(host, net)
    except BaseException:
        from labkit.daemon.tools import apply_rules

        with contextlib.suppress(Exception):
            apply_rules(firewall.deletions(rules))
        with contextlib.suppress(Exception):
            ipr.link("del", ifname=bridge)
        raise
    host.networks[name] = net
    return net.attrs([])


def remove(host: DockerHost, name: str) -> None:
    """``docker network rm NAME``: refused while containers are attached, as Docker does."""
    net = host.network(name)
    if not net.user_defined:
        raise InvalidArgument(f"{name} is a pre-defined network and cannot be removed")
    if getattr(net, "vni", None):
        from labkit.daemon import overlay

        return overlay.remove(host, name)
    members = [c.name for c in host.members(name)]
    if members:
        raise Conflict(
            f"error while removing network: network {name} id {net.id} has active endpoints "
            f"({', '.join(members)}); remove or disconnect them first"
        )
    from labkit.daemon.tools import apply_rules

    apply_rules(firewall.deletions(net.rules))
    if net.rules6:
        from labkit.daemon import ipv6

        ipv6.apply6(firewall.deletions(net.rules6))
    if net.driver == "bridge":  # a macvlan network's index is its parent, the uplink
        with contextlib.suppress(OSError):
            host.host.rt.link_del(net.index)
    del host.networks[name]


def connect(
    host: DockerHost, name: str, container: str, ipv4_address: str | None = None
) -> dict[str, Any]:
    """``docker network connect [--ip A] NAME CONTAINER``: one more interface (eth1, eth2,
    …), at the address ``ipv4_address`` when one is given (:func:`claim_address`)."""
    net = host.network(name)
    rec = host.container(container)
    if getattr(net, "vni", None):  # an overlay network (labkit.daemon.overlay)
        from labkit.daemon import overlay

        if ipv4_address:
            raise InvalidArgument(
                "ipv4_address= is built for bridge and macvlan networks on the first host, "
                f"not for the overlay network {name!r}"
            )
        return overlay.connect(host, name, container)
    from labkit.daemon import modes

    modes.check_connect(rec)
    if rec.on != "host":
        raise InvalidArgument(
            f"docker network connect {name} {container}: {container} runs on {rec.on}, and "
            "labkit builds connecting to a bridge network only on the first host (an overlay "
            "network can be connected on any host)"
        )
    if rec.endpoint(name):
        raise Conflict(f"container {container} is already attached to network {name}")
    ip = claim_address(net, ipv4_address) if ipv4_address else net.ipam.allocate()
    ifname = f"eth{rec.next_if}"
    mac = names.mac_from_ip(ip)
    veth = host.new_veth() if net.driver == "bridge" else ""
    try:
        if net.driver == "macvlan":
            from labkit.daemon import macvlan

            macvlan.attach(host, net, rec.netns, ifname, mac, [])
        else:
            host.host.rt.veth_add(veth, ifname, rec.netns.fd, mac, net.index, host.host_mac())
        try:
            idx = rec.netns.index(ifname)
            rec.netns.rt.addr_add(idx, ip, net.ipam.prefixlen, net.ipam.broadcast)
            rec.netns.rt.link_up(idx)
            ip6 = ""
            if net.ipam6 is not None:
                from labkit.daemon import ipv6

                ip6 = ipv6.attach(rec.netns, ifname, net, fresh=rec.primary is None)
        except BaseException:
            _unplug(host, rec, ifname, veth)
            raise
    except BaseException as exc:
        net.ipam.release(ip)
        raise netlink.as_labkit_error(exc, f"docker network connect {name} {container}") from None
    rec.endpoints.append(Endpoint(name, ifname, ip, mac, veth, ip6))
    rec.next_if += 1
    _refresh_gwbridge(host, rec)
    _update_gateway(host, rec)
    if net.user_defined:
        # as libnetwork does when a sandbox gains an endpoint that needs the resolver: the
        # embedded DNS starts and resolv.conf is rebuilt to point at it
        host.start_dns(rec)
        host.use_embedded_dns(rec)
    return host.attrs(rec)


def claim_address(net: Network, ip: object) -> str:
    """The address a container asked for on ``net`` (``docker run --ip``, ``docker network
    connect --ip``), refused as dockerd 20.10 refuses it (measured in ``tests/oracle``): not
    on the default bridge, only on a network created with ``--subnet``, inside it and free."""
    if not net.user_defined:
        raise InvalidArgument(
            f"user specified IP address is supported on user defined networks only (asked "
            f"{ip} on {net.name!r}; create a network with lab.networks.create(name, "
            "subnet=...) and run the container there)"
        )
    if not net.user_subnet:
        raise InvalidArgument(
            "user specified IP address is supported only when connecting to networks with "
            f"user configured subnets ({net.name!r} took {net.subnet} from the pool; create "
            "it with subnet=...)"
        )
    return net.ipam.claim(ip)


def disconnect(host: DockerHost, name: str, container: str) -> dict[str, Any]:
    """``docker network disconnect NAME CONTAINER``: the interface goes, its address is
    free again, and the default route moves to the endpoint libnetwork now prefers
    (measured on Docker 20.10: disconnecting ``appnet`` puts ``via 172.17.0.1 dev eth0``
    back). resolv.conf stays as it is, as in Docker."""
    from labkit.daemon import ports as ports_mod

    net = host.network(name)
    rec = host.container(container)
    ep = rec.endpoint(name)
    if ep is None:
        raise Conflict(f"container {container} is not connected to network {name}")
    if getattr(net, "vni", None):  # an overlay network (labkit.daemon.overlay)
        from labkit.daemon import overlay

        overlay.disconnect(host, rec, ep)
        _refresh_gwbridge(host, rec)
        _update_gateway(host, rec)
        return host.attrs(rec)
    if ep is rec.primary:  # published ports belong to the first network's address
        for pub in list(rec.ports):
            ports_mod.unpublish(pub)
            rec.ports.remove(pub)
    _unplug(host, rec, ep.ifname, ep.veth)
    net.ipam.release(ep.ip)
    if net.ipam6 is not None and ep.ip6:
        net.ipam6.release(ep.ip6)
    rec.endpoints.remove(ep)
    _refresh_gwbridge(host, rec)
    _update_gateway(host, rec)
    return host.attrs(rec)


def _unplug(host: DockerHost, rec: NodeRecord, ifname: str, veth: str) -> None:
    """Delete an endpoint's interface: the host end of its veth pair, or (macvlan, no host
    end) the container's interface itself."""
    from labkit.errors import NotFound

    with contextlib.suppress(OSError, NotFound):
        if veth:
            host.host.rt.link_del(host.host.index(veth))
        else:
            rec.netns.rt.link_del(rec.netns.index(ifname))


def gateway_endpoint(rec: NodeRecord, skip: frozenset[str] = frozenset()) -> Endpoint | None:
    """The endpoint that provides the container's default route, as libnetwork picks it:
    all endpoints have the same priority, so the one whose *network name* sorts first
    (``sandbox.go``, ``epHeap.Less``). Connecting ``appnet`` to a container on ``bridge``
    moves its default route to appnet's gateway; connecting ``zeta`` would not. Networks in
    ``skip`` (overlays: they never give a default route) are left out."""
    mine = (e for e in rec.endpoints if e.network not in skip)
    return min(mine, key=lambda e: e.network, default=None)


def _refresh_gwbridge(host: DockerHost, rec: NodeRecord) -> None:
    """An overlay container loses or regains its docker_gwbridge interface as a bridge
    network joins or leaves (:func:`labkit.daemon.overlay.refresh_gwbridge`)."""
    if host.lan is not None:  # only a lab that has used overlays or other hosts
        from labkit.daemon import overlay

        overlay.refresh_gwbridge(host, rec)


def _update_gateway(host: DockerHost, rec: NodeRecord) -> None:
    """Point the container's default route at its gateway endpoint's network."""
    overlays = frozenset(n for n, v in host.networks.items() if getattr(v, "vni", None))
    ep = gateway_endpoint(rec, overlays)
    if ep is None:
        return
    gw = host.networks[ep.network].gateway
    ns = rec.netns
    ns.ipr.route("replace", dst="0.0.0.0/0", gateway=gw, oif=ns.index(ep.ifname),
                 proto=3)  # proto boot, as `ip route add` records (Docker's route shows none)


def list_networks(host: DockerHost) -> list[dict[str, Any]]:
    return [n.attrs([c.name for c in host.members(n.name)]) for n in host.networks.values()]
