"""A flow on a picture: hops normalised, what NAT rewrote between them, and the cables a
packet travelled from one hop to the next (shortest path among the drawn cables).

A flow is ``None``, a list of hop dicts (``point``, ``node``, ``ifname``, ``src``, ``dst``,
``proto``, ``sport``, ``dport``, ``summary``), or an object whose ``.hops()`` returns one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Edge", "endpoint", "flow_hops", "hop_changes", "path", "route"]


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


def endpoint(addr: Any, port: Any) -> str:
    """``addr:port``, or ``addr`` alone without a port."""
    return f"{addr}:{port}" if port not in (None, "") else str(addr)


def hop_changes(prev: Mapping[str, Any] | None, cur: Mapping[str, Any]) -> set[str]:
    """Which of src/dst (with ports) were rewritten between two consecutive hops.

    A swap of source and destination is a reply, not a rewrite; a hop whose addresses are
    both new (and not a swap) is a different packet, so nothing is highlighted either.
    """
    if prev is None:
        return set()
    src_p, dst_p = (
        endpoint(prev.get("src"), prev.get("sport")),
        endpoint(prev.get("dst"), prev.get("dport")),
    )
    src_c, dst_c = (
        endpoint(cur.get("src"), cur.get("sport")),
        endpoint(cur.get("dst"), cur.get("dport")),
    )
    if (src_p, dst_p) == (dst_c, src_c):
        return set()
    changed = set()
    if src_p != src_c:
        changed.add("src")
    if dst_p != dst_c:
        changed.add("dst")
    return changed if len(changed) == 1 else set()


@dataclass
class Edge:
    """A cable of the picture between two graph nodes (and ports), with the hops of a
    flow that travel it each way."""

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
        """``node:port:compass`` (graphviz's edge end)."""
        return f"{node}:{port}:{compass}" if port else f"{node}:{compass}"


def path(edges: list[Edge], start: str, goal: str) -> list[tuple[Edge, bool]] | None:
    """Shortest chain of drawn cables from ``start`` to ``goal`` (graph node ids)."""
    adj: dict[str, list[tuple[str, Edge, bool]]] = {}
    for e in edges:
        if not e.structural:
            continue
        adj.setdefault(e.tail, []).append((e.head, e, True))
        adj.setdefault(e.head, []).append((e.tail, e, False))
    seen = {start: None}
    queue: deque[str] = deque([start])
    back: dict[str, tuple[str, Edge, bool]] = {}
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
    out: list[tuple[Edge, bool]] = []
    cur = goal
    while cur != start:
        prev, e, fwd = back[cur]
        out.append((e, fwd))
        cur = prev
    return list(reversed(out))


def route(
    edges: list[Edge],
    hops: list[dict[str, Any]],
    loc: Mapping[tuple[str, str], tuple[str, str | None]],
) -> list[Edge]:
    """Mark on ``edges`` the hops that travel each cable between consecutive hops (``loc``:
    where each ``(node, ifname)`` is drawn); return dashed extra edges for the steps no
    chain of cables joins."""
    extra: list[Edge] = []
    prev: tuple[str, str | None] | None = None
    for i, hop in enumerate(hops):
        key = (str(hop.get("node")), str(hop.get("ifname")))
        here = loc.get(key)
        if here is None:
            continue
        if prev is not None and prev[0] != here[0]:
            chain = path(edges, prev[0], here[0])
            if chain is None:
                extra.append(
                    Edge(
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
                for e, forward in chain:
                    (e.flow_fwd if forward else e.flow_back).append(i + 1)
        prev = here
    return extra
