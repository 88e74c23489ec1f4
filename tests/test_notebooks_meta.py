"""The tutorial notebooks are stored executed, error-free, titled and indexed, with exercises
that ship unsolved (solution collapsed, check saying "not yet") and an ending.

nbval (``pytest --nbval notebooks/``) re-runs the notebooks and compares outputs, but it
silently skips a code cell that has no stored execution, and it happily accepts a stored
traceback as the "expected" output. These checks close those gaps; they need no lab.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from labkit.tools import nbindex
from labkit.tutorial.solutions import CHECK_TAG, EXERCISE_TAG, SOLUTIONS, exercise_cells

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


# ------------------------------------------------------------------ exercises (issue #13)
def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _text(cell: nbformat.NotebookNode) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text)
        elif "data" in o:
            out.append(str(o.data.get("text/plain", "")) + str(o.data.get("text/html", "")))
    return "".join(out)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_notebook_has_an_exercise_with_its_solution(path: Path) -> None:
    nb = _read(path)
    cells = exercise_cells(nb)
    assert cells, f"{path.name}: no cell tagged {EXERCISE_TAG!r}"
    mine = SOLUTIONS.get(path.stem, {})
    ids = [c["id"] for c in cells]
    assert sorted(ids) == sorted(mine), (
        f"{path.name}: exercise cells {ids} but solutions for {sorted(mine)} "
        "(labkit/tutorial/solutions.py)"
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_exercises_ship_unsolved_with_a_check_and_a_collapsed_solution(path: Path) -> None:
    nb = _read(path)
    for i, cell in enumerate(nb.cells):
        if EXERCISE_TAG not in _tags(cell):
            continue
        where = f"{path.name} cell {i} ({cell['id']})"
        solution = SOLUTIONS[path.stem][cell["id"]]
        assert "..." in cell.source, f"{where}: an exercise ships with a ... placeholder"
        assert cell.source.strip() != solution.strip(), f"{where}: the exercise ships solved"
        after = nb.cells[i + 1 : i + 4]
        checks = [c for c in after if CHECK_TAG in _tags(c)]
        assert checks, f"{where}: no cell tagged {CHECK_TAG!r} right after the exercise"
        blocks = [c.source for c in after if c.cell_type == "markdown" and "<details>" in c.source]
        assert blocks, f"{where}: no collapsed <details> solution right after the exercise"
        assert f"```python\n{solution}\n```" in blocks[0], (
            f"{where}: the <details> solution differs from SOLUTIONS[{path.stem!r}]"
            f"[{cell['id']!r}]; write it with labkit.tutorial.details()"
        )
        # the shipped (unsolved) check says "not yet" and never that it passed
        for check in checks:
            shown = _text(check)
            assert "not yet" in shown and "✔" not in shown, (
                f"{where}: the stored check must say 'not yet' for the unsolved exercise: {shown!r}"
            )


def test_troubleshooting_names_no_fault_before_its_check_passes() -> None:
    """Notebook 11's stored (unsolved) outputs show no exercise's title or state facts."""
    from labkit import exercises

    nb = _read(NOTEBOOKS / "11-troubleshooting.ipynb")
    shown = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    for ex in exercises.EXERCISES.values():
        assert ex.title not in shown, f"notebook 11 names the fault {ex.title!r} before it is fixed"
    assert "exercises.get(" not in "\n".join(c.source for c in nb.cells), (
        "notebook 11 must pick faults by number (exercises.fault(n)), not by their names"
    )


# ------------------------------------------------------------------ endings (issue #13)
def _ending(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if nbindex.NAV_TAG not in _tags(c)]
    return cells[-1]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_notebook_ends_with_a_recap_a_real_host_and_the_next_step(path: Path) -> None:
    end = _ending(_read(path))
    text = end.source
    assert end.cell_type == "markdown" and text.startswith("## Recap"), (
        f"{path.name}: the last cell before the navigation must be the ending, '## Recap' first"
    )
    recap = text.split("## On a real Docker host")[0].splitlines()
    bullets = [ln for ln in recap if ln.startswith("- ")]
    assert 3 <= len(bullets) <= 5, f"{path.name}: the recap has {len(bullets)} lines, not 3 to 5"
    assert "## On a real Docker host" in text and "```sh" in text, (
        f"{path.name}: no 'On a real Docker host' section with the commands in a sh block"
    )
    assert any(w in text for w in ("docker ", "nsenter ", "ip ", "iptables ")), path.name
    later = PATHS[PATHS.index(path) + 1 :]
    target = f"({later[0].name})" if later else "(README.md)"
    assert target in text.splitlines()[-1], (
        f"{path.name}: the ending's last line must link to {target.strip('()')}"
    )


# ------------------------------------------------------------------ the article's claims (issue #9)
CLAIMS = {
    "01-docker0-bridge": ["docker0 is a bridge device"],
    "03-container-view": ["eth0 is really a veth", "the default gateway is docker0's address"],
    "04-ip-allocation": ["each container got an address of its own"],
    "05-container-to-container": ["the same packet, unchanged, at all five points"],
    "06-nat-masquerade": ["the request's source is the container's inside the host"],
    "07-links": ["the link gave c2 c1's address"],
}


@pytest.mark.parametrize("stem", sorted(CLAIMS))
def test_the_articles_claims_are_asserted_in_code(stem: str) -> None:
    """Each claim the article makes is an assert next to the output that shows it, so nbval
    fails when the lab stops doing what the article says."""
    cells = [c.source for c in _read(NOTEBOOKS / f"{stem}.ipynb").cells if c.cell_type == "code"]
    for claim in CLAIMS[stem]:
        mine = [src for src in cells if f"# the article's claim in code: {claim}" in src]
        assert mine and "assert " in mine[0], f"{stem}: no assert for the claim {claim!r}"
