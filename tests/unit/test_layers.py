"""labkit's import graph, built with ``ast``: no circles, and imports only go downwards.

Layers (see README and DESIGN): notebook objects (``labkit/client``, views, widgets,
exercises) → the protocol → Docker behaviour (``labkit/daemon`` and the sandbox-side
packet agents) → kernel primitives; ``labkit/core`` and ``labkit.errors`` are pure logic
that everyone may use. Imports under ``if TYPE_CHECKING:`` are not dependencies.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "labkit"

#: layer → the layers its modules may import (besides their own)
ALLOWED = {
    "core": {"core"},
    "protocol": {"core"},
    "kernel": {"core"},
    "packets": {"core"},
    "daemon": {"kernel", "packets", "protocol", "core"},
    "client": {"protocol", "packets", "core"},
    "app": {"client", "daemon", "kernel", "packets", "protocol", "core"},
}
KERNEL = {"labkit.daemon.nsutil", "labkit.daemon.rtnl", "labkit.daemon.netlink"}
SANDBOX_SIDE = {"labkit.packets.agent", "labkit.packets.agentclient"}
CLIENT_TOP = {"labkit.sandbox", "labkit.widgets", "labkit.exercises"}


def layer(mod: str) -> str:
    # labkit.i18n is pure too: a catalog of labels and the current language
    if mod in ("labkit.errors", "labkit.i18n") or mod.startswith("labkit.core"):
        return "core"
    if mod == "labkit.protocol":
        return "protocol"
    if mod in KERNEL:
        return "kernel"
    if mod in SANDBOX_SIDE or mod.startswith("labkit.daemon"):
        return "daemon"
    if mod.startswith("labkit.packets"):
        return "packets"
    if mod in CLIENT_TOP or mod.startswith(("labkit.client", "labkit.views")):
        return "client"
    return "app"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = getattr(test, "id", None) or getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                subs = {f"{node.module}.{alias.name}" for alias in node.names}
                modules = subs & MODULES.keys()
                found.update(modules)
                if modules != subs:  # names defined in the module itself, not submodules
                    found.add(node.module)

    Visitor().visit(ast.parse(path.read_text()))
    return {m for m in found if m in MODULES and m != "labkit"}


GRAPH = {mod: imports_of(path) - {mod} for mod, path in MODULES.items()}


def test_the_graph_is_real() -> None:
    assert "labkit.protocol" in GRAPH["labkit.client.connection"]
    assert "labkit.daemon.tools" in GRAPH["labkit.daemon.host"]


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


def test_imports_go_down_the_layers() -> None:
    wrong = [
        f"{mod} ({layer(mod)}) imports {dep} ({layer(dep)})"
        for mod, deps in sorted(GRAPH.items())
        for dep in sorted(deps)
        if layer(dep) != layer(mod) and layer(dep) not in ALLOWED[layer(mod)]
    ]
    assert wrong == []


def private_reaches(path: Path) -> list[str]:
    """``obj._name`` uses in a module where ``obj`` is a plain name other than ``self`` or
    ``cls`` (another object's private attribute), by line."""
    return [
        f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id not in ("self", "cls", "os", "sys")
        and node.attr.startswith("_")
        and not node.attr.endswith("__")
    ]


def test_private_reaches_are_found(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f(self, host):\n    self._x = os._exit\n    return host._host_mac()\n")
    assert private_reaches(probe) == ["probe.py:3: host._host_mac"]


def test_daemon_modules_use_only_public_methods_of_each_other() -> None:
    """networks, ports, modes, macvlan, lan, overlay, swarm… call DockerHost's (and the
    netlink socket's) public methods, never ``host._private`` ones."""
    found = [r for p in sorted((ROOT / "daemon").glob("*.py")) for r in private_reaches(p)]
    assert found == []
