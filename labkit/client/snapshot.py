"""A kernel snapshot as a notebook object: the data, plus tables and the classic tool views."""

from __future__ import annotations

import json
from typing import Any


class Snapshot:
    """Every namespace of a lab as the kernel had it at one moment (``lab.snapshot()``).

    ``snap.data`` is the plain dict (shape in :mod:`labkit.core.snapshot`); ``snap["c1"]``
    is one node. In a notebook it shows itself as tables; ``.diagram()`` draws it.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, node: str) -> dict[str, Any]:
        return dict(self.data["nodes"][node])

    @property
    def nodes(self) -> list[str]:
        return list(self.data["nodes"])

    @property
    def wires(self) -> list[dict[str, dict[str, str]]]:
        return list(self.data["wires"])

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_json(self) -> str:
        return json.dumps(self.data, indent=1, sort_keys=True)

    def diagram(self, flow: Any = None, *, title: str | None = None, **options: Any) -> Any:
        """The topology picture (a ``graphviz.Digraph``), optionally with a flow drawn on it.

        ``options`` go to :func:`labkit.views.diagram`: ``show_lo=True``, ``rankdir="TB"``,
        ``lang="ja"``.
        """
        from labkit.views.diagram import diagram

        return diagram(self.data, flow=flow, title=title, **options)

    def _repr_html_(self) -> str:
        from labkit.views.html import snapshot_html

        return snapshot_html(self.data)

    def __repr__(self) -> str:
        return f"<Snapshot: {', '.join(self.nodes)}>"


class ConntrackTable:
    """Connection-tracking entries of the Docker host, read over netlink (``conntrack -L``).

    Each entry holds the original direction and the reply direction; when they do not
    mirror each other, NAT rewrote the flow (``nat`` is True): a container's
    ``172.17.0.2 → 203.0.113.10`` expects its reply at ``198.51.100.73``.
    """

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries

    def __iter__(self) -> Any:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.entries[i]

    @property
    def nat(self) -> list[dict[str, Any]]:
        """Only the entries NAT rewrote."""
        return [e for e in self.entries if e.get("nat")]

    def __str__(self) -> str:
        def side(t: dict[str, Any]) -> str:
            ports = f" sport={t['sport']} dport={t['dport']}" if t.get("sport") else ""
            return f"src={t['src']} dst={t['dst']}{ports}"

        return "\n".join(
            f"{e['proto']:<5} {side(e['orig'])}  {side(e['reply'])}"
            + ("  [NAT]" if e.get("nat") else "")
            for e in self.entries
        )

    def __repr__(self) -> str:
        return f"<ConntrackTable: {len(self)} entries, {len(self.nat)} NATed>"

    def _repr_html_(self) -> str:
        from labkit.views.html import conntrack_html

        return conntrack_html(self.entries)
