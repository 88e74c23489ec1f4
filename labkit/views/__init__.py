"""Notebook-facing views of a kernel snapshot: graphviz diagrams, HTML tables, classic text.

Everything here is drawn from a snapshot dict (:mod:`labkit.core.snapshot`), never from
labkit's own bookkeeping, and needs no privileges.
"""

from labkit.views.classic import brctl_text, ifconfig_text, routes_text
from labkit.views.diagram import (
    FLOW_COLOR,
    bridges,
    diagram,
    diagram_svg,
    find_uplink,
    flow_hops,
    nat_rules,
)
from labkit.views.html import conntrack_html, node_html, snapshot_html
from labkit.views.pictures import (
    chains_diagram,
    find_broken,
    networks_diagram,
    trouble_diagram,
)

__all__ = [
    "FLOW_COLOR",
    "brctl_text",
    "bridges",
    "chains_diagram",
    "conntrack_html",
    "diagram",
    "diagram_svg",
    "find_broken",
    "find_uplink",
    "flow_hops",
    "ifconfig_text",
    "nat_rules",
    "networks_diagram",
    "node_html",
    "routes_text",
    "snapshot_html",
    "trouble_diagram",
]
