"""Rich HTML tables and classic tool output, drawn from a kernel snapshot.

Two forms of the same kernel state (see :mod:`labkit.core.snapshot`):

* HTML for notebooks (``snapshot_html``, ``node_html``, ``conntrack_html``): inline styles
  only, colours that read on JupyterLab's light and dark themes (text inherits the theme's
  colour; backgrounds are translucent), every value escaped.
* The text the article's tools print (``ifconfig_text`` like net-tools' ``ifconfig -a``,
  ``brctl_text`` like ``brctl show``, ``routes_text`` like ``route -n``), so a notebook can
  put the article's evidence next to what the kernel holds.
"""

from __future__ import annotations

import html
import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from labkit.core.snapshot import as_snapshot, natural_key
from labkit.i18n import tr

__all__ = [
    "brctl_text",
    "conntrack_html",
    "ifconfig_text",
    "node_html",
    "routes_text",
    "snapshot_html",
]

# Styles: theme-neutral (inherit text colour, translucent fills) so both themes read well.
_WRAP = (
    "font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px; "
    "color: inherit; line-height: 1.35;"
)
_TABLE = "border-collapse: collapse; margin: 4px 0 10px 0; font-size: 12px; color: inherit;"
_TH = (
    "text-align: left; padding: 3px 8px; border-bottom: 1px solid rgba(127,127,127,0.55); "
    "background: rgba(127,127,127,0.14); font-weight: 600; white-space: nowrap;"
)
_TD = (
    "text-align: left; padding: 3px 8px; border-bottom: 1px solid rgba(127,127,127,0.25); "
    "vertical-align: top;"
)
_MONO = "font-family: var(--jp-code-font-family, ui-monospace, monospace); font-size: 12px;"
_H_NODE = "font-size: 15px; font-weight: 700; margin: 14px 0 4px 0;"
_H_SECTION = "font-size: 12px; font-weight: 600; margin: 8px 0 2px 0; opacity: 0.8;"
_MUTED = "opacity: 0.65;"
_HILITE = "background: rgba(255,146,43,0.30); border-radius: 3px; padding: 0 3px; font-weight: 600;"
_OK = "color: #2f9e44;"
_BAD = "color: #e03131;"
_PRE = (
    _MONO + "margin: 2px 0 8px 0; padding: 6px 8px; background: rgba(127,127,127,0.10); "
    "border-radius: 4px; white-space: pre; overflow-x: auto; color: inherit;"
)
_KIND_LABEL = {"host": "Docker host", "outside": "outside world", "container": "container"}


def _e(value: Any) -> str:
    """HTML-escape any value (``None`` becomes an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table; ``headers`` are escaped here, cells must already be HTML."""
    head = "".join(f'<th style="{_TH}">{_e(tr(h))}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_TD}">{c}</td>' for c in row) + "</tr>" for row in rows
    )
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _mono(value: Any) -> str:
    return f'<span style="{_MONO}">{_e(value)}</span>'


def _none(text: str = "none") -> str:
    return f'<div style="{_MUTED} font-size: 12px; margin: 2px 0 8px 0;">{_e(tr(text))}</div>'


def _section(title: str) -> str:
    return f'<div style="{_H_SECTION}">{_e(tr(title))}</div>'


def _endpoint(addr: Any, port: Any) -> str:
    return f"{addr}:{port}" if port not in (None, "") else str(addr)


# --------------------------------------------------------------------------- conntrack


