"""Topology diagrams drawn from a kernel snapshot (see :mod:`labkit.core.snapshot`).

``diagram(snapshot)`` returns a :class:`graphviz.Digraph`; Jupyter shows it as SVG. The
picture is derived only from what the kernel reported, never from names labkit chose:

* bridges are links with ``kind == "bridge"``; their ports are the links whose ``master``
  is that bridge (drawn as sockets along the top of the bridge, like a switch);
* veth pairs come from ``snapshot["wires"]`` and are drawn as cables between the two ends;
* the uplink is the host interface the default route leaves by;
* NAT is shown when the host's ``iptables -t nat -S`` holds a MASQUERADE (or SNAT) rule;
* every other interface (a ``dummy0`` added by hand, ...) is listed in its node; ``lo`` only
  with ``show_lo=True`` or when it carries more than ``127.0.0.1`` and ``::1``.

Layout, left to right (``rankdir="LR"``, the default for a host with one bridge; ``"TB"``
stacks it top to bottom, the default with several bridges): containers, the Docker host
(bridge, then routing, NAT and uplink in one column), and the outside world under the host. A drawn
flow's table of hops sits under the picture. Labels that labkit writes follow
:func:`labkit.set_language` (or ``lang=``). Output is deterministic: the same snapshot
gives the same DOT source, so notebooks' stored SVG does not churn.

A flow (a list of hop dicts, or an object with ``.hops()``) is drawn on top: each hop is
numbered at the interface where it was seen, with the addresses seen there, and the cables
it travelled are coloured; rewritten addresses (NAT) are highlighted.

The questions asked of the snapshot are :mod:`.topology`'s, the flow's logic (hops, NAT
rewrites, the cables between hops) is :mod:`.flow`'s; here a :class:`_Drawing` holds one
picture's state while it is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import graphviz

from labkit.core.snapshot import as_snapshot, natural_key
from labkit.i18n import font as _lang_font
from labkit.i18n import tr
from labkit.i18n import using as _using_lang
from labkit.views.flow import Edge, endpoint, flow_hops, hop_changes, route
from labkit.views.labels import CABLE, esc, table, wrap
from labkit.views.topology import (
    addrs_by_if,
    bridges,
    dnat_rules,
    find_uplink,
    gateways_by_dev,
    links,
    nat_rules,
    plain_lo,
    rule_summary,
)

__all__ = [
    "FLOW_COLOR",
    "bridges",
    "diagram",
    "diagram_svg",
    "find_uplink",
    "flow_hops",
    "nat_rules",
    "dnat_rules",
]

FLOW_COLOR = "#c2255c"
"""Colour of a drawn flow (edges, hop numbers, highlighted addresses)."""

_INK = "#212529"
_MUTED = "#6c757d"
_HILITE = "#ffe066"
_STYLE = {
    # kind: (cluster fill, cluster border)
    "container": ("#e7f5ff", "#1c7ed6"),
    "host": ("#f8f9fa", "#495057"),
    "outside": ("#f4fce3", "#5c940d"),
    "other": ("#f3f0ff", "#7048e8"),
}
_TIER = {"container": 0, "host": 1, "outside": 2}
# Left to right, the outside world sits in the bridges' column, under the host: the picture
# stays narrow (its cable runs back to the uplink)
_TIER_LR = {"container": 0, "outside": 1, "host": 2}
_MAX_ROUTES = 8
_MAX_FDB = 3


# --------------------------------------------------------------------------- labels


def _hop_text(hop: Mapping[str, Any], changed: set[str], *, color: str = FLOW_COLOR) -> str:
    """``172.17.0.2 → 203.0.113.10 icmp`` with rewritten parts highlighted (HTML-like)."""

    def part(which: str) -> str:
        text = esc(endpoint(hop.get(which), hop.get("sport" if which == "src" else "dport")))
        if which in changed:
            return f'<u><b><font color="{color}">{text}</font></b></u>'
        return text

    proto = esc(hop.get("proto") or "")
    return f"{part('src')} → {part('dst')} {proto}".strip()


class _Ids:
    """Deterministic, collision-free graphviz ids from readable names."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, ...], str] = {}
        self._used: set[str] = set()

    def __call__(self, *key: str) -> str:
        if key in self._ids:
            return self._ids[key]
        base = re.sub(r"[^A-Za-z0-9_]", "_", "__".join(key)) or "n"
        name, n = base, 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._ids[key] = name
        self._used.add(name)
        return name


