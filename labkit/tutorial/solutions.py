"""Every exercise of the tutorial, solved, in one place.

``SOLUTIONS[notebook][cell_id]`` is the source that solves the exercise cell ``cell_id`` of
``notebooks/<notebook>.ipynb``. The shipped notebooks hold a placeholder (``...``) in that cell
and this solution in a collapsed ``<details>`` block below it; ``tests/test_notebooks_meta.py``
keeps the two equal, and ``tests/integration/test_solutions.py`` runs every notebook with the
solutions filled in and asserts that every check passes. The Japanese edition
(``notebooks/ja/``) keeps the English cell ids, so the same solutions solve it too.
"""

from __future__ import annotations

import copy
import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nbformat comes with the notebook and test extras, not with labkit itself
    import nbformat

__all__ = ["CHECK_TAG", "EXERCISE_TAG", "SOLUTIONS", "details", "exercise_cells", "solved"]

EXERCISE_TAG = "exercise"
"""Tag of a cell the learner fills in (it ships with a ``...`` placeholder)."""
CHECK_TAG = "check"
"""Tag of a cell whose output is a check: ``✔ …`` when the exercise above it is solved."""

SOLUTIONS: dict[str, dict[str, str]] = {
    "00-start-here": {
        "c13": 'prediction = "172.17.0.4"\nc3 = lab.run("c3")',
    },
    "01-docker0-bridge": {
        "c18": 'lab.host.exec_run("ip link add br-lab type bridge")',
    },
    "02-veth-pairs": {
        "c20": (
            "n = c1.exec_run(\"ip -o link show eth0\").output.split(\"@if\")[1].split(\":\")[0]\n"
            'host_links = lab.host.exec_run("ip -o link").output.splitlines()\n'
            'peer_name = next(line.split(": ")[1].split("@")[0] for line in host_links\n'
            '                 if line.startswith(f"{n}: "))'
        ),
    },
    "03-container-view": {
        "c19": (
            "def mac_from_ip(ip):\n"
            '    return "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))'
        ),
    },
    "04-ip-allocation": {
        "c17": 'prediction = {"x1": "172.17.0.6", "x2": "172.17.0.7"}',
    },
    "05-container-to-container": {
        "c19": (
            "def port_of(mac):\n"
            '    for line in lab.host.exec_run("bridge fdb show br docker0").output.splitlines():\n'
            "        fields = line.split()\n"
            '        if fields and fields[0] == mac.lower() and "master" in fields:\n'
            '            return fields[fields.index("dev") + 1]\n'
            "    return None"
        ),
    },
    "06-nat-masquerade": {
        "c19": "lab.host.ip_forward(True)\nlab.host.masquerade(True)",
    },
    "07-links": {
        "c18": 'app = lab.run("app", links={"c3": "db"})',
    },
    "08-published-ports": {
        "c19": 'api = lab.run("api", ports={"80/tcp": 8081})',
    },
    "09-user-defined-networks": {
        "c25": (
            'shop = lab.networks.create("shop")\n'
            'db = lab.run("db", network="shop")\n'
            'front = lab.run("front", network="shop")'
        ),
    },
    "10-docker-versions": {
        "c19": (
            'lab.host.exec_run(f"iptables -t raw -A PREROUTING -d {app.subnet} -i lo -j ACCEPT")\n'
            'lab.host.exec_run(f"iptables -t raw -A PREROUTING -d {app.subnet} '
            '! -i {app.bridge} -j DROP")'
        ),
    },
    "11-troubleshooting": {
        "c07": 'lab.host.exec_run("sysctl -w net.ipv4.ip_forward=1")',
        "c13": (
            'lab.host.exec_run("iptables -t nat -A POSTROUTING -s 172.17.0.0/16 '
            '! -o docker0 -j MASQUERADE")'
        ),
        "c19": 'lab.host.exec_run("iptables -I FORWARD 5 -i docker0 ! -o docker0 -j ACCEPT")',
        "c27": 'lab.host.exec_run("iptables -R FORWARD 6 -i docker0 -o docker0 -j ACCEPT")',
        "c33": 'c1.exec_run(f"ip route add default via {c1.gateway}")',
    },
    "12-overlay-two-hosts": {
        "c24": (
            'c3 = lab.run("c3", network="ov", host="host2")\n'
            'fdb = lab.host.exec_run(["ip", "netns", "exec", ns,\n'
            '                         "bridge", "fdb", "show", "dev", "vxlan0"]).output\n'
            "vtep = next(line.split()[line.split().index(\"dst\") + 1]\n"
            "            for line in fdb.splitlines() if line.startswith(c3.mac))"
        ),
    },
    "13-network-modes": {
        "c20": (
            'pause = lab.run("pause")\n'
            'web = lab.run("web", network="container:pause")\n'
            "serve(web, 8080)\n"
            'sidecar = lab.run("sidecar", network="container:pause")'
        ),
    },
    "14-macvlan": {
        "c10": (
            "shim = [\n"
            '    "ip link add mv-shim link eth0 type macvlan mode bridge",\n'
            '    "ip addr add 198.51.100.254/32 dev mv-shim",\n'
            '    "ip link set mv-shim up",\n'
            '    "ip route add 198.51.100.0/26 dev mv-shim",\n'
            "]\n"
            "for command in shim:\n"
            '    print(command, "→", lab.host.exec_run(command).exit_code)'
        ),
    },
    "15-ipv6": {
        "c14": (
            "prediction = str(base.network_address + (2 << 64) + 2)  # the third /64, from ::2\n"
            'v6b = lab.networks.create("v6b", ipv6=True)\n'
            'd1 = lab.run("d1", network="v6b")'
        ),
    },
}


def exercise_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells of ``nb`` tagged ``exercise``, in order."""
    return [c for c in nb.cells if EXERCISE_TAG in c.get("metadata", {}).get("tags", [])]


def solved(nb: nbformat.NotebookNode, notebook: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` (the notebook called ``notebook``) with every exercise solved.

    Raises ``KeyError`` when an exercise cell has no solution, so an exercise can never be
    added without proving it solvable.
    """
    out = copy.deepcopy(nb)
    mine = SOLUTIONS.get(notebook, {})
    for cell in exercise_cells(out):
        if cell["id"] not in mine:
            raise KeyError(f"{notebook}: exercise cell {cell['id']} has no solution in SOLUTIONS")
        cell.source = mine[cell["id"]]
    return out


def details(source: str, summary: str = "Show a solution", before: str = "") -> str:
    """The markdown of a collapsed solution: ``<details>`` with the code in a fenced block.

    ``before`` is markdown shown inside the block above the code (an explanation).
    """
    inner = f"{before.strip()}\n\n" if before.strip() else ""
    return (
        f"<details><summary>{html.escape(summary)}</summary>\n\n"
        f"{inner}```python\n{source}\n```\n\n</details>"
    )
