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
"""

from __future__ import annotations

import html
import ipaddress
import re
import textwrap
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import graphviz

from labkit.core.snapshot import as_snapshot, natural_key
from labkit.i18n import font as _lang_font
from labkit.i18n import tr
from labkit.i18n import using as _using_lang

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
_CABLE = "#495057"
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


# --------------------------------------------------------------------------- helpers


def _esc(value: Any) -> str:
    """Escape text for a graphviz HTML-like label."""
    return html.escape(str(value), quote=True)


_LOOPBACK_ADDRS = {"127.0.0.1", "::1"}


def _plain_lo(info: Mapping[str, Any], link: Mapping[str, Any]) -> bool:
    """A loopback that carries nothing but 127.0.0.1 and ::1 (hidden unless ``show_lo``)."""
    if link.get("kind") != "loopback":
        return False
    mine = {str(a.get("address")) for a in info.get("addrs") or [] if a["ifname"] == link["ifname"]}
    return mine <= _LOOPBACK_ADDRS


def _links(info: Mapping[str, Any], show_lo: bool = True) -> list[dict[str, Any]]:
    links = [lk for lk in info.get("links") or [] if show_lo or not _plain_lo(info, lk)]
    return sorted(links, key=lambda lk: (lk.get("index") or 0, lk["ifname"]))


def _addrs_by_if(info: Mapping[str, Any], *, link_local: bool = False) -> dict[str, list[str]]:
    """``{ifname: ["a.b.c.d/n", ...]}`` in the kernel's order; IPv6 link-local left out."""
    out: dict[str, list[str]] = {}
    for a in info.get("addrs") or []:
        addr = str(a.get("address"))
        if not link_local and a.get("family") == 6 and addr.lower().startswith("fe80:"):
            continue
        out.setdefault(a["ifname"], []).append(f"{addr}/{a.get('prefixlen')}")
    return out


def _gateways_by_dev(info: Mapping[str, Any]) -> dict[str, str]:
    """Default gateway per device, from the node's default route(s)."""
    out: dict[str, str] = {}
    for r in info.get("routes") or []:
        if r.get("dst") in ("default", "0.0.0.0/0") and r.get("dev"):
            out.setdefault(r["dev"], r.get("gateway") or "(direct)")
    return out


def bridges(node_info: Mapping[str, Any]) -> list[str]:
    """Names of the node's bridge interfaces (``kind == "bridge"``), sorted."""
    return sorted(
        (lk["ifname"] for lk in node_info.get("links") or [] if lk.get("kind") == "bridge"),
        key=natural_key,
    )


def find_uplink(node_info: Mapping[str, Any]) -> str | None:
    """The interface the node's default route leaves by, or ``None`` without one.

    A default route without a ``dev`` is resolved through the interface whose IPv4 subnet
    holds the gateway.
    """
    for r in node_info.get("routes") or []:
        if r.get("dst") not in ("default", "0.0.0.0/0"):
            continue
        if r.get("dev"):
            return str(r["dev"])
        gw = r.get("gateway")
        if not gw:
            continue
        for a in node_info.get("addrs") or []:
            if a.get("family") != 4:
                continue
            try:
                net = ipaddress.ip_interface(f"{a['address']}/{a['prefixlen']}").network
                if ipaddress.ip_address(gw) in net:
                    return str(a["ifname"])
            except ValueError:
                continue
    return None


def nat_rules(node_info: Mapping[str, Any]) -> list[str]:
    """The node's source-NAT rules: ``-A`` lines of the nat table jumping to MASQUERADE/SNAT."""
    rules = []
    for line in (node_info.get("iptables") or {}).get("nat") or []:
        words = line.split()
        if not words or words[0] != "-A":
            continue
        if "-j" in words:
            target = words[words.index("-j") + 1] if words.index("-j") + 1 < len(words) else ""
            if target in ("MASQUERADE", "SNAT"):
                rules.append(line)
    return rules