def _port(link: Mapping[str, Any]) -> str:
    return f"if{int(link.get('index') or 0)}"


def _state(link: Mapping[str, Any]) -> str:
    oper = str(link.get("oper") or "?")
    if not link.get("up"):
        return "DOWN (admin)"
    return oper


def _flow_rows(rows: list[tuple[int, dict[str, Any], set[str]]]) -> str:
    """One coloured strip per hop seen at an interface: number and addresses."""
    out = []
    for n, hop, changed in rows:
        note = ""
        if "src" in changed:
            note = f"<br/><i>{esc(tr('source rewritten (NAT)'))}</i>"
        elif "dst" in changed:
            note = f"<br/><i>{esc(tr('destination rewritten (NAT)'))}</i>"
        out.append(
            f'<tr><td colspan="2" bgcolor="{FLOW_COLOR}" align="left" balign="left">'
            f'<font color="white"><b>{n}</b>  {_hop_text(hop, changed, color=_HILITE)}{note}'
            "</font></td></tr>"
        )
    return "".join(out)


def _iface_body(
    link: Mapping[str, Any],
    addrs: list[str],
    gateway: str | None,
    *,
    extra: Iterable[str] = (),
    title_suffix: str = "",
) -> str:
    """Inner HTML lines describing one interface (name, kind/state, addresses, MAC, gw)."""
    kind = link.get("kind") or "link"
    head = (
        f"<b>{esc(link['ifname'])}</b>{title_suffix}"
        f' <font color="{_MUTED}" point-size="9">{esc(kind)} · {esc(_state(link))}</font>'
    )
    lines = [head]
    lines += [f"<b>{esc(a)}</b>" for a in addrs]
    if link.get("mac") and kind != "loopback":
        lines.append(f'<font face="Courier" point-size="9">{esc(link["mac"])}</font>')
    if gateway:
        lines.append(f"{esc(tr('default via'))} <b>{esc(gateway)}</b>")
    lines += list(extra)
    return "<br/>".join(lines)


def _cell(
    port: str,
    body: str,
    flows: str,
    *,
    bgcolor: str = "white",
    colspan: int = 1,
    rowspan: int = 1,
) -> str:
    span = f' colspan="{colspan}"' if colspan > 1 else ""
    span += f' rowspan="{rowspan}"' if rowspan > 1 else ""
    inner = f'<tr><td colspan="2" align="left" balign="left">{body}</td></tr>{flows}'
    return (
        f'<td port="{port}" bgcolor="{bgcolor}" align="left"{span}>'
        f'<table border="0" cellborder="0" cellspacing="1" cellpadding="2">{inner}</table></td>'
    )


# --------------------------------------------------------------------------- diagram


_UNCHANGED = "containers' addresses leave unchanged"
_S_ADDRESS = "'s address"
_COMPASS = {"LR": ("e", "w"), "TB": ("s", "n")}


def diagram(
    snapshot: Mapping[str, Any],
    flow: list[dict[str, Any]] | object | None = None,
    *,
    title: str | None = None,
    show_lo: bool = False,
    rankdir: str | None = None,
    lang: str | None = None,
) -> graphviz.Digraph:
    """Draw the lab's topology from a kernel snapshot; optionally draw a flow on it.

    The picture ``docker network inspect`` and ``ip addr`` would give you on a real host,
    drawn in one place.

    Args:
        snapshot: a snapshot dict (see :mod:`labkit.core.snapshot`).
        flow: ``None``, a list of hop dicts (``point``, ``node``, ``ifname``, ``src``,
            ``dst``, ``proto``, ``sport``, ``dport``, ``summary``), or an object whose
            ``.hops()`` returns such a list. Hops are numbered in order at the interface
            where they were seen; addresses rewritten since the previous hop are
            highlighted, so the MASQUERADE step shows at the uplink.
        title: the picture's title; by default one naming the lab's profile.
        show_lo: draw every ``lo``; by default a loopback holding only ``127.0.0.1`` and
            ``::1`` is left out (a hop seen on it still shows it).
        rankdir: ``"LR"`` (left to right, compact) or ``"TB"`` (top to bottom); by default
            left to right where it fits: a host with one bridge (with several, the routing
            column would tangle, so they go top to bottom).
        lang: the language of labkit's own labels (default: :func:`labkit.set_language`).

    Returns:
        A :class:`graphviz.Digraph` (renders as SVG in Jupyter; ``.source`` is the DOT text).
    """
    if rankdir is None:
        nodes_ = as_snapshot(snapshot).get("nodes") or {}
        most = max((len(bridges(n)) for n in nodes_.values() if n.get("kind") == "host"), default=0)
        rankdir = "LR" if most <= 1 else "TB"
    if rankdir not in _COMPASS:
        from labkit.errors import InvalidArgument

        raise InvalidArgument(f"rankdir must be 'LR' or 'TB', not {rankdir!r}")
    with _using_lang(lang) as lang:
        return _Drawing(snapshot, flow, title, show_lo, rankdir, lang).draw()