def _nat_rewrites(entry: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``[(kind, before, after)]``: what NAT did, read from the orig and reply tuples."""
    orig, reply = entry.get("orig") or {}, entry.get("reply") or {}
    out = []
    before = _endpoint(orig.get("src"), orig.get("sport"))
    after = _endpoint(reply.get("dst"), reply.get("dport"))
    if reply and before != after:
        out.append((tr("source NAT"), before, after))
    before = _endpoint(orig.get("dst"), orig.get("dport"))
    after = _endpoint(reply.get("src"), reply.get("sport"))
    if reply and before != after:
        out.append((tr("destination NAT"), before, after))
    return out


def conntrack_html(entries: Iterable[Mapping[str, Any]]) -> str:
    """Conntrack entries as a table: original and reply tuples, with the NAT rewrite.

    The kernel records a connection as the tuple it saw first (``orig``) and the tuple it
    expects back (``reply``). With MASQUERADE the reply is addressed to the host's uplink
    address, not the container's: the rewritten fields are highlighted and spelled out.
    """
    rows = []
    for entry in entries:
        orig, reply = entry.get("orig") or {}, entry.get("reply") or {}
        rewrites = _nat_rewrites(entry)
        kinds = {k for k, _, _ in rewrites}

        def tup(t: Mapping[str, Any], hl_src: bool, hl_dst: bool) -> str:
            src = _mono(_endpoint(t.get("src"), t.get("sport")))
            dst = _mono(_endpoint(t.get("dst"), t.get("dport")))
            src = f'<span style="{_HILITE}">{src}</span>' if hl_src else src
            dst = f'<span style="{_HILITE}">{dst}</span>' if hl_dst else dst
            return f"{src} → {dst}"

        rewrite = (
            "<br>".join(
                f'<b>{_e(k)}</b>: {_mono(b)} → <span style="{_HILITE}">{_mono(a)}</span>'
                for k, b, a in rewrites
            )
            or f'<span style="{_MUTED}">{_e(tr("none"))}</span>'
        )
        rows.append(
            [
                _mono(entry.get("proto") or "?"),
                tup(orig, False, False),
                tup(reply, tr("destination NAT") in kinds, tr("source NAT") in kinds),
                _e(entry.get("state") or ""),
                rewrite,
            ]
        )
    if not rows:
        return f'<div style="{_WRAP}">{_none("no conntrack entries")}</div>'
    table = _table(["proto", "original (src → dst)", "reply (src → dst)", "state", "NAT"], rows)
    return f'<div style="{_WRAP}">{table}</div>'


# --------------------------------------------------------------------------- nodes


def _state_html(link: Mapping[str, Any]) -> str:
    oper = str(link.get("oper") or "?")
    if not link.get("up"):
        return f'<span style="{_BAD}">DOWN</span> <span style="{_MUTED}">(admin)</span>'
    style = _OK if oper in ("UP", "UNKNOWN") else _BAD
    return f'<span style="{style}">{_e(oper)}</span>'


def _wired_to(snap: Mapping[str, Any], node: str) -> dict[str, str]:
    out = {}
    for w in snap.get("wires") or []:
        for me, other in (("a", "b"), ("b", "a")):
            if w[me]["node"] == node:
                out[w[me]["ifname"]] = f"{w[other]['node']}:{w[other]['ifname']}"
    return out


def _iptables_html(iptables: Mapping[str, list[str]]) -> str:
    parts = []
    for table in sorted(iptables, key=lambda t: (t != "nat", t)):
        lines = iptables.get(table) or []
        parts.append(_section(f"iptables -t {table} -S"))
        if not lines:
            parts.append(_none("no rules"))
            continue
        shown = []
        for line in lines:
            text = _e(line)
            if re.search(r"-j (MASQUERADE|SNAT|DNAT)\b", line):
                text = f'<span style="{_HILITE}">{text}</span>'
            shown.append(text)
        parts.append(f'<pre style="{_PRE}">' + "\n".join(shown) + "</pre>")
    return "".join(parts)


def _node_body(snap: Mapping[str, Any], name: str) -> str:
    info = snap["nodes"][name]
    kind = info.get("kind") or "?"
    parts = []
    label = tr(_KIND_LABEL.get(kind, kind))
    hostname = info.get("hostname")
    sub = f" · {_e(tr('hostname'))} {_e(hostname)}" if hostname and hostname != name else ""
    parts.append(
        f'<div style="{_H_NODE}">{_e(name)} '
        f'<span style="{_MUTED} font-weight: 400; font-size: 12px;">{_e(label)}{sub}</span></div>'
    )

    # Interfaces.
    addrs: dict[str, list[str]] = {}
    for a in info.get("addrs") or []:
        addrs.setdefault(a["ifname"], []).append(f"{a.get('address')}/{a.get('prefixlen')}")
    wired = _wired_to(snap, name)
    rows = []
    for lk in sorted(info.get("links") or [], key=lambda lk: lk.get("index") or 0):
        ifn = lk["ifname"]
        peer = wired.get(ifn)
        if peer is None and lk.get("peer_index"):
            peer_html = f'<span style="{_MUTED}">peer ifindex {_e(lk["peer_index"])}</span>'
        else:
            peer_html = _mono(peer or "")
        flags = ' <span style="' + _MUTED + '">PROMISC</span>' if lk.get("promisc") else ""
        rows.append(
            [
                _e(lk.get("index")),
                f"<b>{_mono(ifn)}</b>",
                _e(lk.get("kind") or ""),
                _state_html(lk) + flags,
                _mono(lk.get("mac") or ""),
                _e(lk.get("mtu")),
                "<br>".join(_mono(a) for a in addrs.get(ifn, [])),
                _mono(lk.get("master") or ""),
                peer_html,
            ]
        )
    parts.append(_section("interfaces (ip link / ip addr)"))
    parts.append(
        _table(
            ["#", "ifname", "kind", "state", "MAC", "MTU", "addresses", "master", "wired to"],
            rows,
        )
        if rows
        else _none("no interfaces")
    )

    # Routes.
    rows = [
        [
            _mono(r.get("dst")),
            _mono(r.get("gateway") or ""),
            _mono(r.get("dev") or ""),
            _e(r.get("scope") or ""),
            _e(r.get("proto") or ""),
            _mono(r.get("prefsrc") or ""),
        ]
        for r in info.get("routes") or []
    ]
    parts.append(_section("routes (ip route, main table)"))
    parts.append(
        _table(["destination", "gateway", "dev", "scope", "proto", "src"], rows)
        if rows
        else _none("no routes")
    )

    # Neighbours.
    rows = [
        [_mono(n.get("ip")), _mono(n.get("mac") or ""), _mono(n.get("ifname")), _e(n.get("state"))]
        for n in info.get("neigh") or []
    ]
    parts.append(_section("neighbours (ip neigh, ARP)"))
    parts.append(_table(["IP", "MAC", "dev", "state"], rows) if rows else _none("none"))

    # Bridge MAC learning tables.
    fdb = info.get("fdb") or []
    if fdb:
        for br in sorted({e.get("bridge") or "" for e in fdb}, key=natural_key):
            rows = [
                [
                    _mono(e.get("port")),
                    _mono(e.get("mac")),
                    _e(tr("local (the port's own MAC)") if e.get("local") else tr("learned")),
                ]
                for e in fdb
                if (e.get("bridge") or "") == br
            ]
            parts.append(_section(f"bridge fdb: {br} ({tr('MAC learning table')})"))
            parts.append(_table(["port", "MAC", "entry"], rows))

    # sysctl.
    sysctl = info.get("sysctl") or {}
    if sysctl:
        items = []
        for key in sorted(sysctl):
            value = str(sysctl[key])
            style = ""
            if key == "net.ipv4.ip_forward":
                style = _OK if value == "1" else _BAD
            items.append(f'{_mono(key)} = <b style="{style}">{_e(value)}</b>')
        parts.append(_section("sysctl"))
        parts.append('<div style="font-size: 12px; margin-bottom: 8px;">' + "<br>".join(items))
        parts.append("</div>")

    # iptables.
    iptables = info.get("iptables") or {}
    if any(iptables.get(t) for t in iptables):
        parts.append(_iptables_html(iptables))

    # conntrack.
    if info.get("conntrack"):
        parts.append(_section("conntrack (conntrack -L)"))
        parts.append(conntrack_html(info["conntrack"]))
    return "".join(parts)


def node_html(snapshot: Mapping[str, Any], node: str) -> str:
    """One node of a snapshot as HTML: interfaces, routes, neighbours, fdb, rules, conntrack.

    Raises:
        KeyError: the snapshot has no such node.
    """
    snap = as_snapshot(snapshot)
    if node not in (snap.get("nodes") or {}):
        raise KeyError(f"no node {node!r} in this snapshot")
    return f'<div style="{_WRAP}">{_node_body(snap, node)}</div>'


def snapshot_html(snapshot: Mapping[str, Any]) -> str:
    """A whole snapshot as HTML: the host first, then containers, then the outside world."""
    snap = as_snapshot(snapshot)
    nodes = snap.get("nodes") or {}
    tier = {"host": 0, "container": 1, "outside": 2}
    order = sorted(nodes, key=lambda n: (tier.get(nodes[n].get("kind"), 1), natural_key(n)))
    lab = snap.get("lab") or {}
    head = ""
    shown = [k for k in ("profile", "docker", "subnet", "gateway") if lab.get(k) is not None]
    if shown:
        bits = " · ".join(f"{_e(k)} {_mono(lab[k])}" for k in shown)
        head = f'<div style="{_MUTED} font-size: 12px;">{_e(tr("lab"))}: {bits}</div>'
    body = "".join(_node_body(snap, n) for n in order)
    return f'<div style="{_WRAP}">{head}{body}</div>'


# --------------------------------------------------------------------------- text forms


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