def dnat_rules(node_info: Mapping[str, Any]) -> list[str]:
    """Published ports as ``8080/tcp → 172.17.0.2:80``, from the nat table's DNAT rules."""
    out = []
    for line in (node_info.get("iptables") or {}).get("nat") or []:
        words = line.split()
        if words[:1] != ["-A"] or "DNAT" not in words or "--to-destination" not in words:
            continue
        dest = words[words.index("--to-destination") + 1]
        port = words[words.index("--dport") + 1] if "--dport" in words else "*"
        proto = words[words.index("-p") + 1] if "-p" in words else "all"
        out.append(f"{port}/{proto} → {dest}")
    return out


def _rule_summary(rule: str) -> str:
    """``-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE`` → a short form."""
    words = rule.split()
    chain = words[1] if len(words) > 1 else "?"
    j = words.index("-j")
    match = " ".join(words[2:j])
    target = " ".join(words[j + 1 :])
    return f"{chain}: {match} → {target}".replace(":  →", ": →")


def _wrap(text: str, width: int = 42) -> str:
    """Escaped text broken into lines of about ``width`` characters (HTML-like ``<br/>``)."""
    return "<br/>".join(_esc(line) for line in textwrap.wrap(text, width, break_on_hyphens=False))


def flow_hops(flow: Any) -> list[dict[str, Any]]:
    """Normalise a flow to a list of hop dicts with ``node`` and ``ifname`` filled in.

    ``flow`` is ``None``, a list of hop dicts, or an object with a ``.hops()`` method. A hop
    missing ``node``/``ifname`` gets them from its ``point`` (``"node:ifname"``).
    """
    if flow is None:
        return []
    hops_method = getattr(flow, "hops", None)
    raw = hops_method() if callable(hops_method) else flow
    if not isinstance(raw, Iterable) or isinstance(raw, (str, bytes, Mapping)):
        raise TypeError("flow must be a list of hop dicts or an object with .hops()")
    out = []
    for hop in raw:
        h = dict(hop)
        point = str(h.get("point") or "")
        node, _, ifname = point.partition(":")
        h.setdefault("node", node or None)
        h.setdefault("ifname", ifname or None)
        if not h.get("node") and node:
            h["node"] = node
        if not h.get("ifname") and ifname:
            h["ifname"] = ifname
        out.append(h)
    return out


def _endpoint(addr: Any, port: Any) -> str:
    return f"{addr}:{port}" if port not in (None, "") else str(addr)


def _hop_changes(prev: Mapping[str, Any] | None, cur: Mapping[str, Any]) -> set[str]:
    """Which of src/dst (with ports) were rewritten between two consecutive hops.

    A swap of source and destination is a reply, not a rewrite; a hop whose addresses are
    both new (and not a swap) is a different packet, so nothing is highlighted either.
    """
    if prev is None:
        return set()
    src_p, dst_p = (
        _endpoint(prev.get("src"), prev.get("sport")),
        _endpoint(prev.get("dst"), prev.get("dport")),
    )
    src_c, dst_c = (
        _endpoint(cur.get("src"), cur.get("sport")),
        _endpoint(cur.get("dst"), cur.get("dport")),
    )
    if (src_p, dst_p) == (dst_c, src_c):
        return set()
    changed = set()
    if src_p != src_c:
        changed.add("src")
    if dst_p != dst_c:
        changed.add("dst")
    return changed if len(changed) == 1 else set()


def _hop_text(hop: Mapping[str, Any], changed: set[str], *, color: str = FLOW_COLOR) -> str:
    """``172.17.0.2 → 203.0.113.10 icmp`` with rewritten parts highlighted (HTML-like)."""

    def part(which: str) -> str:
        text = _esc(_endpoint(hop.get(which), hop.get("sport" if which == "src" else "dport")))
        if which in changed:
            return f'<u><b><font color="{color}">{text}</font></b></u>'
        return text

    proto = _esc(hop.get("proto") or "")
    return f"{part('src')} → {part('dst')} {proto}".strip()


# --------------------------------------------------------------------------- model