class _Drawing:
    """One diagram being drawn: the snapshot's nodes, where each interface sits in the
    picture (``loc``), the cables drawn so far (``edges``) and the flow's rows per
    interface. :meth:`draw` fills a :class:`graphviz.Digraph` and returns it."""

    def __init__(
        self,
        snapshot: Mapping[str, Any],
        flow: Any,
        title: str | None,
        show_lo: bool,
        rankdir: str,
        lang: str,
    ) -> None:
        self.out_c, self.in_c = _COMPASS[rankdir]
        self.snap = snap = as_snapshot(snapshot)
        self.nodes: Mapping[str, Any] = snap.get("nodes") or {}
        self.wires = snap.get("wires") or []
        self.hops = flow_hops(flow)
        self.title = title
        self.show_lo = show_lo
        self.rankdir = rankdir
        self.lang = lang
        self.ids = _Ids()
        self.seen_at = {(str(h.get("node")), str(h.get("ifname"))) for h in self.hops}
        self.tiers = _TIER_LR if rankdir == "LR" else _TIER
        self.order = sorted(self.nodes, key=lambda n: (self.tier(n), natural_key(n)))
        #: where each (node, ifname) is drawn: graph node id + port
        self.loc: dict[tuple[str, str], tuple[str, str | None]] = {}
        #: the wire peer of each end, to order bridge ports and rows
        self.peer: dict[tuple[str, str], tuple[str, str]] = {}
        for w in self.wires:
            a, b = (w["a"]["node"], w["a"]["ifname"]), (w["b"]["node"], w["b"]["ifname"])
            self.peer[a], self.peer[b] = b, a
        #: the flow's rows per interface, and what NAT rewrote at each hop
        self.flow_at: dict[tuple[str, str], list[tuple[int, dict[str, Any], set[str]]]] = {}
        self.changes: list[set[str]] = []
        for i, hop in enumerate(self.hops):
            ch = hop_changes(self.hops[i - 1] if i else None, hop)
            self.changes.append(ch)
            self.flow_at.setdefault((str(hop.get("node")), str(hop.get("ifname"))), []).append(
                (i + 1, hop, ch)
            )
        self.edges: list[Edge] = []
        self.outside_ids: list[str] = []
        self.container_ids: list[str] = []

    # ----------------------------------------------------------------- queries
    def links_of(self, name: str) -> list[dict[str, Any]]:
        info = self.nodes[name]
        return [
            lk
            for lk in links(info, show_lo=True)
            if self.show_lo or (name, lk["ifname"]) in self.seen_at or not plain_lo(info, lk)
        ]

    def tier(self, name: str) -> int:
        return self.tiers.get(self.nodes[name].get("kind"), 0)

    def rows_for(self, node: str, ifname: str) -> str:
        return _flow_rows(self.flow_at.get((node, ifname), []))

    # ----------------------------------------------------------------- the picture
    def draw(self) -> graphviz.Digraph:
        fontname = _lang_font(self.lang)
        g = graphviz.Digraph(
            "labkit",
            graph_attr={
                "rankdir": self.rankdir,
                "newrank": "true",
                "bgcolor": "white",
                "fontname": fontname,
                "fontcolor": _INK,
                "nodesep": "0.25",
                "ranksep": "0.35",
                "labelloc": "t",
                "labeljust": "c",
                "fontsize": "15",
            },
            node_attr={"shape": "plain", "fontname": fontname, "fontsize": "10", "fontcolor": _INK},
            edge_attr={"fontname": fontname, "fontsize": "9", "color": CABLE, "dir": "none"},
        )
        lab = self.snap.get("lab") or {}
        title = self.title
        if title is None:
            profile = lab.get("profile")
            title = tr("Docker networking on one host") + (
                f" · {tr('profile')} {profile}" if profile else ""
            )
        if title:
            g.attr(label=f"<<b>{esc(title)}</b>>")

        # With a flow, everything sits in a frame whose label (at the bottom) is the hop table.
        frame: Any = g.subgraph(name="cluster_frame") if self.hops else None
        root = frame.__enter__() if frame is not None else g
        if frame is not None:
            root.attr(labelloc="b", labeljust="l", color="white", penwidth="0", fontsize="10")
        # containers run with --network host / container:NAME live in another node's
        # namespace: drawn as guests of that node (the namespace, and so its interfaces, are
        # the owner's)
        guests: dict[str, list[str]] = {}
        for guest, how in sorted((self.snap.get("shared") or {}).items()):
            guests.setdefault(str(how.get("shares")), []).append(
                f"{guest} (--network {how.get('network_mode')})"
            )
        for name in self.order:
            self._draw_node(root, name, guests.get(name))
        self._draw_cables()
        extra = route(self.edges, self.hops, self.loc)

        if self.rankdir == "LR" and self.container_ids:
            # keeps the outside world under the last container, i.e. under the host
            for nid in self.outside_ids:
                root.edge(self.container_ids[-1], nid, style="invis")

        for e in self.edges + extra:
            attrs = dict(e.attrs)
            if e.flow_fwd or e.flow_back:
                attrs.update(color=FLOW_COLOR, penwidth="2.6", fontcolor=FLOW_COLOR)
                attrs["dir"] = (
                    "both" if e.flow_fwd and e.flow_back else ("forward" if e.flow_fwd else "back")
                )
            tc, hc = e.compass or (self.out_c, self.in_c)
            root.edge(e.end(e.tail, e.tport, tc), e.end(e.head, e.hport, hc), **attrs)

        if frame is not None:
            # The hop table, now that every interface has its place ("not in this snapshot").
            root.attr(label=_legend_label(self.hops, self.changes, set(self.loc)))
            frame.__exit__(None, None, None)
        return g

    def _draw_node(self, root: graphviz.Digraph, name: str, guests: list[str] | None) -> None:
        """One node's cluster: the host's inner boxes, or one table of interfaces."""
        info = self.nodes[name]
        kind = info.get("kind") or "other"
        fill, border = _STYLE.get(kind, _STYLE["other"])
        addrs = addrs_by_if(info)
        gws = gateways_by_dev(info)
        node_links = self.links_of(name)
        hostname = info.get("hostname") or ""
        label_kind = tr({"host": "Docker host", "outside": "outside world"}.get(kind, kind))
        shown = f"{label_kind} {name}" if name != kind else label_kind
        host_note = (
            f' <font point-size="9">({esc(hostname)})</font>'
            if hostname and hostname != name
            else ""
        )
        if guests:
            host_note += (
                f'<br/><font point-size="10">{esc(tr("sharing this network namespace"))}: '
                f"{esc(', '.join(guests))}</font>"
            )
        with root.subgraph(name=f"cluster_{self.ids(name, 'cluster')}") as c:
            c.attr(
                label=f"<<b>{esc(shown)}</b>{host_note}>",
                style="rounded,filled",
                fillcolor=fill,
                color=border,
                fontsize="12",
                penwidth="1.5",
                margin="6",
                labelloc="t",
                labeljust="c",
            )
            if kind == "host":
                self._draw_host(c, name, info, node_links, addrs, gws)
                return

            # One table: interfaces wired towards the host sit on the side facing it.
            # Outside (after the host): wired first, loopback last. Containers (before
            # it): loopback first, wired last.
            def row_key(lk: Mapping[str, Any]) -> Any:
                wired = (name, lk["ifname"]) in self.peer
                loop = lk.get("kind") == "loopback"
                if kind == "outside":
                    return (not wired, loop, lk.get("index") or 0)
                return (not loop, wired, lk.get("index") or 0)

            nid = self.ids(name, "ifaces")
            rows = self._iface_rows(name, nid, sorted(node_links, key=row_key), addrs, gws)
            if not rows:
                rows.append(f'<td><font color="#6c757d">{esc(tr("no interfaces"))}</font></td>')
            c.node(nid, label=table(rows))
            if kind == "outside":
                self.outside_ids.append(nid)
            elif kind == "container":
                self.container_ids.append(nid)

    def _iface_rows(
        self,
        name: str,
        nid: str,
        node_links: list[dict[str, Any]],
        addrs: dict[str, list[str]],
        gws: dict[str, str],
    ) -> list[str]:
        """One row per interface of a box ``nid`` (a muted ``lo``), each placed in ``loc``."""
        rows = []
        for lk in node_links:
            ifn = lk["ifname"]
            self.loc[(name, ifn)] = (nid, _port(lk))
            body = _iface_body(lk, addrs.get(ifn, []), gws.get(ifn))
            if lk.get("kind") == "loopback":
                body = f'<font color="{_MUTED}">{body}</font>'
            rows.append(_cell(_port(lk), body, self.rows_for(name, ifn)))
        return rows

    def _draw_cables(self) -> None:
        """Veth pairs (and any other wire) as cables, earlier tier → later tier."""
        nodes, loc = self.nodes, self.loc
        for w in sorted(
            self.wires,
            key=lambda w: (natural_key(w["b"]["node"]), w["b"]["ifname"], w["a"]["ifname"]),
        ):
            a, b = (w["a"]["node"], w["a"]["ifname"]), (w["b"]["node"], w["b"]["ifname"])
            if a not in loc or b not in loc:
                continue
            if a[0] in nodes and b[0] in nodes and self.tier(a[0]) > self.tier(b[0]):
                a, b = b, a
            (ta, pa), (tb, pb) = loc[a], loc[b]
            kinds = {
                (n, lk["ifname"]): lk.get("kind") for n in (a[0], b[0]) for lk in nodes[n]["links"]
            }
            cable = tr("veth pair") if "veth" in (kinds.get(a), kinds.get(b)) else ""
            if "macvlan" in (kinds.get(a), kinds.get(b)):
                cable = tr("macvlan child (bridge mode)")
            attrs = {"penwidth": "1.6"}
            if cable:
                attrs.update(label=cable, fontcolor=_MUTED, fontsize="8")
            self.edges.append(Edge(ta, pa, tb, pb, attrs))

    def _draw_host(
        self,
        c: graphviz.Digraph,
        name: str,
        info: Mapping[str, Any],
        links: list[dict[str, Any]],
        addrs: dict[str, list[str]],
        gws: dict[str, str],
    ) -> None:
        """The Docker host: bridges with their ports, routing/ip_forward, NAT, uplink, others."""
        all_links = {lk["ifname"]: lk for lk in info.get("links") or []}
        brs = bridges(info)
        uplink = find_uplink(info)
        fdb: dict[tuple[str, str], list[str]] = {}
        for entry in info.get("fdb") or []:
            if not entry.get("local"):
                fdb.setdefault((entry.get("bridge") or "", entry.get("port") or ""), []).append(
                    entry["mac"]
                )
        position = {n: i for i, n in enumerate(self.order)}

        router = self.ids(name, "router")
        for br in brs:
            blink = all_links[br]
            ports = [lk for lk in links if lk.get("master") == br]

            def port_key(lk: Mapping[str, Any]) -> Any:
                far = self.peer.get((name, lk["ifname"]))
                return (0, position.get(far[0], 0), far[1]) if far else (1, 0, lk["ifname"])

            ports.sort(key=port_key)
            nid = self.ids(name, br)
            cells = []
            for lk in ports:
                ifn = lk["ifname"]
                self.loc[(name, ifn)] = (nid, _port(lk))
                macs = sorted(fdb.get((br, ifn), []))
                learned = [
                    f'<font color="{_MUTED}" point-size="8">{esc(tr("learned"))} '
                    f'<font face="Courier">{esc(m)}</font></font>'
                    for m in macs[:_MAX_FDB]
                ]
                if len(macs) > _MAX_FDB:
                    learned.append(
                        f'<font point-size="8">+{len(macs) - _MAX_FDB} {esc(tr("more"))}</font>'
                    )
                body = _iface_body(lk, addrs.get(ifn, []), gws.get(ifn), extra=learned)
                cells.append(_cell(_port(lk), body, self.rows_for(name, ifn), bgcolor="#fff9db"))
            self.loc[(name, br)] = (nid, _port(blink))
            n_ports = (
                f"{len(ports)} {tr('ports')}"
                if tr("ports") != "ports"
                else f"{len(ports)} port{'' if len(ports) == 1 else 's'}"
            )
            body = _iface_body(
                blink,
                addrs.get(br, []),
                gws.get(br),
                title_suffix=f' <font point-size="9">({esc(tr("bridge"))}, {esc(n_ports)})</font>',
            )
            if self.rankdir == "LR":
                # Ports in a column on the left (facing the containers), the bridge on the right.
                span = max(len(cells), 1)
                bridge_cell = _cell(
                    _port(blink), body, self.rows_for(name, br), bgcolor="#ffec99", rowspan=span
                )
                rows = [(cells[0] if cells else "") + bridge_cell, *cells[1:]]
            else:
                rows = ["".join(cells)] if cells else []
                rows.append(
                    _cell(
                        _port(blink),
                        body,
                        self.rows_for(name, br),
                        bgcolor="#ffec99",
                        colspan=len(ports),
                    )
                )
            c.node(nid, label=table(rows, color="#e67700"))
            self.edges.append(Edge(nid, _port(blink), router, None, {"penwidth": "1.6"}))

        # Routing and forwarding.
        fwd = str((info.get("sysctl") or {}).get("net.ipv4.ip_forward", "?"))
        routes = []
        for r in (info.get("routes") or [])[:_MAX_ROUTES]:
            via = f" via {r['gateway']}" if r.get("gateway") else ""
            dev = f" dev {r['dev']}" if r.get("dev") else ""
            routes.append(f'<font point-size="9">{esc(str(r.get("dst")) + via + dev)}</font>')
        more = len(info.get("routes") or []) - _MAX_ROUTES
        if more > 0:
            routes.append(f'<font point-size="9">+{more} {esc(tr("more"))}</font>')
        if fwd == "1":
            fwd_line = (
                f'<font color="#2b8a3e"><b>ip_forward = 1</b> ({esc(tr("forwarding on"))})</font>'
            )
            style, color, fill = "rounded,filled", "#2b8a3e", "#ebfbee"
        else:
            fwd_line = (
                f'<font color="#c92a2a"><b>ip_forward = {esc(fwd)}</b> '
                f"({esc(tr('no forwarding between interfaces'))})</font>"
            )
            style, color, fill = "rounded,filled,dashed", "#c92a2a", "#fff5f5"
        c.node(
            router,
            label="<"
            + "<br/>".join([f"<b>{esc(name)} {esc(tr('routing'))}</b>", fwd_line, *routes])
            + ">",
            shape="box",
            style=style,
            color=color,
            fillcolor=fill,
            margin="0.12,0.06",
        )

        # NAT, under the routing box; the uplink under NAT. Left to right, the three share a
        # column (one rank), so the cables between them run downwards.
        def stacked(
            upper: str, uport: str | None, lower: str, lport: str | None, attrs: dict[str, str]
        ) -> Edge:
            """A cable down the column. Left to right the column is one rank, and dot puts a
            flat edge's tail *under* its head: so the edge runs from the lower box up to the
            upper one (a flow along it is drawn as going "back")."""
            if self.rankdir != "LR":
                return Edge(upper, uport, lower, lport, attrs)
            return Edge(lower, lport, upper, uport, attrs, compass=("n", "s"))

        nat = self.ids(name, "nat")
        stack = [router, nat]
        rules = nat_rules(info)
        up_addr = (addrs.get(uplink or "", []) or [""])[0].split("/")[0]
        published = dnat_rules(info)
        if rules:
            lines = ["<b>NAT · iptables -t nat</b>"]
            lines += [f'<font point-size="9">{wrap(rule_summary(r))}</font>' for r in rules]
            if up_addr:
                lines.append(
                    f"{esc(tr('source →'))} <b>{esc(up_addr)}</b>"
                    f' <font point-size="9">({esc(uplink)}{esc(tr(_S_ADDRESS))})</font>'
                )
            if published:
                lines.append(
                    f"<b>{esc(tr('published ports'))}</b> {esc(tr('(DNAT, chain DOCKER)'))}"
                )
                lines += [f'<font point-size="9">{esc(p)}</font>' for p in published]
            c.node(
                nat,
                label="<" + "<br/>".join(lines) + ">",
                shape="box",
                style="rounded,filled",
                color="#e8590c",
                fillcolor="#ffe8cc",
                penwidth="1.5",
                margin="0.12,0.06",
            )
            self.edges.append(stacked(router, None, nat, None, {"penwidth": "1.6"}))
            after_nat = nat
        else:
            c.node(
                nat,
                label=(
                    f'<<font color="{_MUTED}"><b>{esc(tr("no NAT"))}</b><br/><font point-size="9">'
                    f"{esc(tr('no MASQUERADE rule in iptables -t nat:'))}<br/>"
                    f"{esc(tr(_UNCHANGED))}"
                    "</font></font>>"
                ),
                shape="box",
                style="rounded,dashed",
                color="#adb5bd",
                margin="0.12,0.06",
            )
            self.edges.append(
                stacked(router, None, nat, None, {"style": "dashed", "color": "#adb5bd"})
            )
            after_nat = router

        # Uplink.
        if uplink and uplink in all_links:
            lk = all_links[uplink]
            nid = self.ids(name, "uplink")
            self.loc[(name, uplink)] = (nid, _port(lk))
            body = _iface_body(
                lk,
                addrs.get(uplink, []),
                gws.get(uplink),
                title_suffix=f' <font point-size="9">({esc(tr("uplink"))})</font>',
            )
            c.node(nid, label=table([_cell(_port(lk), body, self.rows_for(name, uplink))]))
            self.edges.append(stacked(after_nat, None, nid, _port(lk), {"penwidth": "1.6"}))
            stack.append(nid)

        # Everything else: dummies, unbridged veths, lo when shown, ...
        rest = [
            lk
            for lk in links
            if lk["ifname"] not in brs and lk["ifname"] != uplink and lk.get("master") not in brs
        ]
        if rest:
            nid = self.ids(name, "others")
            rows = self._iface_rows(name, nid, rest, addrs, gws)
            c.node(nid, label=table(rows, color="#adb5bd"))
            c.edge(router, nid, style="invis")
        if self.rankdir == "LR":
            with c.subgraph() as same:
                same.attr(rank="same")
                for nid in stack:
                    same.node(nid)


