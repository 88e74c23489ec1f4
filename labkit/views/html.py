"""Rich HTML tables drawn from a kernel snapshot (see :mod:`labkit.core.snapshot`).

``snapshot_html``, ``node_html`` and ``conntrack_html`` for notebooks: inline styles only,
colours that read on JupyterLab's light and dark themes, every value escaped (the pieces
are :mod:`labkit.views.markup`'s). The same state as the article's tools print it
(``ifconfig -a``, ``brctl show``, ``route -n``) is in :mod:`labkit.views.classic`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from labkit.core.snapshot import as_snapshot, natural_key
from labkit.i18n import tr
from labkit.views.flow import endpoint
from labkit.views.markup import (
    BAD,
    H_NODE,
    HILITE,
    MUTED,
    OK,
    PRE,
    WRAP,
    escape,
    mono,
    none,
    section,
    table,
)

__all__ = ["conntrack_html", "node_html", "snapshot_html"]

_KIND_LABEL = {"host": "Docker host", "outside": "outside world", "container": "container"}



# --------------------------------------------------------------------------- conntrack


def _nat_rewrites(entry: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``[(kind, before, after)]``: what NAT did, read from the orig and reply tuples."""
    orig, reply = entry.get("orig") or {}, entry.get("reply") or {}
    out = []
    before = endpoint(orig.get("src"), orig.get("sport"))
    after = endpoint(reply.get("dst"), reply.get("dport"))
    if reply and before != after:
        out.append((tr("source NAT"), before, after))
    before = endpoint(orig.get("dst"), orig.get("dport"))
    after = endpoint(reply.get("src"), reply.get("sport"))
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
            src = mono(endpoint(t.get("src"), t.get("sport")))
            dst = mono(endpoint(t.get("dst"), t.get("dport")))
            src = f'<span style="{HILITE}">{src}</span>' if hl_src else src
            dst = f'<span style="{HILITE}">{dst}</span>' if hl_dst else dst
            return f"{src} → {dst}"

        rewrite = (
            "<br>".join(
                f'<b>{escape(k)}</b>: {mono(b)} → <span style="{HILITE}">{mono(a)}</span>'
                for k, b, a in rewrites
            )
            or f'<span style="{MUTED}">{escape(tr("none"))}</span>'
        )
        rows.append(
            [
                mono(entry.get("proto") or "?"),
                tup(orig, False, False),
                tup(reply, tr("destination NAT") in kinds, tr("source NAT") in kinds),
                escape(entry.get("state") or ""),
                rewrite,
            ]
        )
    if not rows:
        return f'<div style="{WRAP}">{none("no conntrack entries")}</div>'
    grid = table(["proto", "original (src → dst)", "reply (src → dst)", "state", "NAT"], rows)
    return f'<div style="{WRAP}">{grid}</div>'


# --------------------------------------------------------------------------- nodes


def _state_html(link: Mapping[str, Any]) -> str:
    oper = str(link.get("oper") or "?")
    if not link.get("up"):
        return f'<span style="{BAD}">DOWN</span> <span style="{MUTED}">(admin)</span>'
    style = OK if oper in ("UP", "UNKNOWN") else BAD
    return f'<span style="{style}">{escape(oper)}</span>'


def _wired_to(snap: Mapping[str, Any], node: str) -> dict[str, str]:
    out = {}
    for w in snap.get("wires") or []:
        for me, other in (("a", "b"), ("b", "a")):
            if w[me]["node"] == node:
                out[w[me]["ifname"]] = f"{w[other]['node']}:{w[other]['ifname']}"
    return out


def _iptables_html(iptables: Mapping[str, list[str]]) -> str:
    parts = []
    for name in sorted(iptables, key=lambda t: (t != "nat", t)):
        lines = iptables.get(name) or []
        parts.append(section(f"iptables -t {name} -S"))
        if not lines:
            parts.append(none("no rules"))
            continue
        shown = []
        for line in lines:
            text = escape(line)
            if re.search(r"-j (MASQUERADE|SNAT|DNAT)\b", line):
                text = f'<span style="{HILITE}">{text}</span>'
            shown.append(text)
        parts.append(f'<pre style="{PRE}">' + "\n".join(shown) + "</pre>")
    return "".join(parts)


