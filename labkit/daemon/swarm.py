"""Where a container runs in a lab of several hosts, and what ``docker rm`` undoes there.

``run`` places a container on another host's local network (with
:meth:`DockerHost.create_container` given that host's namespace) or on an overlay network
(:mod:`.overlay`), and publishes its ports on the host it runs on (through
``docker_gwbridge`` for an overlay container, as dockerd does); ``release`` is
``docker rm``'s part for both.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from labkit.core.ports import parse_ports
from labkit.daemon import netlink, overlay
from labkit.daemon import ports as ports_mod
from labkit.daemon.lan import netns_of, state
from labkit.daemon.records import NodeRecord
from labkit.errors import InvalidArgument

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost


def run(
    dh: DockerHost,
    name: str,
    *,
    network: str,
    host: str,
    links: dict[str, str] | None,
    ports: Any,
) -> dict[str, Any]:
    """``docker run`` on another host of the lab, or on an overlay network."""
    lan = state(dh)
    hs = lan.host(host)
    if network in ("none", "host") or network.startswith("container:"):
        raise InvalidArgument(
            f"network mode {network!r} is built on the lab's first host only; run it there "
            "(without host=)"
        )
    if links:
        raise InvalidArgument(
            "links= is only built on the first host's bridge networks; on an overlay network "
            "containers already find each other by name (embedded DNS)"
        )
    specs = ports_mod.check(dh, parse_ports(ports), on=host)
    net = dh.networks.get(network)
    if isinstance(net, overlay.OverlayNetwork):
        return overlay.run(dh, lan, hs, name, net, specs)
    if network not in hs.networks:
        known = ", ".join(sorted({*hs.networks, *(n for n, v in dh.networks.items()
                                                  if overlay.is_overlay(v))}))
        raise InvalidArgument(
            f"network {network!r} is not on {host} (there: {known}); bridge networks are local "
            "to one host, an overlay network (driver='overlay') spans them all"
        )
    local = hs.networks[network]
    ip = local.ipam.allocate()
    undo: list[Any] = [lambda: local.ipam.release(ip)]
    try:
        rec = dh.create_container(name, local, ip, [], {}, False, undo, on=hs.netns)
        rec.on = host
        for spec in specs:
            ports_mod.publish(dh, rec, spec, undo, bridge=local.bridge, netns=netns_of(hs))
        return dh.attrs(rec)
    except BaseException as exc:
        dh.nodes.pop(name, None)
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        raise netlink.as_labkit_error(exc, f"docker run {name} (on {host})") from None


def release(dh: DockerHost, rec: NodeRecord) -> None:
    """``docker rm``'s part for what this module and :mod:`.overlay` built: endpoints on
    another host's networks and on overlays (their addresses, veths, peers' fdb and
    neighbour entries). They are taken out of ``rec.endpoints``; the rest is the caller's."""
    if dh.lan is None:
        return
    lan = state(dh)
    on = getattr(rec, "on", "host")
    hs = lan.hosts[on]
    keep = []
    for e in rec.endpoints:
        net = dh.networks.get(e.network)
        if isinstance(net, overlay.OverlayNetwork):
            overlay.leave(dh, lan, hs, net, rec, e)
        elif on != "host":
            local = hs.networks.get(e.network)
            with contextlib.suppress(Exception):
                hs.netns.rt.link_del(hs.netns.index(e.veth))
            if local is not None:
                local.ipam.release(e.ip)
        else:
            keep.append(e)
    rec.endpoints[:] = keep