def _legend_label(
    hops: list[dict[str, Any]],
    changes: list[set[str]],
    drawn: set[tuple[str, str]],
) -> str:
    """The table of the hops, as an HTML-like label (it sits under the picture)."""
    head = "".join(
        f'<td bgcolor="#f1f3f5"><b>{esc(tr(h))}</b></td>'
        for h in ("#", "seen at", "addresses seen there", "what happened")
    )
    rows = [head]
    for i, (hop, ch) in enumerate(zip(hops, changes, strict=True)):
        where = f"{hop.get('node')}:{hop.get('ifname')}"
        missing = (str(hop.get("node")), str(hop.get("ifname"))) not in drawn
        note = esc(hop.get("summary") or "")
        if "src" in ch:
            note = (note + "<br/>" if note else "") + f"<b>{esc(tr('source NAT'))}</b>"
        elif "dst" in ch:
            note = (note + "<br/>" if note else "") + f"<b>{esc(tr('destination rewritten'))}</b>"
        if missing:
            note = (note + "<br/>" if note else "") + f"<i>{esc(tr('(not in this snapshot)'))}</i>"
        rows.append(
            f'<td bgcolor="{FLOW_COLOR}"><font color="white"><b>{i + 1}</b></font></td>'
            f'<td align="left">{esc(where)}</td>'
            f'<td align="left">{_hop_text(hop, ch)}</td>'
            f'<td align="left" balign="left">{note}</td>'
        )
    return table(rows, color="#adb5bd")


def diagram_svg(
    snapshot: Mapping[str, Any],
    flow: list[dict[str, Any]] | object | None = None,
    **kwargs: Any,
) -> str:
    """The diagram rendered to an SVG string with the ``dot`` program (same arguments)."""
    svg: bytes = diagram(snapshot, flow, **kwargs).pipe(format="svg")
    return svg.decode("utf-8")