def _node_body(snap: Mapping[str, Any], name: str) -> str:
    info = snap["nodes"][name]
    kind = info.get("kind") or "?"
    parts = []
    label = tr(_KIND_LABEL.get(kind, kind))
    hostname = info.get("hostname")
    sub = f" · {escape(tr('hostname'))} {escape(hostname)}" if hostname and hostname != name else ""
    parts.append(
        f'<div style="{H_NODE}">{escape(name)} '
        f'<span style="{MUTED} font-weight: 400; font-size: 12px;">{escape(label)}{sub}'
        "</span></div>"
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
            peer_html = f'<span style="{MUTED}">peer ifindex {escape(lk["peer_index"])}</span>'
        else:
            peer_html = mono(peer or "")
        flags = ' <span style="' + MUTED + '">PROMISC</span>' if lk.get("promisc") else ""
        rows.append(
            [
                escape(lk.get("index")),
                f"<b>{mono(ifn)}</b>",
                escape(lk.get("kind") or ""),
                _state_html(lk) + flags,
                mono(lk.get("mac") or ""),
                escape(lk.get("mtu")),
                "<br>".join(mono(a) for a in addrs.get(ifn, [])),
                mono(lk.get("master") or ""),
                peer_html,
            ]
        )
    parts.append(section("interfaces (ip link / ip addr)"))
    parts.append(
        table(
            ["#", "ifname", "kind", "state", "MAC", "MTU", "addresses", "master", "wired to"],
            rows,
        )
        if rows
        else none("no interfaces")
    )

    # Routes.
    rows = [
        [
            mono(r.get("dst")),
            mono(r.get("gateway") or ""),
            mono(r.get("dev") or ""),
            escape(r.get("scope") or ""),
            escape(r.get("proto") or ""),
            mono(r.get("prefsrc") or ""),
        ]
        for r in info.get("routes") or []
    ]
    parts.append(section("routes (ip route, main table)"))
    parts.append(
        table(["destination", "gateway", "dev", "scope", "proto", "src"], rows)
        if rows
        else none("no routes")
    )

    # Neighbours.
    rows = [
        [mono(n.get("ip")), mono(n.get("mac") or ""), mono(n.get("ifname")), escape(n.get("state"))]
        for n in info.get("neigh") or []
    ]
    parts.append(section("neighbours (ip neigh, ARP)"))
    parts.append(table(["IP", "MAC", "dev", "state"], rows) if rows else none("none"))

    # Bridge MAC learning tables.
    fdb = info.get("fdb") or []
    if fdb:
        for br in sorted({e.get("bridge") or "" for e in fdb}, key=natural_key):
            rows = [
                [
                    mono(e.get("port")),
                    mono(e.get("mac")),
                    escape(tr("local (the port's own MAC)") if e.get("local") else tr("learned")),
                ]
                for e in fdb
                if (e.get("bridge") or "") == br
            ]
            parts.append(section(f"bridge fdb: {br} ({tr('MAC learning table')})"))
            parts.append(table(["port", "MAC", "entry"], rows))

    # sysctl.
    sysctl = info.get("sysctl") or {}
    if sysctl:
        items = []
        for key in sorted(sysctl):
            value = str(sysctl[key])
            style = ""
            if key == "net.ipv4.ip_forward":
                style = OK if value == "1" else BAD
            items.append(f'{mono(key)} = <b style="{style}">{escape(value)}</b>')
        parts.append(section("sysctl"))
        parts.append('<div style="font-size: 12px; margin-bottom: 8px;">' + "<br>".join(items))
        parts.append("</div>")

    # iptables.
    iptables = info.get("iptables") or {}
    if any(iptables.get(t) for t in iptables):
        parts.append(_iptables_html(iptables))

    # conntrack.
    if info.get("conntrack"):
        parts.append(section("conntrack (conntrack -L)"))
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
    return f'<div style="{WRAP}">{_node_body(snap, node)}</div>'


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
        bits = " · ".join(f"{escape(k)} {mono(lab[k])}" for k in shown)
        head = f'<div style="{MUTED} font-size: 12px;">{escape(tr("lab"))}: {bits}</div>'
    body = "".join(_node_body(snap, n) for n in order)
    return f'<div style="{WRAP}">{head}{body}</div>'
