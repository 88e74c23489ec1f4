"""The tutorial's exercises, solved: one place for every solution, and a way to apply them.

Each exercise in ``notebooks/NN-*.ipynb`` is a code cell tagged ``exercise`` that ships with a
placeholder (``...``); its check is the next cell tagged ``check``. The solutions live in
:mod:`labkit.tutorial.solutions`, keyed by notebook and cell id; :func:`solved` returns a copy
of a notebook with every exercise cell replaced by its solution. The notebooks show the same
solution in a collapsed ``<details>`` block, which :func:`details` writes.
"""

from __future__ import annotations

from labkit.tutorial.solutions import SOLUTIONS, details, exercise_cells, solved

__all__ = ["SOLUTIONS", "details", "exercise_cells", "solved"]
