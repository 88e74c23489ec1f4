"""Three more pictures, drawn from a kernel snapshot like :func:`labkit.views.diagram`.

* :func:`networks_diagram` (notebook 09): every bridge network with its containers, and
  the isolation between networks (what ``docker network ls`` / ``inspect`` and the
  ``DOCKER-ISOLATION`` chains say, in one picture);
* :func:`chains_diagram` (notebook 10): the netfilter chains a packet walks on the host,
  from ``PREROUTING`` through the routing decision to ``FORWARD`` or ``INPUT`` and out by
  ``POSTROUTING``, each with the rules the host holds in it (``iptables -S``);
* :func:`trouble_diagram` (notebook 11): the topology with the broken spots in red, as
  :func:`find_broken` reads them from the snapshot (or as given).

Labels follow :func:`labkit.set_language` (or ``lang=``); output is deterministic.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

import graphviz

from labkit.core.snapshot import as_snapshot, natural_key
from labkit.i18n import font, tr
from labkit.i18n import using as _using_lang
from labkit.views.diagram import diagram
from labkit.views.labels import esc, table
from labkit.views.topology import bridges, find_uplink, nat_rules

__all__ = ["chains_diagram", "find_broken", "networks_diagram", "trouble_diagram"]

BROKEN_COLOR = "#e03131"
"""Colour of a broken spot."""

_NET_COLORS = ["#1c7ed6", "#e8590c", "#2b8a3e", "#7048e8", "#c2255c", "#0c8599"]


def _graph(name: str, title: str, rankdir: str = "LR") -> graphviz.Digraph:
    f = font()
    g = graphviz.Digraph(
        name,
        graph_attr={
            "rankdir": rankdir,
            "bgcolor": "white",
            "fontname": f,
            "fontsize": "14",
            "labelloc": "t",
            "nodesep": "0.25",
            "ranksep": "0.45",
        },
        node_attr={"shape": "plain", "fontname": f, "fontsize": "10"},
        edge_attr={"fontname": f, "fontsize": "9", "color": "#495057"},
    )
    g.attr(label=f"<<b>{esc(title)}</b>>")
    return g


def _v4_net(info: Mapping[str, Any], ifname: str) -> str:
    for a in info.get("addrs") or []:
        if a["ifname"] == ifname and a.get("family") == 4:
            return str(ipaddress.ip_interface(f"{a['address']}/{a['prefixlen']}").network)
    return ""


def _v4_addr(info: Mapping[str, Any], ifname: str) -> str:
    for a in info.get("addrs") or []:
        if a["ifname"] == ifname and a.get("family") == 4:
            return str(a["address"])
    return ""


# --------------------------------------------------------------------------- 09


def networks_diagram(
    snapshot: Mapping[str, Any],
    *,
    host: str = "host",
    names: Mapping[str, str] | None = None,
    lang: str | None = None,
) -> graphviz.Digraph:
    """Every bridge network of ``host`` with the containers plugged into it, and isolation.

    A network is a bridge (``docker0`` is Docker's ``bridge`` network, ``br-…`` the ones
    ``docker network create`` made); a container is drawn once, cabled to every network it
    has an interface on (``docker network connect``). Between two networks a red dashed
    line says they are isolated when the host's filter table has a ``DOCKER-ISOLATION``
    chain (Docker's rule: no forwarding from one bridge to another).

    ``names`` maps a bridge to its Docker network's name (``{"br-35bf992dc9e9": "appnet"}``,
    e.g. ``{n.bridge: n.name for n in lab.networks.list()}``); the lab's default bridge is
    called ``bridge``, as ``docker network ls`` calls it.
    """
    with _using_lang(lang):
        snap = as_snapshot(snapshot)
        nodes = snap.get("nodes") or {}
        info = nodes[host]
        by_if = {lk["ifname"]: lk for lk in info.get("links") or []}
        brs = bridges(info)
        g = _graph("networks", f"{tr('network')} · docker network ls")
        filt = (info.get("iptables") or {}).get("filter") or []
        isolation = any("DOCKER-ISOLATION" in line for line in filt)

        colors = {br: _NET_COLORS[i % len(_NET_COLORS)] for i, br in enumerate(brs)}
        known = dict(names or {})
        default = (snap.get("lab") or {}).get("bridge") or "docker0"
        known.setdefault(default, "bridge")
        # Which bridge each wired container interface hangs on.
        plugged: dict[str, list[tuple[str, str]]] = {}
        for w in snap.get("wires") or []:
            for me, other in (("a", "b"), ("b", "a")):
                if w[me]["node"] != host:
                    continue
                master = (by_if.get(w[me]["ifname"]) or {}).get("master")
                far = w[other]
                if master in colors and nodes.get(far["node"], {}).get("kind") == "container":
                    plugged.setdefault(far["node"], []).append((far["ifname"], master))

        with g.subgraph() as column:
            column.attr(rank="same")
            for br in brs:
                column.node(f"net_{br}")
        for br in brs:
            net = _v4_net(info, br)
            gw = _v4_addr(info, br)
            title = f"{known[br]} · {br}" if br in known else br
            g.node(
                f"net_{br}",
                label=table(
                    [
                        f'<td bgcolor="{colors[br]}"><font color="white"><b>{esc(title)}</b>'
                        f"</font></td>",
                        f"<td>{esc(net)}<br/>gateway <b>{esc(gw)}</b></td>",
                    ],
                    color=colors[br],
                ),
            )
        for c in sorted(plugged, key=natural_key):
            cinfo = nodes[c]
            rows = [f'<td bgcolor="#e7f5ff"><b>{esc(tr("container"))} {esc(c)}</b></td>']
            for ifname, _br in sorted(plugged[c]):
                rows.append(
                    f'<td port="{esc(ifname)}" align="left">{esc(ifname)} '
                    f"<b>{esc(_v4_addr(cinfo, ifname))}</b></td>"
                )
            g.node(f"c_{c}", label=table(rows, color="#1c7ed6"))
            for ifname, br in sorted(plugged[c]):
                g.edge(
                    f"c_{c}:{ifname}:e",
                    f"net_{br}:w",
                    color=colors[br],
                    penwidth="1.8",
                    arrowhead="none",
                )
        if isolation and len(brs) > 1:
            for a, b in zip(brs, brs[1:], strict=False):
                g.edge(
                    f"net_{a}",
                    f"net_{b}",
                    label=f"<<b>{esc(tr('isolated'))}</b><br/>"
                    f"{esc(tr('DOCKER-ISOLATION drops it'))}>",
                    style="dashed",
                    color=BROKEN_COLOR,
                    fontcolor=BROKEN_COLOR,
                    dir="both",
                    arrowhead="tee",
                    arrowtail="tee",
                    constraint="false",
                )
        return g


# --------------------------------------------------------------------------- 10

# (hook, tables in the order the kernel calls them)
_HOOKS = {
    "PREROUTING": ("raw", "mangle", "nat"),
    "INPUT": ("mangle", "filter"),
    "FORWARD": ("mangle", "filter"),
    "OUTPUT": ("raw", "mangle", "nat", "filter"),
    "POSTROUTING": ("mangle", "nat"),
}


def _chain_rules(
    iptables: Mapping[str, list[str]], table: str, chain: str
) -> tuple[str, list[str]]:
    """``(policy, rules)`` of one built-in chain, from ``iptables -t table -S`` lines."""
    policy, rules = "", []
    for line in iptables.get(table) or []:
        words = line.split()
        if words[:2] == ["-P", chain]:
            policy = words[2] if len(words) > 2 else ""
        elif words[:2] == ["-A", chain]:
            rules.append(" ".join(words[2:]))
    return policy, rules


def chains_diagram(
    snapshot: Mapping[str, Any],
    *,
    host: str = "host",
    path: Iterable[str] = ("PREROUTING", "FORWARD", "POSTROUTING"),
    max_rules: int = 6,
    lang: str | None = None,
) -> graphviz.Digraph:
    """The netfilter chains on ``host`` and the rules in each, as a packet walks them.

    A packet arriving on an interface goes through ``PREROUTING`` (raw, nat: where Docker's
    DNAT for published ports sits), then the routing decision sends it to ``INPUT`` (for
    the host itself) or ``FORWARD`` (to a container or out: Docker's filter rules), and
    out through ``POSTROUTING`` (nat: the MASQUERADE). The chains on ``path`` (a forwarded
    packet's, by default) are drawn bold with the packet's arrows; every box lists the
    host's rules in that chain, like ``iptables -t TABLE -S CHAIN``.
    """
    with _using_lang(lang):
        snap = as_snapshot(snapshot)
        info = (snap.get("nodes") or {})[host]
        ipt = info.get("iptables") or {}
        walked = set(path)
        g = _graph("chains", tr("A packet's walk through iptables"), rankdir="TB")

        def box(chain: str) -> None:
            rows = []
            hot = chain in walked
            head_bg = "#1c7ed6" if hot else "#adb5bd"
            rows.append(f'<td bgcolor="{head_bg}"><font color="white"><b>{chain}</b></font></td>')
            for tname in _HOOKS[chain]:
                if tname not in ipt:
                    continue
                policy, rules = _chain_rules(ipt, tname, chain)
                shown = [
                    f"<b>-t {esc(tname)}</b>"
                    + (f" ({esc(tr('policy'))} {esc(policy)})" if policy else "")
                ]
                for r in rules[:max_rules]:
                    shown.append(f'<font face="Courier" point-size="8">{esc(r)}</font>')
                if len(rules) > max_rules:
                    shown.append(
                        f'<font point-size="8">+{len(rules) - max_rules} {esc(tr("more"))}</font>'
                    )
                if not rules:
                    shown.append(
                        f'<font color="#6c757d" point-size="8">{esc(tr("no rules"))}</font>'
                    )
                rows.append('<td align="left" balign="left">' + "<br/>".join(shown) + "</td>")
            g.node(chain, label=table(rows, color=head_bg))

        ends = {
            "in": tr("arrives"),
            "route": tr("routing decision"),
            "local": tr("a process on the host"),
            "out": tr("leaves"),
        }
        uplink = find_uplink(info) or "eth0"
        g.node(
            "in",
            label=f"<<b>{esc(ends['in'])}</b><br/>docker0 / {esc(uplink)}>",
            shape="cds",
            style="filled",
            fillcolor="#f1f3f5",
            margin="0.1,0.05",
        )
        g.node(
            "route",
            label=f"<{esc(ends['route'])}<br/>ip_forward = "
            f"{esc((info.get('sysctl') or {}).get('net.ipv4.ip_forward', '?'))}>",
            shape="diamond",
            style="filled",
            fillcolor="#ebfbee",
            margin="0.05",
        )
        g.node(
            "local",
            label=f"<{esc(ends['local'])}>",
            shape="box",
            style="rounded,filled",
            fillcolor="#f1f3f5",
        )
        g.node(
            "out",
            label=f"<<b>{esc(ends['out'])}</b><br/>docker0 / {esc(uplink)}>",
            shape="cds",
            style="filled",
            fillcolor="#f1f3f5",
            margin="0.1,0.05",
        )
        for chain in _HOOKS:
            box(chain)

        def edge(a: str, b: str, **kw: str) -> None:
            hot = (a in walked or a in ("in", "route")) and (b in walked or b in ("route", "out"))
            attrs = {"color": "#1c7ed6", "penwidth": "2.2"} if hot else {"color": "#adb5bd"}
            attrs.update(kw)
            g.edge(a, b, **attrs)

        edge("in", "PREROUTING")
        edge("PREROUTING", "route")
        edge("route", "FORWARD", label=f"<{esc(tr('forwarded'))}>")
        edge("route", "INPUT", label=f"<{esc(tr('for this host'))}>")
        edge("INPUT", "local")
        edge("local", "OUTPUT")
        edge("OUTPUT", "POSTROUTING")
        edge("FORWARD", "POSTROUTING")
        edge("POSTROUTING", "out")
        return g


# --------------------------------------------------------------------------- 11


def find_broken(snapshot: Mapping[str, Any], *, host: str = "host") -> dict[str, str]:
    """Spots of the classic single-host faults, read from a snapshot: ``{spot: why}``.

    A spot is ``"node:ifname"`` for an interface (or a bridge) or ``"host:routing"`` /
    ``"host:nat"`` for the host's boxes. It finds: forwarding off (``ip_forward``), no
    MASQUERADE for a bridge's subnet, a FORWARD policy of DROP with no ACCEPT for traffic
    leaving a bridge, a DROP between two ports of a bridge on a lab that did not ask for
    ``--icc=false``, an interface that is down, and a container without a default route.
    """
    snap = as_snapshot(snapshot)
    nodes = snap.get("nodes") or {}
    out: dict[str, str] = {}
    info = nodes.get(host) or {}
    if str((info.get("sysctl") or {}).get("net.ipv4.ip_forward", "1")) != "1":
        out[f"{host}:routing"] = "net.ipv4.ip_forward = 0"
    nat = " ".join(nat_rules(info))
    for br in bridges(info):
        net = _v4_net(info, br)
        if net and f"-s {net}" not in nat:
            out[f"{host}:nat"] = f"no MASQUERADE for {net}"
    filt = (info.get("iptables") or {}).get("filter") or []
    policy, rules = _chain_rules({"filter": filt}, "filter", "FORWARD")
    icc = (snap.get("lab") or {}).get("icc", True)
    for br in bridges(info):
        out_of = [
            r
            for r in rules
            if r.split()[:2] == ["-i", br]
            and r.endswith("-j ACCEPT")
            and ("-o" not in r.split() or f"! -o {br}" in r)
        ]
        if policy == "DROP" and not out_of:
            out.setdefault(f"{host}:routing", f"FORWARD: nothing accepts -i {br} ! -o {br}")
        if icc and f"-i {br} -o {br} -j DROP" in rules:
            out[f"{host}:{br}"] = f"-A FORWARD -i {br} -o {br} -j DROP"
    for name in sorted(nodes, key=natural_key):
        n = nodes[name]
        for lk in n.get("links") or []:
            if lk.get("kind") != "loopback" and not lk.get("up"):
                out[f"{name}:{lk['ifname']}"] = f"{lk['ifname']} is down"
        if n.get("kind") == "container" and n.get("links") and not find_uplink(n):
            wired = [lk["ifname"] for lk in n["links"] if lk.get("kind") != "loopback"]
            if wired:
                out.setdefault(f"{name}:{wired[0]}", "no default route")
    return out


def trouble_diagram(
    snapshot: Mapping[str, Any],
    broken: Mapping[str, str] | Iterable[str] | None = None,
    *,
    lang: str | None = None,
    **kwargs: Any,
) -> graphviz.Digraph:
    """The topology (:func:`~labkit.views.diagram`) with the broken spots drawn red.

    ``broken`` is ``{spot: why}`` or a list of spots (``"c1:eth0"``, ``"host:routing"``,
    ``"host:nat"``); by default :func:`find_broken` reads them from the snapshot.
    """
    with _using_lang(lang):
        spots = find_broken(snapshot) if broken is None else broken
        if not isinstance(spots, Mapping):
            spots = {s: "" for s in spots}
        g = diagram(snapshot, **kwargs)
        red = f'color="{BROKEN_COLOR}" fillcolor="#fff5f5" penwidth=3'
        lines = g.body
        for spot, why in sorted(spots.items()):
            node, _, what = spot.partition(":")
            note = f"{tr('broken here')}: {why}" if why else tr("broken here")
            ids = {"routing": f"{node}__router", "nat": f"{node}__nat"}
            target = ids.get(what)
            if target is None:
                for line in lines:
                    if (
                        'port="if' in line
                        and f"<b>{esc(what)}</b>" in line
                        and (line.lstrip().startswith(f"{node}__"))
                    ):
                        target = line.split()[0]
                        break
            if target is None:
                continue
            g.node(
                f"broken__{target}",
                label=f'<<font color="{BROKEN_COLOR}"><b>✘ {esc(note)}</b></font>>',
                shape="box",
                style="rounded",
                color=BROKEN_COLOR,
                penwidth="2",
            )
            g.edge(
                f"broken__{target}",
                target,
                color=BROKEN_COLOR,
                style="dashed",
                arrowhead="normal",
                dir="forward",
                constraint="false",
            )
            for i, line in enumerate(lines):
                if not line.lstrip().startswith(f"{target} ["):
                    continue
                if "label=<<table" in line:  # an HTML table: a red, thick frame
                    line = re.sub(
                        r'<<table border="0"(.*?) color="[^"]*">',
                        rf'<<table border="3"\1 color="{BROKEN_COLOR}">',
                        line,
                        count=1,
                    )
                elif line.rstrip().endswith("]"):
                    line = line.rstrip()[:-1] + f" {red}]"
                lines[i] = line
        return g
