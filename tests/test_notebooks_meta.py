"""The tutorial notebooks are stored executed, error-free, titled and indexed.

nbval (``pytest --nbval notebooks/``) re-runs the notebooks and compares outputs, but it
silently skips a code cell that has no stored execution, and it happily accepts a stored
traceback as the "expected" output. These checks close those gaps; they need no lab.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from labkit.tools import nbindex

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = nbindex.notebooks(NOTEBOOKS) if NOTEBOOKS.is_dir() else []


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks() -> None:
    assert PATHS, f"no NN-name.ipynb notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_code_cell_was_executed(path: Path) -> None:
    nb = _read(path)
    missing = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.source.strip() and c.get("execution_count") is None
    ]
    assert not missing, (
        f"{path.name}: code cells {missing} have no stored execution (nbval would skip them); "
        "run: python -m labkit.tools.run_notebooks notebooks/"
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_execution_counts_run_in_order(path: Path) -> None:
    counts = [c.execution_count for c in _read(path).cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts} are not 1, 2, 3, …; re-run it top to bottom"
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_no_error_outputs(path: Path) -> None:
    bad = []
    for i, c in enumerate(_read(path).cells):
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            text = o.get("text", "") if o.output_type == "stream" else ""
            if o.output_type == "error" or "Traceback (most recent call last)" in text:
                bad.append(i)
    assert not bad, f"{path.name}: cells {bad} store an error or a traceback"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_first_cell_is_a_title(path: Path) -> None:
    first = _read(path).cells[0]
    assert first.cell_type == "markdown", f"{path.name}: the first cell must be markdown"
    assert first.source.startswith("# "), f"{path.name}: the first cell must start with '# '"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_a_lab_is_closed_at_the_end(path: Path) -> None:
    code = [c.source for c in _read(path).cells if c.cell_type == "code"]
    assert code and "lab.close()" in code[-1], f"{path.name}: the last code cell must close the lab"


def test_index_and_navigation_are_up_to_date() -> None:
    stale = nbindex.stale(NOTEBOOKS)
    assert not stale, (
        f"out of date: {[p.name for p in stale]}; run: python -m labkit.tools.nbindex notebooks/"
    )
