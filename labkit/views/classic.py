"""The text the article's tools print, drawn from a kernel snapshot's node.

``ifconfig_text`` like net-tools' ``ifconfig -a``, ``brctl_text`` like ``brctl show`` and
``routes_text`` like ``route -n``: a notebook can put the article's evidence next to what
the kernel holds (see :mod:`labkit.core.snapshot` for a node's fields). The HTML forms of
the same state are in :mod:`labkit.views.html`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from labkit.core.snapshot import natural_key

__all__ = ["brctl_text", "ifconfig_text", "routes_text"]


def _mask(prefixlen: int) -> str:
    return str(ipaddress.IPv4Network(f"0.0.0.0/{int(prefixlen)}").netmask)


def _route_dst(dst: str) -> tuple[str, int]:
    if dst in ("default", "0.0.0.0/0"):
        return "0.0.0.0", 0
    if "/" not in dst:
        return dst, 32
    net, _, plen = dst.partition("/")
    return net, int(plen)


def routes_text(node_info: Mapping[str, Any], *, numeric: bool = True) -> str:
    """The node's IPv4 routes as net-tools ``route -n`` prints them.

    With ``numeric=False`` it reads like plain ``route`` as in the article: ``default``
    for 0.0.0.0 and ``*`` for no gateway. Metric is the route's ``metric`` (or
    ``priority``) field when the snapshot has one, else 0; Ref and Use are always 0.
    """
    lines = [
        "Kernel IP routing table",
        "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface",
    ]
    for r in node_info.get("routes") or []:
        net, plen = _route_dst(str(r.get("dst")))
        gw = r.get("gateway")
        flags = "U" + ("G" if gw else "") + ("H" if plen == 32 else "")
        if numeric:
            dst_s, gw_s = net, gw or "0.0.0.0"
        else:
            dst_s = "default" if plen == 0 else net
            gw_s = gw or "*"
        metric = int(r.get("metric") or r.get("priority") or 0)
        lines.append(
            f"{dst_s:<15} {gw_s:<15} {_mask(plen):<15} {flags:<6}{metric:<6} {0:<2} {0:>7} "
            f"{r.get('dev') or ''}".rstrip()
        )
    return "\n".join(lines) + "\n"


def brctl_text(node_info: Mapping[str, Any]) -> str:
    """The node's bridges as ``brctl show`` prints them (tabs expanded to 8 columns).

    Bridge id is priority 8000 (the kernel default) and the bridge's MAC; STP is shown as
    ``no`` unless the link carries a true ``stp`` field. Ports are listed by name.
    """
    links = node_info.get("links") or []
    out = ["bridge name\tbridge id\t\tSTP enabled\tinterfaces"]
    brs = sorted((lk for lk in links if lk.get("kind") == "bridge"), key=lambda lk: lk["ifname"])
    for br in brs:
        ports = sorted(lk["ifname"] for lk in links if lk.get("master") == br["ifname"])
        prio = str(br.get("bridge_priority") or "8000")
        bid = f"{prio}.{str(br.get('mac') or '').replace(':', '').lower()}"
        stp = "yes" if br.get("stp") else "no"
        line = f"{br['ifname']}\t\t{bid}\t{stp}\t\t"
        if ports:
            out.append(line + ports[0])
            out += ["\t" * 7 + p for p in ports[1:]]
        else:
            out.append(line)
    return "\n".join(line.expandtabs(8).rstrip() for line in out) + "\n"


def _scope6(addr: str) -> str:
    ip = ipaddress.IPv6Address(addr)
    if ip.is_loopback:
        return "Host"
    if ip.is_link_local:
        return "Link"
    if ip.is_site_local:
        return "Site"
    return "Global"


def ifconfig_text(node_info: Mapping[str, Any]) -> str:
    """The node's interfaces as (old, net-tools 1.60) ``ifconfig -a`` prints them.

    That is the format the article quotes (``Link encap:Ethernet  HWaddr ...``). Like the
    tool, interfaces are sorted by name and only the first IPv4 address of each shows.
    Bcast is the address's ``broadcast`` field when the snapshot has one, else computed
    from the prefix. Packet counters are not in a snapshot and are left out.
    """
    addrs = node_info.get("addrs") or []
    blocks = []
    for lk in sorted(node_info.get("links") or [], key=lambda lk: natural_key(lk["ifname"])):
        ifn = lk["ifname"]
        loop = lk.get("kind") == "loopback"
        if loop:
            lines = [f"{ifn:<9} Link encap:Local Loopback"]
        else:
            mac = str(lk.get("mac") or "").upper()
            lines = [f"{ifn:<9} Link encap:Ethernet  HWaddr {mac}"]
        pad = " " * 10
        v4 = [a for a in addrs if a["ifname"] == ifn and a.get("family") == 4]
        if v4:
            a = v4[0]
            line = f"{pad}inet addr:{a['address']} "
            if not loop:
                bcast = a.get("broadcast")
                if not bcast:
                    net = ipaddress.IPv4Interface(f"{a['address']}/{a['prefixlen']}").network
                    bcast = str(net.broadcast_address) if net.prefixlen < 31 else "0.0.0.0"
                line += f" Bcast:{bcast} "
            line += f" Mask:{_mask(a['prefixlen'])}"
            lines.append(line)
        for a in addrs:
            if a["ifname"] == ifn and a.get("family") == 6:
                scope = _scope6(a["address"])
                lines.append(f"{pad}inet6 addr: {a['address']}/{a['prefixlen']} Scope:{scope}")
        running = lk.get("up") and str(lk.get("oper")) in ("UP", "UNKNOWN")
        flags = []
        if lk.get("up"):
            flags.append("UP")
        if not loop:
            flags.append("BROADCAST")
        else:
            flags.append("LOOPBACK")
        if running:
            flags.append("RUNNING")
        if lk.get("kind") == "dummy":
            flags.append("NOARP")
        if lk.get("promisc"):
            flags.append("PROMISC")
        if not loop and lk.get("kind") != "dummy":
            flags.append("MULTICAST")
        lines.append(f"{pad}{' '.join(flags)}  MTU:{lk.get('mtu')}  Metric:1")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
