"""Every exercise of the tutorial is solvable: each notebook, run with labkit.tutorial's
solutions filled in, passes every one of its checks (issue #13).

The notebooks themselves ship unsolved and nbval runs them that way; this test proves the
other side. Each notebook runs top to bottom on a kernel of this environment, in a real lab,
in both editions: the Japanese cells keep the English ids, so the same solutions fill them,
and there every passed check must also say so in Japanese.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from labkit.tools import editions, nbindex
from labkit.tutorial.solutions import CHECK_TAG, solved

pytestmark = pytest.mark.lab

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = nbindex.notebooks(NOTEBOOKS) if NOTEBOOKS.is_dir() else []
JA = NOTEBOOKS / "ja"
PATHS += nbindex.notebooks(JA) if JA.is_dir() else []


def _shown(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type == "error":
            parts.append(f"{o.ename}: {o.evalue}")
        elif "data" in o:
            parts.append(str(o.data.get("text/plain", "")))
    return "".join(parts)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: str(p.relative_to(NOTEBOOKS)))
def test_every_check_passes_with_the_solutions(can_lab: None, path: Path) -> None:
    nb = solved(nbformat.read(path, as_version=4), path.stem)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # a cell that raises fails the test with its traceback
    checks = [(i, c) for i, c in enumerate(nb.cells) if CHECK_TAG in c.metadata.get("tags", [])]
    assert checks, f"{path.name}: no check cells"
    for i, cell in checks:
        shown = _shown(cell)
        assert "✔" in shown and "✘" not in shown and "not yet" not in shown, (
            f"{path.name} cell {i} ({cell['id']}): with the solution the check must pass: {shown!r}"
        )
        if path.parent == JA:  # Japanese, or no sentence at all ("c1 → veth…; c2 → veth…")
            prose = re.search(r"\b[a-z]{3,} [a-z]{3,}\b", shown)
            assert editions.is_japanese(shown) or not prose, f"ja/{path.name}: {shown!r}"
