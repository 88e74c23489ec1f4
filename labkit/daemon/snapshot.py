"""Read a lab's state back from the kernel: links, addresses, routes, neighbours, bridge
fdb, sysctls, firewall rules and conntrack, for every namespace of the lab.

The shape is documented in :mod:`labkit.core.snapshot`. Nothing here consults the daemon's
bookkeeping except to know which namespaces exist and what they are called.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from typing import Any

from labkit.core.snapshot import LinkInfo, NodeInfo, SnapshotData, match_wires
from labkit.daemon.host import DockerHost
from labkit.daemon.records import NodeRecord
from labkit.daemon.tools import EXEC_ENV

SCOPES = {0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
PROTOS = {2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}
NUD = {
    0x01: "INCOMPLETE",
    0x02: "REACHABLE",
    0x04: "STALE",
    0x08: "DELAY",
    0x10: "PROBE",
    0x20: "FAILED",
    0x40: "NOARP",
    0x80: "PERMANENT",
}
IFF_UP = 0x1
IFF_PROMISC = 0x100
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
)


def _links(ipr: Any) -> list[LinkInfo]:
    raw = list(ipr.get_links())
    by_index = {int(m["index"]): m.get("ifname") for m in raw}
    out: list[LinkInfo] = []
    for m in raw:
        kind = m.get(("linkinfo", "kind"))
        ifname = str(m.get("ifname"))
        if kind is None and ifname == "lo":
            kind = "loopback"
        master = m.get("master")
        out.append(
            {
                "index": int(m["index"]),
                "ifname": ifname,
                "kind": kind,
                "mac": str(m.get("address") or "").lower(),
                "mtu": int(m.get("mtu") or 0),
                "up": bool(m["flags"] & IFF_UP),
                "oper": str(m.get("operstate") or "UNKNOWN"),
                "master": by_index.get(int(master)) if master else None,
                "peer_index": int(m.get("link")) if m.get("link") else None,
                "promisc": bool(m["flags"] & IFF_PROMISC),
            }
        )
        if kind == "vxlan":  # an overlay network's tunnel end: its VNI and UDP port
            data = m.get(("linkinfo", "data"))
            if data is not None:
                out[-1]["vni"] = data.get("IFLA_VXLAN_ID")
                out[-1]["vxlan_port"] = data.get("IFLA_VXLAN_PORT")
    return out


def _node(host: DockerHost, rec: NodeRecord) -> NodeInfo:
    ipr = rec.netns.ipr
    links = _links(ipr)
    names = {link["index"]: link["ifname"] for link in links}
    addrs = [
        {
            "ifname": names.get(int(a["index"]), str(a["index"])),
            "address": a.get("address"),
            "prefixlen": int(a["prefixlen"]),
            "broadcast": a.get("broadcast"),
            "family": 4 if a["family"] == socket.AF_INET else 6,
        }
        for a in ipr.get_addr()
    ]
    routes = []
    for r in ipr.get_routes(family=socket.AF_INET, table=254):
        dst = r.get("dst")
        routes.append(
            {
                "dst": f"{dst}/{r['dst_len']}" if dst else "default",
                "gateway": r.get("gateway"),
                "dev": names.get(int(r.get("oif") or 0)),
                "scope": SCOPES.get(int(r["scope"]), str(r["scope"])),
                "proto": PROTOS.get(int(r["proto"]), str(r["proto"])),
                "prefsrc": r.get("prefsrc"),
            }
        )
    neigh = [
        {
            "ifname": names.get(int(n["ifindex"])),
            "ip": n.get("dst"),
            "mac": n.get("lladdr"),
            "state": NUD.get(int(n["state"]), str(n["state"])),
        }
        for n in ipr.get_neighbours(family=socket.AF_INET)
    ]
    fdb = []
    if any(link["kind"] == "bridge" for link in links):
        for f in ipr.fdb("dump"):
            port = names.get(int(f["ifindex"]))
            bridge = names.get(int(f.get("master") or 0))
            mac = f.get("lladdr")
            if not mac or mac.startswith(("33:33:", "01:00:5e:")) or bridge is None:
                continue
            fdb.append(
                {"port": port, "mac": mac, "bridge": bridge, "local": bool(f["state"] & 0x80)}
            )
    sysctl = {}
    for key in SYSCTLS:
        with contextlib.suppress(Exception):
            sysctl[key] = host.read_sysctl(key, rec.name)
    info: NodeInfo = {
        "kind": rec.kind,
        "hostname": rec.hostname,
        "links": links,
        "addrs": addrs,
        "routes": routes,
        "neigh": neigh,
        "fdb": fdb,
        "sysctl": sysctl,
        "iptables": {},
        "conntrack": [],
    }
    if rec.kind == "host":
        prefix = host.exec_prefix(rec.name)  # another host of the lab: nsenter into it
        info["iptables"] = {t: iptables_rules(t, prefix) for t in ("nat", "filter")}
        info["conntrack"] = conntrack_entries() if not prefix else []
    return info


def iptables_rules(table: str, prefix: list[str] | None = None) -> list[str]:
    """``iptables -t TABLE -S`` in the daemon's namespace (or after ``prefix``), as lines."""
    out = subprocess.run(
        [*(prefix or []), "iptables", "-t", table, "-S"],
        capture_output=True,
        text=True,
        env=EXEC_ENV,
    )
    return out.stdout.splitlines()


def conntrack_entries() -> list[dict[str, Any]]:
    """The host's connection-tracking table, read over netlink (pyroute2's Conntrack)."""
    from pyroute2.conntrack import Conntrack

    out = []
    ct = Conntrack()
    try:
        for e in ct.dump_entries():
            out.append(_ct(e))
    finally:
        ct.close()
    return out


def _tuple(t: Any) -> dict[str, Any]:
    return {
        "src": getattr(t, "saddr", None),
        "dst": getattr(t, "daddr", None),
        "sport": getattr(t, "sport", None),
        "dport": getattr(t, "dport", None),
        "icmp_id": getattr(t, "icmp_id", None),
    }


_PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}


def _ct(e: Any) -> dict[str, Any]:
    orig = _tuple(e.tuple_orig)
    reply = _tuple(e.tuple_reply)
    proto = getattr(e.tuple_orig, "proto", None)
    state = getattr(e, "state", None)
    return {
        "proto": _PROTO_NAMES.get(proto, str(proto)) if isinstance(proto, int) else str(proto),
        "orig": orig,
        "reply": reply,
        "state": str(state) if state not in (None, 0) else None,
        "nat": orig["src"] != reply["dst"] or orig["dst"] != reply["src"],
    }


def snapshot(host: DockerHost) -> SnapshotData:
    """A snapshot of every namespace of the lab."""
    info = host.info()
    info.pop("timings", None)
    from labkit.daemon.modes import shared_nodes

    shared = shared_nodes(host)
    nodes = {name: _node(host, rec) for name, rec in host.nodes.items() if name not in shared}
    snap: SnapshotData = {"lab": info, "nodes": nodes, "wires": match_wires(nodes)}
    if shared:
        snap["shared"] = shared  # type: ignore[typeddict-unknown-key]
    return snap


__all__ = ["snapshot", "iptables_rules", "conntrack_entries"]