@dataclass
class _Edge:
    tail: str
    tport: str | None
    head: str
    hport: str | None
    attrs: dict[str, str]
    structural: bool = True
    compass: tuple[str, str] | None = None
    flow_fwd: list[int] = field(default_factory=list)
    flow_back: list[int] = field(default_factory=list)

    def end(self, node: str, port: str | None, compass: str) -> str:
        return f"{node}:{port}:{compass}" if port else f"{node}:{compass}"


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
            note = f"<br/><i>{_esc(tr('source rewritten (NAT)'))}</i>"
        elif "dst" in changed:
            note = f"<br/><i>{_esc(tr('destination rewritten (NAT)'))}</i>"
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
        f"<b>{_esc(link['ifname'])}</b>{title_suffix}"
        f' <font color="{_MUTED}" point-size="9">{_esc(kind)} · {_esc(_state(link))}</font>'
    )
    lines = [head]
    lines += [f"<b>{_esc(a)}</b>" for a in addrs]
    if link.get("mac") and kind != "loopback":
        lines.append(f'<font face="Courier" point-size="9">{_esc(link["mac"])}</font>')
    if gateway:
        lines.append(f"{_esc(tr('default via'))} <b>{_esc(gateway)}</b>")
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


def _table(rows: list[str], *, color: str = _CABLE) -> str:
    return (
        f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4" color="{color}">'
        + "".join(f"<tr>{r}</tr>" for r in rows)
        + "</table>>"
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
        return _diagram(snapshot, flow, title, show_lo, rankdir, lang)


def _diagram(
    snapshot: Mapping[str, Any],
    flow: Any,
    title: str | None,
    show_lo: bool,
    rankdir: str,
    lang: str,
) -> graphviz.Digraph:
    out_c, in_c = _COMPASS[rankdir]
    snap = as_snapshot(snapshot)
    nodes: Mapping[str, Any] = snap.get("nodes") or {}
    wires = snap.get("wires") or []
    hops = flow_hops(flow)
    ids = _Ids()
    seen_at = {(str(h.get("node")), str(h.get("ifname"))) for h in hops}

    def links_of(name: str) -> list[dict[str, Any]]:
        info = nodes[name]
        return [
            lk
            for lk in _links(info, show_lo=True)
            if show_lo or (name, lk["ifname"]) in seen_at or not _plain_lo(info, lk)
        ]

    tiers = _TIER_LR if rankdir == "LR" else _TIER

    def tier(name: str) -> int:
        return tiers.get(nodes[name].get("kind"), 0)

    order = sorted(nodes, key=lambda n: (tier(n), natural_key(n)))

    # Where each (node, ifname) is drawn: graph node id + port.
    loc: dict[tuple[str, str], tuple[str, str | None]] = {}
    # Wire peer of each end, to order bridge ports and rows.
    peer: dict[tuple[str, str], tuple[str, str]] = {}
    for w in wires:
        a, b = (w["a"]["node"], w["a"]["ifname"]), (w["b"]["node"], w["b"]["ifname"])
        peer[a], peer[b] = b, a

    # Flow rows per interface.
    flow_at: dict[tuple[str, str], list[tuple[int, dict[str, Any], set[str]]]] = {}
    changes: list[set[str]] = []
    for i, hop in enumerate(hops):
        ch = _hop_changes(hops[i - 1] if i else None, hop)
        changes.append(ch)
        flow_at.setdefault((str(hop.get("node")), str(hop.get("ifname"))), []).append(
            (i + 1, hop, ch)
        )

    def rows_for(node: str, ifname: str) -> str:
        return _flow_rows(flow_at.get((node, ifname), []))

    fontname = _lang_font(lang)
    g = graphviz.Digraph(
        "labkit",
        graph_attr={
            "rankdir": rankdir,
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
        edge_attr={"fontname": fontname, "fontsize": "9", "color": _CABLE, "dir": "none"},
    )
    lab = snap.get("lab") or {}
    if title is None:
        profile = lab.get("profile")
        title = tr("Docker networking on one host") + (
            f" · {tr('profile')} {profile}" if profile else ""
        )
    if title:
        g.attr(label=f"<<b>{_esc(title)}</b>>")

    edges: list[_Edge] = []
    column: list[str] = []  # left to right: routing, NAT and the uplink, stacked
    outside_ids: list[str] = []
    container_ids: list[str] = []
    # With a flow, everything sits in a frame whose label (at the bottom) is the hop table.
    frame: Any = g.subgraph(name="cluster_frame") if hops else None
    root = frame.__enter__() if frame is not None else g
    if frame is not None:
        root.attr(labelloc="b", labeljust="l", color="white", penwidth="0", fontsize="10")
    # containers run with --network host / container:NAME live in another node's namespace:
    # drawn as guests of that node (the namespace, and so its interfaces, are the owner's)
    guests: dict[str, list[str]] = {}
    for guest, how in sorted((snap.get("shared") or {}).items()):
        guests.setdefault(str(how.get("shares")), []).append(
            f"{guest} (--network {how.get('network_mode')})"
        )

    for name in order:
        info = nodes[name]
        kind = info.get("kind") or "other"
        fill, border = _STYLE.get(kind, _STYLE["other"])
        addrs = _addrs_by_if(info)
        gws = _gateways_by_dev(info)
        links = links_of(name)
        hostname = info.get("hostname") or ""
        label_kind = tr({"host": "Docker host", "outside": "outside world"}.get(kind, kind))
        shown = f"{label_kind} {name}" if name != kind else label_kind
        host_note = (
            f' <font point-size="9">({_esc(hostname)})</font>'
            if hostname and hostname != name
            else ""
        )
        if guests.get(name):
            host_note += (
                f'<br/><font point-size="10">{_esc(tr("sharing this network namespace"))}: '
                f"{_esc(', '.join(guests[name]))}</font>"
            )
        with root.subgraph(name=f"cluster_{ids(name, 'cluster')}") as c:
            c.attr(
                label=f"<<b>{_esc(shown)}</b>{host_note}>",
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
                column += _draw_host(
                    c,
                    name,
                    info,
                    links,
                    addrs,
                    gws,
                    peer,
                    ids,
                    loc,
                    edges,
                    rows_for,
                    order,
                    rankdir=rankdir,
                )
            else:
                # One table: interfaces wired towards the host sit on the side facing it.
                # Outside (after the host): wired first, loopback last. Containers (before
                # it): loopback first, wired last.
                def row_key(lk: Mapping[str, Any], _name: str = name, _kind: str = kind) -> Any:
                    wired = (_name, lk["ifname"]) in peer
                    loop = lk.get("kind") == "loopback"
                    if _kind == "outside":
                        return (not wired, loop, lk.get("index") or 0)
                    return (not loop, wired, lk.get("index") or 0)

                rows_links = sorted(links, key=row_key)
                nid = ids(name, "ifaces")
                rows = []
                for lk in rows_links:
                    ifn = lk["ifname"]
                    loc[(name, ifn)] = (nid, _port(lk))
                    body = _iface_body(lk, addrs.get(ifn, []), gws.get(ifn))
                    if lk.get("kind") == "loopback":
                        body = f'<font color="{_MUTED}">{body}</font>'
                    rows.append(_cell(_port(lk), body, rows_for(name, ifn)))
                if not rows:
                    rows.append(
                        f'<td><font color="#6c757d">{_esc(tr("no interfaces"))}</font></td>'
                    )
                c.node(nid, label=_table(rows))
                if kind == "outside":
                    outside_ids.append(nid)
                elif kind == "container":
                    container_ids.append(nid)

    # Veth pairs (and any other wire) as cables, earlier tier → later tier.
    for w in sorted(
        wires, key=lambda w: (natural_key(w["b"]["node"]), w["b"]["ifname"], w["a"]["ifname"])
    ):
        a, b = (w["a"]["node"], w["a"]["ifname"]), (w["b"]["node"], w["b"]["ifname"])
        if a not in loc or b not in loc:
            continue
        if a[0] in nodes and b[0] in nodes and tier(a[0]) > tier(b[0]):
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
        edges.append(_Edge(ta, pa, tb, pb, attrs))

    # The flow: colour the cables between consecutive hops (shortest path in the picture).
    extra: list[_Edge] = []
    prev: tuple[str, str | None] | None = None
    for i, hop in enumerate(hops):
        key = (str(hop.get("node")), str(hop.get("ifname")))
        here = loc.get(key)
        if here is None:
            continue
        if prev is not None and prev[0] != here[0]:
            path = _path(edges, prev[0], here[0])
            if path is None:
                extra.append(
                    _Edge(
                        prev[0],
                        prev[1],
                        here[0],
                        here[1],
                        {"style": "dashed", "constraint": "false"},
                        structural=False,
                        flow_fwd=[i + 1],
                    )
                )
            else:
                for e, forward in path:
                    (e.flow_fwd if forward else e.flow_back).append(i + 1)
        prev = here

    if rankdir == "LR" and container_ids:
        # keeps the outside world under the last container, i.e. under the host
        for nid in outside_ids:
            root.edge(container_ids[-1], nid, style="invis")

    for e in edges + extra:
        attrs = dict(e.attrs)
        if e.flow_fwd or e.flow_back:
            attrs.update(color=FLOW_COLOR, penwidth="2.6", fontcolor=FLOW_COLOR)
            attrs["dir"] = (
                "both" if e.flow_fwd and e.flow_back else ("forward" if e.flow_fwd else "back")
            )
        tc, hc = e.compass or (out_c, in_c)
        root.edge(e.end(e.tail, e.tport, tc), e.end(e.head, e.hport, hc), **attrs)

    if frame is not None:
        # The hop table, now that every interface has its place ("not in this snapshot").
        root.attr(label=_legend_label(hops, changes, set(loc)))
        frame.__exit__(None, None, None)
    return g


def _draw_host(
    c: graphviz.Digraph,
    name: str,
    info: Mapping[str, Any],
    links: list[dict[str, Any]],
    addrs: dict[str, list[str]],
    gws: dict[str, str],
    peer: dict[tuple[str, str], tuple[str, str]],
    ids: _Ids,
    loc: dict[tuple[str, str], tuple[str, str | None]],
    edges: list[_Edge],
    rows_for: Any,
    order: list[str],
    *,
    rankdir: str = "LR",
) -> list[str]:
    """The Docker host: bridges with their ports, routing/ip_forward, NAT, uplink, others.

    Returns the column of boxes under the routing box (routing, NAT, uplink).
    """
    all_links = {lk["ifname"]: lk for lk in info.get("links") or []}
    brs = bridges(info)
    uplink = find_uplink(info)
    fdb: dict[tuple[str, str], list[str]] = {}
    for entry in info.get("fdb") or []:
        if not entry.get("local"):
            fdb.setdefault((entry.get("bridge") or "", entry.get("port") or ""), []).append(
                entry["mac"]
            )
    position = {n: i for i, n in enumerate(order)}

    router = ids(name, "router")
    for br in brs:
        blink = all_links[br]
        ports = [lk for lk in links if lk.get("master") == br]

        def port_key(lk: Mapping[str, Any]) -> Any:
            far = peer.get((name, lk["ifname"]))
            return (0, position.get(far[0], 0), far[1]) if far else (1, 0, lk["ifname"])

        ports.sort(key=port_key)
        nid = ids(name, br)
        cells = []
        for lk in ports:
            ifn = lk["ifname"]
            loc[(name, ifn)] = (nid, _port(lk))
            macs = sorted(fdb.get((br, ifn), []))
            learned = [
                f'<font color="{_MUTED}" point-size="8">{_esc(tr("learned"))} '
                f'<font face="Courier">{_esc(m)}</font></font>'
                for m in macs[:_MAX_FDB]
            ]
            if len(macs) > _MAX_FDB:
                learned.append(
                    f'<font point-size="8">+{len(macs) - _MAX_FDB} {_esc(tr("more"))}</font>'
                )
            body = _iface_body(lk, addrs.get(ifn, []), gws.get(ifn), extra=learned)
            cells.append(_cell(_port(lk), body, rows_for(name, ifn), bgcolor="#fff9db"))
        loc[(name, br)] = (nid, _port(blink))
        n_ports = (
            f"{len(ports)} {tr('ports')}"
            if tr("ports") != "ports"
            else f"{len(ports)} port{'' if len(ports) == 1 else 's'}"
        )
        body = _iface_body(
            blink,
            addrs.get(br, []),
            gws.get(br),
            title_suffix=f' <font point-size="9">({_esc(tr("bridge"))}, {_esc(n_ports)})</font>',
        )
        if rankdir == "LR":
            # Ports in a column on the left (facing the containers), the bridge on the right.
            span = max(len(cells), 1)
            bridge_cell = _cell(
                _port(blink), body, rows_for(name, br), bgcolor="#ffec99", rowspan=span
            )
            rows = [(cells[0] if cells else "") + bridge_cell, *cells[1:]]
        else:
            rows = ["".join(cells)] if cells else []
            rows.append(
                _cell(
                    _port(blink),
                    body,
                    rows_for(name, br),
                    bgcolor="#ffec99",
                    colspan=len(ports),
                )
            )
        c.node(nid, label=_table(rows, color="#e67700"))
        edges.append(_Edge(nid, _port(blink), router, None, {"penwidth": "1.6"}))

    # Routing and forwarding.
    fwd = str((info.get("sysctl") or {}).get("net.ipv4.ip_forward", "?"))
    routes = []
    for r in (info.get("routes") or [])[:_MAX_ROUTES]:
        via = f" via {r['gateway']}" if r.get("gateway") else ""
        dev = f" dev {r['dev']}" if r.get("dev") else ""
        routes.append(f'<font point-size="9">{_esc(str(r.get("dst")) + via + dev)}</font>')
    more = len(info.get("routes") or []) - _MAX_ROUTES
    if more > 0:
        routes.append(f'<font point-size="9">+{more} {_esc(tr("more"))}</font>')
    if fwd == "1":
        fwd_line = (
            f'<font color="#2b8a3e"><b>ip_forward = 1</b> ({_esc(tr("forwarding on"))})</font>'
        )
        style, color, fill = "rounded,filled", "#2b8a3e", "#ebfbee"
    else:
        fwd_line = (
            f'<font color="#c92a2a"><b>ip_forward = {_esc(fwd)}</b> '
            f"({_esc(tr('no forwarding between interfaces'))})</font>"
        )
        style, color, fill = "rounded,filled,dashed", "#c92a2a", "#fff5f5"
    c.node(
        router,
        label="<"
        + "<br/>".join([f"<b>{_esc(name)} {_esc(tr('routing'))}</b>", fwd_line, *routes])
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
    ) -> _Edge:
        """A cable down the column. Left to right the column is one rank, and dot puts a
        flat edge's tail *under* its head: so the edge runs from the lower box up to the
        upper one (a flow along it is drawn as going "back")."""
        if rankdir != "LR":
            return _Edge(upper, uport, lower, lport, attrs)
        return _Edge(lower, lport, upper, uport, attrs, compass=("n", "s"))

    nat = ids(name, "nat")
    stack = [router, nat]
    rules = nat_rules(info)
    up_addr = (addrs.get(uplink or "", []) or [""])[0].split("/")[0]
    published = dnat_rules(info)
    if rules:
        lines = ["<b>NAT · iptables -t nat</b>"]
        lines += [f'<font point-size="9">{_wrap(_rule_summary(r))}</font>' for r in rules]
        if up_addr:
            lines.append(
                f"{_esc(tr('source →'))} <b>{_esc(up_addr)}</b>"
                f' <font point-size="9">({_esc(uplink)}{_esc(tr(_S_ADDRESS))})</font>'
            )
        if published:
            lines.append(f"<b>{_esc(tr('published ports'))}</b> {_esc(tr('(DNAT, chain DOCKER)'))}")
            lines += [f'<font point-size="9">{_esc(p)}</font>' for p in published]
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
        edges.append(stacked(router, None, nat, None, {"penwidth": "1.6"}))
        after_nat = nat
    else:
        c.node(
            nat,
            label=(
                f'<<font color="{_MUTED}"><b>{_esc(tr("no NAT"))}</b><br/><font point-size="9">'
                f"{_esc(tr('no MASQUERADE rule in iptables -t nat:'))}<br/>"
                f"{_esc(tr(_UNCHANGED))}"
                "</font></font>>"
            ),
            shape="box",
            style="rounded,dashed",
            color="#adb5bd",
            margin="0.12,0.06",
        )
        edges.append(stacked(router, None, nat, None, {"style": "dashed", "color": "#adb5bd"}))
        after_nat = router

    # Uplink.
    if uplink and uplink in all_links:
        lk = all_links[uplink]
        nid = ids(name, "uplink")
        loc[(name, uplink)] = (nid, _port(lk))
        body = _iface_body(
            lk,
            addrs.get(uplink, []),
            gws.get(uplink),
            title_suffix=f' <font point-size="9">({_esc(tr("uplink"))})</font>',
        )
        c.node(nid, label=_table([_cell(_port(lk), body, rows_for(name, uplink))]))
        edges.append(stacked(after_nat, None, nid, _port(lk), {"penwidth": "1.6"}))
        stack.append(nid)

    # Everything else: dummies, unbridged veths, lo when shown, ...
    rest = [
        lk
        for lk in links
        if lk["ifname"] not in brs and lk["ifname"] != uplink and lk.get("master") not in brs
    ]
    if rest:
        nid = ids(name, "others")
        rows = []
        for lk in rest:
            ifn = lk["ifname"]
            loc[(name, ifn)] = (nid, _port(lk))
            body = _iface_body(lk, addrs.get(ifn, []), gws.get(ifn))
            if lk.get("kind") == "loopback":
                body = f'<font color="{_MUTED}">{body}</font>'
            rows.append(_cell(_port(lk), body, rows_for(name, ifn)))
        c.node(nid, label=_table(rows, color="#adb5bd"))
        c.edge(router, nid, style="invis")
    if rankdir == "LR":
        with c.subgraph() as same:
            same.attr(rank="same")
            for nid in stack:
                same.node(nid)
    return stack


def _path(edges: list[_Edge], start: str, goal: str) -> list[tuple[_Edge, bool]] | None:
    """Shortest chain of drawn cables from ``start`` to ``goal`` (graph node ids)."""
    adj: dict[str, list[tuple[str, _Edge, bool]]] = {}
    for e in edges:
        if not e.structural:
            continue
        adj.setdefault(e.tail, []).append((e.head, e, True))
        adj.setdefault(e.head, []).append((e.tail, e, False))
    seen = {start: None}
    queue: deque[str] = deque([start])
    back: dict[str, tuple[str, _Edge, bool]] = {}
    while queue:
        cur = queue.popleft()
        if cur == goal:
            break
        for nxt, e, fwd in adj.get(cur, []):
            if nxt not in seen:
                seen[nxt] = None
                back[nxt] = (cur, e, fwd)
                queue.append(nxt)
    if goal not in seen:
        return None
    out: list[tuple[_Edge, bool]] = []
    cur = goal
    while cur != start:
        prev, e, fwd = back[cur]
        out.append((e, fwd))
        cur = prev
    return list(reversed(out))


def _legend_label(
    hops: list[dict[str, Any]],
    changes: list[set[str]],
    drawn: set[tuple[str, str]],
) -> str:
    """The table of the hops, as an HTML-like label (it sits under the picture)."""
    head = "".join(
        f'<td bgcolor="#f1f3f5"><b>{_esc(tr(h))}</b></td>'
        for h in ("#", "seen at", "addresses seen there", "what happened")
    )
    rows = [head]
    for i, (hop, ch) in enumerate(zip(hops, changes, strict=True)):
        where = f"{hop.get('node')}:{hop.get('ifname')}"
        missing = (str(hop.get("node")), str(hop.get("ifname"))) not in drawn
        note = _esc(hop.get("summary") or "")
        if "src" in ch:
            note = (note + "<br/>" if note else "") + f"<b>{_esc(tr('source NAT'))}</b>"
        elif "dst" in ch:
            note = (note + "<br/>" if note else "") + f"<b>{_esc(tr('destination rewritten'))}</b>"
        if missing:
            note = (note + "<br/>" if note else "") + f"<i>{_esc(tr('(not in this snapshot)'))}</i>"
        rows.append(
            f'<td bgcolor="{FLOW_COLOR}"><font color="white"><b>{i + 1}</b></font></td>'
            f'<td align="left">{_esc(where)}</td>'
            f'<td align="left">{_hop_text(hop, ch)}</td>'
            f'<td align="left" balign="left">{note}</td>'
        )
    return _table(rows, color="#adb5bd")


def diagram_svg(
    snapshot: Mapping[str, Any],
    flow: list[dict[str, Any]] | object | None = None,
    **kwargs: Any,
) -> str:
    """The diagram rendered to an SVG string with the ``dot`` program (same arguments)."""
    svg: bytes = diagram(snapshot, flow, **kwargs).pipe(format="svg")
    return svg.decode("utf-8")
