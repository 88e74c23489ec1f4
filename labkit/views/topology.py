"""Questions a diagram asks of a kernel snapshot's node (see :mod:`labkit.core.snapshot`):
its bridges, its uplink, its NAT rules and published ports, its addresses and gateways.

Pure functions of the snapshot, derived only from what the kernel reported, never from
names labkit chose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from labkit.core.snapshot import natural_key

__all__ = [
    "addrs_by_if",
    "bridges",
    "dnat_rules",
    "find_uplink",
    "gateways_by_dev",
    "links",
    "nat_rules",
    "plain_lo",
    "rule_summary",
]

_LOOPBACK_ADDRS = {"127.0.0.1", "::1"}


def plain_lo(info: Mapping[str, Any], link: Mapping[str, Any]) -> bool:
    """A loopback that carries nothing but 127.0.0.1 and ::1 (hidden unless ``show_lo``)."""
    if link.get("kind") != "loopback":
        return False
    mine = {str(a.get("address")) for a in info.get("addrs") or [] if a["ifname"] == link["ifname"]}
    return mine <= _LOOPBACK_ADDRS


def links(info: Mapping[str, Any], show_lo: bool = True) -> list[dict[str, Any]]:
    """The node's links by ifindex; a plain ``lo`` (:func:`plain_lo`) only with ``show_lo``."""
    links = [lk for lk in info.get("links") or [] if show_lo or not plain_lo(info, lk)]
    return sorted(links, key=lambda lk: (lk.get("index") or 0, lk["ifname"]))


def addrs_by_if(info: Mapping[str, Any], *, link_local: bool = False) -> dict[str, list[str]]:
    """``{ifname: ["a.b.c.d/n", ...]}`` in the kernel's order; IPv6 link-local left out."""
    out: dict[str, list[str]] = {}
    for a in info.get("addrs") or []:
        addr = str(a.get("address"))
        if not link_local and a.get("family") == 6 and addr.lower().startswith("fe80:"):
            continue
        out.setdefault(a["ifname"], []).append(f"{addr}/{a.get('prefixlen')}")
    return out


def gateways_by_dev(info: Mapping[str, Any]) -> dict[str, str]:
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


def rule_summary(rule: str) -> str:
    """``-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE`` → a short form."""
    words = rule.split()
    chain = words[1] if len(words) > 1 else "?"
    j = words.index("-j")
    match = " ".join(words[2:j])
    target = " ".join(words[j + 1 :])
    return f"{chain}: {match} → {target}".replace(":  →", ": →")
