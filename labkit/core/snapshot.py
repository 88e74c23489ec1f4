"""The shape of a kernel snapshot: what the daemon reads back, what views and diagrams draw.

A snapshot is plain data (dicts, lists, strings, ints) so it crosses the pipe unchanged and
can be saved as JSON. Every field is read from the kernel (netlink dumps, conntrack, rule
lists) at the moment of the snapshot, never from labkit's own bookkeeping: an interface a
learner adds by hand with ``ip`` shows up here.

```
Snapshot
  lab:    {"profile": "article", "subnet": "172.17.0.0/16", "gateway": "172.17.42.1",
           "mode": "rootless" | "root", "docker": "27"}
  nodes:  {name: Node}           "host", "outside", and one per container
  wires:  [Wire]                 veth pairs, matched across namespaces by ifindex/peer
Node
  kind:      "host" | "outside" | "container"
  hostname:  str
  links:     [Link]
  addrs:     [{"ifname": str, "address": str, "prefixlen": int, "family": 4 | 6,
               "broadcast": str | None}]
  routes:    [{"dst": "default" | "a.b.c.d/n", "gateway": str | None, "dev": str | None,
               "scope": "universe" | "link" | "host", "proto": str, "prefsrc": str | None}]
             IPv4, main table only
  neigh:     [{"ifname": str, "ip": str, "mac": str | None, "state": str}]   IPv4 ARP
  fdb:       [{"port": str, "mac": str, "bridge": str, "local": bool}]       bridges' MAC
             learning tables (empty where the node has no bridge)
  sysctl:    {"net.ipv4.ip_forward": "1", ...}
  iptables:  {"nat": [str], "filter": [str]}   lines of `iptables -t T -S` (host, outside)
  conntrack: [Conntrack]                        (host only; empty elsewhere)
Link
  index: int, ifname: str, kind: "bridge" | "veth" | "loopback" | "dummy" | str | None,
  mac: str (lower case), mtu: int, up: bool (admin state), oper: str ("UP", "DOWN",
  "UNKNOWN", "LOWERLAYERDOWN"), master: str | None (bridge it is enslaved to),
  peer_index: int | None (IFLA_LINK: the peer's ifindex in its own namespace),
  promisc: bool; a vxlan device also has vni: int | None and vxlan_port: int | None
Wire
  {"a": {"node": str, "ifname": str}, "b": {"node": str, "ifname": str}}
  a is the end in the host when one end is there
Conntrack
  {"proto": "icmp" | "tcp" | "udp" | str,
   "orig":  {"src": str, "dst": str, "sport": int | None, "dport": int | None},
   "reply": {"src": str, "dst": str, "sport": int | None, "dport": int | None},
   "state": str | None, "nat": bool}
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypedDict


class _LinkFields(TypedDict):
    index: int
    ifname: str
    kind: str | None
    mac: str
    mtu: int
    up: bool
    oper: str
    master: str | None
    peer_index: int | None
    promisc: bool


class LinkInfo(_LinkFields, total=False):
    """One interface; a vxlan device (an overlay network's tunnel end) also has these."""

    vni: int | None
    vxlan_port: int | None


class NodeInfo(TypedDict):
    kind: str
    hostname: str
    links: list[LinkInfo]
    addrs: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    neigh: list[dict[str, Any]]
    fdb: list[dict[str, Any]]
    sysctl: dict[str, str]
    iptables: dict[str, list[str]]
    conntrack: list[dict[str, Any]]


class SnapshotData(TypedDict):
    lab: dict[str, Any]
    nodes: dict[str, NodeInfo]
    wires: list[dict[str, dict[str, str]]]


def match_wires(nodes: dict[str, Any]) -> list[dict[str, dict[str, str]]]:
    """Pair veth ends across namespaces.

    End X (index i, peer_index p) in node A and end Y (index p, peer_index i) in node B
    form a pair. Within one namespace ifindexes are unique, and the host's are unique for
    the whole lab, so a pair with one end in the host is found without ambiguity.
    """
    ends = []
    for node, info in nodes.items():
        for link in info["links"]:
            if link.get("kind") == "veth" and link.get("peer_index"):
                ends.append((node, link))
    wires: list[dict[str, dict[str, str]]] = []
    used: set[tuple[str, str]] = set()
    order = {name: (0 if info["kind"] == "host" else 1) for name, info in nodes.items()}
    ends.sort(key=lambda e: order[e[0]])
    for node_a, la in ends:
        if (node_a, la["ifname"]) in used:
            continue
        for node_b, lb in ends:
            if (node_b, lb["ifname"]) in used or (node_a, la["ifname"]) == (node_b, lb["ifname"]):
                continue
            if lb["index"] == la["peer_index"] and lb["peer_index"] == la["index"]:
                if node_a == node_b and la["index"] == lb["index"]:
                    continue
                wires.append(
                    {
                        "a": {"node": node_a, "ifname": la["ifname"]},
                        "b": {"node": node_b, "ifname": lb["ifname"]},
                    }
                )
                used.add((node_a, la["ifname"]))
                used.add((node_b, lb["ifname"]))
                break
    return wires + macvlan_wires(nodes)


def macvlan_wires(nodes: dict[str, Any]) -> list[dict[str, dict[str, str]]]:
    """A container's macvlan child hangs off its parent in the host: IFLA_LINK is the
    parent's ifindex there (children made in the host itself are left out: no cable)."""
    host = next((n for n, info in nodes.items() if info["kind"] == "host"), None)
    if host is None:
        return []
    by_index = {lk["index"]: lk["ifname"] for lk in nodes[host]["links"]}
    wires = []
    for node, info in nodes.items():
        if node == host:
            continue
        for lk in info["links"]:
            parent = by_index.get(lk.get("peer_index") or -1)
            if lk.get("kind") == "macvlan" and parent:
                wires.append({"a": {"node": host, "ifname": parent},
                              "b": {"node": node, "ifname": lk["ifname"]}})  # fmt: skip
    return wires


def as_snapshot(snapshot: Any) -> Mapping[str, Any]:
    """Accept the plain snapshot dict, or an object carrying one (``.data``/``.to_dict()``)."""
    if isinstance(snapshot, Mapping):
        return snapshot
    to_dict = getattr(snapshot, "to_dict", None)
    if callable(to_dict):
        return to_dict()  # type: ignore[no-any-return]
    data = getattr(snapshot, "data", None)
    if isinstance(data, Mapping):
        return data
    raise TypeError(f"expected a snapshot dict, got {type(snapshot).__name__}")


def natural_key(name: str) -> list[Any]:
    """Sort key that puts c2 before c10 (numbers compared as numbers)."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", str(name))]
