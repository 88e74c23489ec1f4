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

    def diagram(self, flow: Any = None, *, title: str | None = None) -> Any:
        """The topology picture (a ``graphviz.Digraph``), optionally with a flow drawn on it."""
        from labkit.views.diagram import diagram

        return diagram(self.data, flow=flow, title=title)

    def _repr_html_(self) -> str:
        from labkit.views.html import snapshot_html

        return snapshot_html(self.data)

    def __repr__(self) -> str:
        return f"<Snapshot: {', '.join(self.nodes)}>"
