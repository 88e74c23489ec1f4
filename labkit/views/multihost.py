"""The picture of a lab with several Docker hosts or overlay networks, from a kernel snapshot.

Drawn when the snapshot holds more than one host or an overlay network's namespace (kind
``overlay``): one box per Docker host with its uplink ``eth0``, its bridges and, nested,
each overlay namespace (``br0`` and ``vxlan0``); its containers beside it; the outside in
the middle as the LAN's switch (``br-lan``) and router; and between the ``vxlan0`` devices
of one VNI a dashed tunnel. A captured flow is numbered hop by hop, and where it crossed the
LAN inside VXLAN the hop shows both headers: the outer one (host to host, UDP 4789) and the
frame it carried. Like :mod:`labkit.views.diagram`, everything comes from the snapshot, and
the same snapshot gives the same DOT source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphviz

from labkit.core.snapshot import as_snapshot, natural_key
from labkit.i18n import font, tr, using
from labkit.views.diagram import FLOW_COLOR
from labkit.views.flow import flow_hops

__all__ = ["diagram", "wants_multihost"]

_FILL = {"host": "#f8f9fa", "outside": "#f4fce3", "overlay": "#fff4e6", "container": "#e7f5ff",
         "lb": "#fff9db", "ingress": "#fff9db"}
_LINE = {"host": "#495057", "outside": "#5c940d", "overlay": "#e8590c", "container": "#1c7ed6",
         "lb": "#f08c00", "ingress": "#f08c00"}
_TUNNEL = "#e8590c"
#: namespaces drawn inside their host's box, with what they are
_NESTED = {"overlay": "overlay namespace", "lb": "load balancer", "ingress": "ingress sandbox"}


def wants_multihost(snapshot: Mapping[str, Any]) -> bool:
    """True when the snapshot has several Docker hosts or an overlay namespace."""
    kinds = [n.get("kind") for n in (as_snapshot(snapshot).get("nodes") or {}).values()]
    return kinds.count("host") > 1 or "overlay" in kinds


def _gid(node: str, ifname: str) -> str:
    return f"{node}/{ifname}"  # not ":" (graphviz reads node:port)


def _addrs(info: Mapping[str, Any], ifname: str) -> list[str]:
    return [
        f"{a['address']}/{a['prefixlen']}"
        for a in info.get("addrs") or []
        if a.get("ifname") == ifname and a.get("family") == 4
    ]


def _hop_label(n: int, hop: Mapping[str, Any]) -> str:
    def pair(h: Mapping[str, Any]) -> str:
        return f"{h.get('src')} → {h.get('dst')} {h.get('proto') or ''}".strip()

    if hop.get("vni") is not None and hop.get("inner"):
        return f"({n}) VXLAN {hop['vni']}: {pair(hop)} {hop.get('dport')}\\n[{pair(hop['inner'])}]"
    return f"({n}) {pair(hop)}"


def _host_of(name: str, hosts: list[str]) -> str | None:
    """An overlay namespace ``<host>-1-…`` → its host."""
    for h in sorted(hosts, key=len, reverse=True):
        if name.startswith(h + "-"):
            return h
    return None


def diagram(
    snapshot: Mapping[str, Any],
    flow: Any = None,
    *,
    title: str | None = None,
    lang: str | None = None,
    rankdir: str = "TB",
    show_lo: bool = False,
) -> graphviz.Digraph:
    """Draw hosts, LAN, overlay namespaces, containers, tunnels, and a flow if given.

    The options are :func:`labkit.views.diagram.diagram`'s: ``lang`` for labkit's own
    labels (``"ja"``), ``rankdir``, ``show_lo`` (list each node's ``lo`` too).
    """
    with using(lang):
        return _diagram(snapshot, flow, title, rankdir, show_lo)


def _diagram(
    snapshot: Mapping[str, Any], flow: Any, title: str | None, rankdir: str, show_lo: bool
) -> graphviz.Digraph:
    _font = font()
    snap = as_snapshot(snapshot)
    nodes: Mapping[str, Any] = snap.get("nodes") or {}
    wires = snap.get("wires") or []
    hops = flow_hops(flow)
    hosts = sorted((n for n, i in nodes.items() if i.get("kind") == "host"), key=natural_key)
    links = {n: {lk["ifname"]: lk for lk in i.get("links") or []} for n, i in nodes.items()}

    # where a (node, ifname) is drawn: a bridge port is drawn as its bridge
    def folded(node: str, lk: Mapping[str, Any]) -> bool:
        """A bridge port drawn as its bridge (a VXLAN device keeps its own box)."""
        return bool(lk.get("master")) and lk.get("kind") != "vxlan" and (
            nodes[node].get("kind") != "container")

    def drawn(node: str, ifname: str) -> str:
        lk = links.get(node, {}).get(ifname) or {}
        if folded(node, lk):
            return _gid(node, str(lk["master"]))
        return _gid(node, ifname)

    hop_at: dict[str, list[str]] = {}
    for i, hop in enumerate(hops, start=1):
        hop_at.setdefault(drawn(str(hop["node"]), str(hop["ifname"])), []).append(
            _hop_label(i, hop)
        )

    g = graphviz.Digraph("lab", engine="dot")
    g.attr(rankdir=rankdir, fontname=_font, compound="true", newrank="true",
           label=title or tr("Docker hosts on one LAN, and their overlay networks"),
           labelloc="t", fontsize="14")  # fmt: skip
    g.attr("node", fontname=_font, fontsize="10", shape="box", style="rounded,filled",
           fillcolor="white")  # fmt: skip
    g.attr("edge", fontname=_font, fontsize="9", arrowhead="none")

    def iface(sub: graphviz.Digraph, node: str, ifname: str, extra: str = "") -> None:
        lk = links[node][ifname]
        lines = [f"{ifname} ({lk.get('kind') or 'link'})", *_addrs(nodes[node], ifname)]
        if lk.get("kind") == "vxlan":
            lines.append(f"VNI {lk.get('vni')} · UDP {lk.get('vxlan_port')}")
        if lk.get("mtu") and lk.get("mtu") != 1500 and lk.get("kind") != "loopback":
            lines.append(f"mtu {lk['mtu']}")
        if extra:
            lines.append(extra)
        gid = _gid(node, ifname)
        for text in hop_at.get(gid, []):
            lines.append(text)
        color = FLOW_COLOR if gid in hop_at else "#495057"
        sub.node(gid, "\\n".join(lines), color=color, penwidth="2" if gid in hop_at else "1")

    def shown(node: str) -> list[str]:
        out = []
        for ifname, lk in sorted(links[node].items(), key=lambda kv: kv[1].get("index") or 0):
            if lk.get("kind") == "loopback" and not show_lo:
                continue
            if folded(node, lk):
                continue  # a bridge port: drawn as its bridge
            out.append(ifname)
        return out

    def ports_of(node: str, bridge: str) -> str:
        ports = sorted((n for n, lk in links[node].items() if lk.get("master") == bridge),
                       key=natural_key)  # fmt: skip
        return (tr("ports") + ": " + ", ".join(ports)) if ports else ""

    def cluster(parent: graphviz.Digraph, node: str, label: str) -> None:
        kind = nodes[node].get("kind") or "other"
        with parent.subgraph(name=f"cluster_{node}") as c:
            c.attr(label=label, style="rounded,filled", fillcolor=_FILL.get(kind, "#f3f0ff"),
                   color=_LINE.get(kind, "#7048e8"))  # fmt: skip
            for ifname in shown(node):
                kind_if = links[node][ifname].get("kind")
                iface(c, node, ifname, ports_of(node, ifname) if kind_if == "bridge" else "")
            if kind == "host":  # the swarm's namespaces on this host
                for ov in sorted(n for n, i in nodes.items()
                                 if i.get("kind") in _NESTED and _host_of(n, hosts) == node):
                    what = tr(_NESTED[nodes[ov]["kind"]])
                    cluster(c, ov, f"{what} {nodes[ov].get('hostname') or ov}")

    for name in sorted((n for n, i in nodes.items() if i.get("kind") == "container"),
                       key=natural_key):  # fmt: skip
        cluster(g, name, f"{tr('container')} {name}")
    for h in hosts:
        up = _addrs(nodes[h], "eth0")
        cluster(g, h, f"{tr('Docker host')} {h}" + (f" — {up[0]}" if up else ""))
    # the LAN: the outside namespace as switch and router
    if "outside" in nodes:
        switch = "the LAN's switch (br-lan) and router" if len(hosts) > 1 else "the router"
        cluster(g, "outside", f"outside: {tr(switch)}")  # the node's name, as in code

    # cables: veth pairs (a bridge port is drawn as its bridge)
    tier = {"container": 0, "overlay": 1, "lb": 0, "ingress": 0, "host": 1, "outside": 2}
    done: set[tuple[str, str]] = set()
    for w in sorted(wires, key=lambda w: (w["a"]["node"], w["a"]["ifname"])):
        ends_ = sorted((w["a"], w["b"]), key=lambda e: tier.get(nodes[e["node"]].get("kind"), 1))
        a = drawn(ends_[0]["node"], ends_[0]["ifname"])
        b = drawn(ends_[1]["node"], ends_[1]["ifname"])
        key = (min(a, b), max(a, b))
        if a == b or key in done:
            continue
        done.add(key)
        g.edge(a, b, color="#868e96")
    # tunnels: vxlan devices with the same VNI on different hosts
    ends: dict[Any, list[str]] = {}
    for n, i in nodes.items():
        for lk in i.get("links") or []:
            if lk.get("kind") == "vxlan":
                ends.setdefault(lk.get("vni"), []).append(_gid(n, lk["ifname"]))
    for vni, gids in sorted(ends.items(), key=lambda kv: str(kv[0])):
        gids.sort(key=natural_key)
        for a, b in zip(gids, gids[1:], strict=False):
            g.edge(a, b, label=f"{tr('VXLAN tunnel')} VNI {vni}", style="dashed", color=_TUNNEL,
                   fontcolor=_TUNNEL, penwidth="2", constraint="false")  # fmt: skip
    # the flow, hop to hop; into and out of the tunnel through that host's vxlan0
    def vtep(host: str, vni: Any) -> str | None:
        return next((e for e in ends.get(vni, []) if _host_of(e.split("/")[0], hosts) == host),
                    None)  # fmt: skip

    def flow_edge(a: str, b: str, label: str) -> None:
        if a != b:
            g.edge(a, b, color=FLOW_COLOR, fontcolor=FLOW_COLOR, penwidth="2.5",
                   arrowhead="normal", label=label, constraint="false")  # fmt: skip

    for i in range(1, len(hops)):
        prev, cur = hops[i - 1], hops[i]
        a = drawn(str(prev["node"]), str(prev["ifname"]))
        b = drawn(str(cur["node"]), str(cur["ifname"]))
        via = None
        if cur.get("vni") is not None and prev.get("vni") is None:
            via, what = vtep(str(cur["node"]), cur["vni"]), tr("encapsulated")
        elif prev.get("vni") is not None and cur.get("vni") is None:
            via, what = vtep(str(prev["node"]), prev["vni"]), tr("decapsulated")
        if via is not None:
            flow_edge(a, via, f"{i}")
            flow_edge(via, b, f"{i}: {what}")
        else:
            flow_edge(a, b, str(i))
    return g
