"""Unit tests for labkit.views.diagram: the topology picture drawn from a snapshot."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import graphviz
import pytest

from labkit.views import FLOW_COLOR, diagram, diagram_svg, find_uplink, flow_hops, nat_rules

EXAMPLE = Path(__file__).with_name("snapshot_example.json")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")


@pytest.fixture
def snap() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def hop(point: str, src: str, dst: str, summary: str = "") -> dict[str, Any]:
    node, _, ifname = point.partition(":")
    return {
        "point": point,
        "node": node,
        "ifname": ifname,
        "src": src,
        "dst": dst,
        "proto": "icmp",
        "sport": None,
        "dport": None,
        "summary": summary,
    }


OUT = [
    hop("c1:eth0", "172.17.0.2", "203.0.113.10", "leaves c1"),
    hop("host:vethbe8a6db", "172.17.0.2", "203.0.113.10", "host end of the veth"),
    hop("host:docker0", "172.17.0.2", "203.0.113.10", "on the bridge"),
    hop("host:eth0", "198.51.100.73", "203.0.113.10", "after MASQUERADE"),
    hop("outside:eth0", "198.51.100.73", "203.0.113.10", "at the router"),
]


def node_line(source: str, node_id: str) -> str:
    """The DOT statement declaring ``node_id`` (labels may span several lines)."""
    m = re.search(rf"^\s*{re.escape(node_id)} \[(.*?)\]$", source, re.M | re.S)
    assert m, f"node {node_id} not in source"
    return m.group(1)


def legend_of(source: str) -> str:
    """The hop table: the label of the frame around a picture with a flow."""
    m = re.search(
        r"subgraph cluster_frame \{.*?^\t\tlabel=(<<table.*?</table>>)$", source, re.M | re.S
    )
    assert m, "no hop table under the picture"
    return m.group(1)


def flow_edges(source: str) -> list[str]:
    return [ln for ln in source.splitlines() if "->" in ln and FLOW_COLOR in ln]


def add_link(snap: dict[str, Any], node: str, ifname: str, index: int, **extra: Any) -> None:
    link = {
        "index": index,
        "ifname": ifname,
        "kind": "dummy",
        "mac": "aa:bb:cc:dd:ee:0f",
        "mtu": 1500,
        "up": True,
        "oper": "UNKNOWN",
        "master": None,
        "peer_index": None,
        "promisc": False,
    }
    link.update(extra)
    snap["nodes"][node]["links"].append(link)


# --------------------------------------------------------------------------- topology


def test_returns_digraph_that_jupyter_can_render(snap: dict[str, Any]) -> None:
    g = diagram(snap)
    assert isinstance(g, graphviz.Digraph)
    assert hasattr(g, "_repr_mimebundle_")


def test_source_shows_the_article_topology(snap: dict[str, Any]) -> None:
    src = diagram(snap).source
    for text in [
        "docker0",
        "172.17.42.1/16",
        "56:84:7a:fe:97:99",
        "vethbe8a6db",
        "veth1c58b2d",
        "172.17.0.2/16",
        "02:42:ac:11:00:02",
        "172.17.0.3/16",
        "02:42:ac:11:00:03",
        "198.51.100.73/24",
        "06:d8:0e:5d:b8:c9",
        "default via <b>172.17.42.1</b>",
        "default via <b>198.51.100.1</b>",
        "198.51.100.1/24",
        "203.0.113.10/24",
        "203.0.113.53/24",
        "ip_forward = 1",
        "MASQUERADE",
    ]:
        assert text in src, text
    # One cluster each: the host, both containers, the outside world.
    assert len(re.findall(r"subgraph cluster_", src)) == 4


def test_veth_pairs_cross_from_container_eth0_to_bridge_port(snap: dict[str, Any]) -> None:
    src = diagram(snap).source
    nodes = snap["nodes"]
    for w in snap["wires"]:
        host_end, far = w["a"], w["b"]
        if far["node"] == "outside":
            continue
        hidx = next(
            lk["index"] for lk in nodes["host"]["links"] if lk["ifname"] == host_end["ifname"]
        )
        cidx = next(lk["index"] for lk in nodes[far["node"]]["links"] if lk["ifname"] == "eth0")
        edge = f"{far['node']}__ifaces:if{cidx}:e -> host__docker0:if{hidx}:w"
        assert edge in src
    # The host-side veths are ports of the docker0 table, not nodes of their own.
    assert 'port="if5"' in node_line(src, "host__docker0")
    assert 'port="if7"' in node_line(src, "host__docker0")
    # The uplink is wired to the outside router's eth0.
    # Left to right, the outside world sits under the host, cabled back to the uplink.
    assert "outside__ifaces:if3:e -> host__uplink:if2:w" in src
    assert "host__uplink:if2:s -> outside__ifaces:if3:n" in diagram(snap, rankdir="TB").source


def test_nat_box_present_with_masquerade_rule(snap: dict[str, Any]) -> None:
    src = diagram(snap).source
    nat = node_line(src, "host__nat")
    assert "MASQUERADE" in nat
    assert "172.17.0.0/16 ! -o docker0" in nat
    assert "dashed" not in nat
    assert "198.51.100.73" in nat  # the address sources become


def test_removing_masquerade_removes_the_nat_box(snap: dict[str, Any]) -> None:
    nat_lines = snap["nodes"]["host"]["iptables"]["nat"]
    nat_lines[:] = [ln for ln in nat_lines if "MASQUERADE" not in ln]
    src = diagram(snap).source
    nat = node_line(src, "host__nat")
    assert "dashed" in nat
    assert "no NAT" in nat
    assert "-o docker0" not in src
    assert "→ MASQUERADE" not in src


def test_ip_forward_off_is_visible(snap: dict[str, Any]) -> None:
    on = node_line(diagram(snap).source, "host__router")
    snap["nodes"]["host"]["sysctl"]["net.ipv4.ip_forward"] = "0"
    off = node_line(diagram(snap).source, "host__router")
    assert "ip_forward = 1" in on and "dashed" not in on
    assert "ip_forward = 0" in off and "dashed" in off


def test_extra_link_appears_in_its_node(snap: dict[str, Any]) -> None:
    assert "dummy0" not in diagram(snap).source
    add_link(snap, "host", "dummy0", 42)
    snap["nodes"]["host"]["addrs"].append(
        {"ifname": "dummy0", "address": "10.99.0.1", "prefixlen": 32, "family": 4}
    )
    add_link(snap, "c2", "eth1", 9, kind="dummy")
    src = diagram(snap).source
    others = node_line(src, "host__others")
    assert "dummy0" in others and "10.99.0.1/32" in others
    assert "eth1" in node_line(src, "c2__ifaces")


def test_link_enslaved_by_hand_becomes_a_bridge_port(snap: dict[str, Any]) -> None:
    add_link(snap, "host", "dummy7", 50, master="docker0")
    src = diagram(snap).source
    assert "dummy7" in node_line(src, "host__docker0")
    assert "dummy7" not in src.split("host__others", 1)[-1].split("]", 1)[0]


def test_nothing_depends_on_names(snap: dict[str, Any]) -> None:
    """Rename the bridge, the uplink, a container: the picture follows the kernel data."""
    text = json.dumps(snap)
    text = text.replace('"docker0"', '"br-5f0c1a"').replace("! -o docker0", "! -o br-5f0c1a")
    text = text.replace('"c1"', '"web"')
    renamed = json.loads(text)
    host = renamed["nodes"]["host"]
    for lk in host["links"]:
        if lk["ifname"] == "eth0":
            lk["ifname"] = "ens5"
    for item in host["addrs"] + host["routes"] + host["neigh"]:
        for key in ("ifname", "dev"):
            if item.get(key) == "eth0":
                item[key] = "ens5"
    renamed["wires"][0]["a"]["ifname"] = "ens5"
    assert find_uplink(host) == "ens5"
    src = diagram(renamed).source
    assert "br-5f0c1a" in node_line(src, "host__br_5f0c1a")
    assert "ens5" in node_line(src, "host__uplink")
    assert "web__ifaces:if4:e -> host__br_5f0c1a:if5:w" in src
    assert "docker0" not in src


def test_no_bridge_no_uplink_still_draws(snap: dict[str, Any]) -> None:
    host = snap["nodes"]["host"]
    host["links"] = [lk for lk in host["links"] if lk["kind"] != "bridge"]
    for lk in host["links"]:
        lk["master"] = None
    host["routes"] = [r for r in host["routes"] if r["dst"] != "default"]
    assert find_uplink(host) is None
    src = diagram(snap).source
    assert "host__docker0" not in src
    assert "vethbe8a6db" in node_line(src, "host__others")
    assert "c1__ifaces:if4:e -> host__others:if5:w" in src


def test_helpers(snap: dict[str, Any]) -> None:
    host = snap["nodes"]["host"]
    assert find_uplink(host) == "eth0"
    assert nat_rules(host) == ["-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"]
    host["iptables"]["nat"].append("-A POSTROUTING -s 10.0.0.0/8 -j SNAT --to-source 1.2.3.4")
    host["iptables"]["nat"].append("-A DOCKER -p tcp --dport 80 -j DNAT --to 172.17.0.2:80")
    assert len(nat_rules(host)) == 2
    # A default route without dev is resolved through the subnet holding the gateway.
    host["routes"][0]["dev"] = None
    assert find_uplink(host) == "eth0"


# --------------------------------------------------------------------------- flows


def test_flow_draws_hops_with_nat_at_the_uplink(snap: dict[str, Any]) -> None:
    src = diagram(snap, OUT).source
    c1 = node_line(src, "c1__ifaces")
    uplink = node_line(src, "host__uplink")
    outside = node_line(src, "outside__ifaces")
    assert "<b>1</b>" in c1 and "172.17.0.2 → 203.0.113.10" in c1
    assert "<b>4</b>" in uplink and "198.51.100.73" in uplink
    assert "source rewritten (NAT)" in uplink
    assert "source rewritten" not in c1 and "source rewritten" not in outside
    assert "<b>5</b>" in outside
    # The cables the packet took are coloured: veth, bridge→routing→NAT→uplink, uplink→outside.
    edges = flow_edges(src)
    assert len(edges) == 5
    # Left to right, the routing column's cables and the outside world's run from the lower
    # box up (dot's order for one rank): the packet's arrow then points at their tail.
    upward = ("host__nat:", "host__uplink:", "outside__ifaces:")
    for e in edges:
        want = "dir=back" if e.strip().startswith(upward) else "dir=forward"
        assert want in e, e
    assert any("host__uplink" in e and "outside__ifaces" in e for e in edges)
    tb = flow_edges(diagram(snap, OUT, rankdir="TB").source)
    assert len(tb) == 5 and all("dir=forward" in e for e in tb)
    # A legend lists the hops in order.
    legend = legend_of(src)
    assert [legend.index(h["point"]) for h in OUT] == sorted(legend.index(h["point"]) for h in OUT)
    assert "source NAT" in legend


def test_no_flow_no_colour(snap: dict[str, Any]) -> None:
    src = diagram(snap).source
    assert flow_edges(src) == []
    assert "cluster_frame" not in src


def test_flow_object_with_hops_method(snap: dict[str, Any]) -> None:
    class Flow:
        def hops(self) -> list[dict[str, Any]]:
            return [dict(h) for h in OUT]

    assert diagram(snap, Flow()).source == diagram(snap, OUT).source


def test_flow_points_only(snap: dict[str, Any]) -> None:
    """Hops carrying only ``point`` (no node/ifname) are placed too."""
    hops = [{k: v for k, v in h.items() if k not in ("node", "ifname")} for h in OUT]
    assert flow_hops(hops)[1]["node"] == "host"
    assert diagram(snap, hops).source == diagram(snap, OUT).source


def test_reply_is_not_a_rewrite_but_un_nat_is(snap: dict[str, Any]) -> None:
    back = [
        hop("outside:eth0", "203.0.113.10", "198.51.100.73"),
        hop("host:eth0", "203.0.113.10", "198.51.100.73"),
        hop("host:docker0", "203.0.113.10", "172.17.0.2"),
        hop("c1:eth0", "203.0.113.10", "172.17.0.2"),
    ]
    src = diagram(snap, OUT + back).source
    assert "destination rewritten (NAT)" in node_line(src, "host__docker0")
    # Hop 6 (reply seen at outside:eth0) swaps src/dst: no "rewritten" there.
    assert "rewritten" not in node_line(src, "outside__ifaces")
    # Both directions on the same cables.
    assert any("dir=both" in e for e in flow_edges(src))


def test_container_to_container_goes_through_the_bridge(snap: dict[str, Any]) -> None:
    hops = [
        hop("c1:eth0", "172.17.0.2", "172.17.0.3"),
        hop("host:vethbe8a6db", "172.17.0.2", "172.17.0.3"),
        hop("host:veth1c58b2d", "172.17.0.2", "172.17.0.3"),
        hop("c2:eth0", "172.17.0.2", "172.17.0.3"),
    ]
    edges = flow_edges(diagram(snap, hops).source)
    assert len(edges) == 2
    assert any("c1__ifaces" in e for e in edges) and any("c2__ifaces" in e for e in edges)
    assert not any("host__router" in e for e in edges)


def test_unknown_hop_is_listed_not_drawn(snap: dict[str, Any]) -> None:
    src = diagram(snap, [*OUT, hop("c9:eth0", "192.0.2.1", "192.0.2.2")]).source
    assert "not in this snapshot" in legend_of(src)


def test_bad_flow_type_is_refused(snap: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        diagram(snap, 42)


# --------------------------------------------------------------------------- output


def test_deterministic_and_order_independent(snap: dict[str, Any]) -> None:
    first = diagram(snap, OUT).source
    assert diagram(copy.deepcopy(snap), OUT).source == first
    shuffled = copy.deepcopy(snap)
    shuffled["nodes"] = dict(reversed(list(shuffled["nodes"].items())))
    shuffled["wires"].reverse()
    for info in shuffled["nodes"].values():
        info["links"].reverse()
    assert diagram(shuffled, OUT).source == first


def test_hostile_names_are_escaped(snap: dict[str, Any]) -> None:
    add_link(snap, "host", '<b>&"x', 60)
    src = diagram(snap, title="a <title> & more").source
    assert "&lt;b&gt;&amp;&quot;x" in src
    assert '<b>&"x' not in src
    assert "a &lt;title&gt; &amp; more" in src


@needs_dot
def test_renders_to_svg_with_dot(snap: dict[str, Any]) -> None:
    add_link(snap, "host", "<b>", 60)
    svg = diagram(snap, OUT).pipe(format="svg").decode()
    assert "<svg" in svg
    for text in ("vethbe8a6db", "172.17.42.1/16", "198.51.100.73", "&lt;b&gt;"):
        assert text in svg
    assert diagram_svg(snap) == diagram(snap).pipe(format="svg").decode()


@needs_dot
def test_four_containers_render(snap: dict[str, Any]) -> None:
    for n in (3, 4):
        name, veth = f"c{n}", f"vethx{n}"
        c = copy.deepcopy(snap["nodes"]["c2"])
        c["links"][1].update(index=10 + n, peer_index=40 - 5 * n, mac=f"02:42:ac:11:00:0{n + 1}")
        c["addrs"][1]["address"] = f"172.17.0.{n + 1}"
        snap["nodes"][name] = c
        add_link(snap, "host", veth, 40 - 5 * n, kind="veth", master="docker0", peer_index=10 + n)
        snap["wires"].append(
            {"a": {"node": "host", "ifname": veth}, "b": {"node": name, "ifname": "eth0"}}
        )
    g = diagram(snap)
    svg = g.pipe(format="svg").decode()
    for n in (3, 4):
        assert f"vethx{n}" in svg and f"172.17.0.{n + 1}/16" in svg
    # Bridge ports follow the containers' order, so veth cables do not cross.
    table = node_line(g.source, "host__docker0")
    order = [table.index(p) for p in ("vethbe8a6db", "veth1c58b2d", "vethx3", "vethx4")]
    assert order == sorted(order)


def test_published_ports_appear_in_the_nat_box() -> None:
    import copy
    import json
    from pathlib import Path

    from labkit.views.diagram import diagram, dnat_rules

    snap = json.loads((Path(__file__).parent / "snapshot_example.json").read_text())
    host = snap["nodes"]["host"]
    assert dnat_rules(host) == []
    snap2 = copy.deepcopy(snap)
    snap2["nodes"]["host"]["iptables"]["nat"].append(
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"
    )
    assert dnat_rules(snap2["nodes"]["host"]) == ["8080/tcp → 172.17.0.2:80"]
    assert "8080/tcp → 172.17.0.2:80" in diagram(snap2).source
    assert "published ports" not in diagram(snap).source
