"""Execute the tutorial's notebooks in place and store their real outputs.

``python -m labkit.tools.run_notebooks notebooks/`` (or single ``.ipynb`` files) runs every
notebook of both editions (``notebooks/`` and the Japanese ``notebooks/ja/``; give
``notebooks/ja/`` for that edition alone, or ``--no-editions`` for the English one alone)
with nbclient on the ``python3`` kernel of this environment (timeout 120 s per cell), writes
the outputs back, prints the time each took and the total, and fails when a cell raised or
when any code cell is left without an execution count (nbval silently skips such cells, so
they would never be tested). The index and navigation links are refreshed first
(:mod:`labkit.tools.nbindex`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labkit.tools import nbindex

CELL_TIMEOUT = 120


def expand(targets: list[Path], *, editions: bool = True) -> list[Path]:
    """The notebooks to run: files as given, folders with their edition sub-folders."""
    out: list[Path] = []
    for t in targets:
        if not t.is_dir():
            out.append(t)
            continue
        for folder in nbindex.editions(t) if editions else [t]:
            out.extend(nbindex.notebooks(folder))
    return out


def unexecuted(nb: nbformat.NotebookNode) -> list[int]:
    """Indexes of code cells that have no stored execution count."""
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.source.strip() and c.get("execution_count") is None
    ]


def run_one(path: Path, kernel: str = "python3") -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        nbformat.write(nb, path)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", type=Path, default=[Path("notebooks")])
    ap.add_argument("--kernel", default="python3")
    ap.add_argument("--no-index", action="store_true", help="leave README.md and links alone")
    ap.add_argument(
        "--no-editions", action="store_true", help="a folder's notebooks only, not its ja/"
    )
    args = ap.parse_args(argv)
    folders = {t if t.is_dir() else t.parent for t in args.targets}
    if not args.no_index:
        for f in sorted(folders):
            for p in nbindex.update(f):
                print(f"index: wrote {p}")
    failed: list[str] = []
    total = 0.0
    for path in expand(args.targets, editions=not args.no_editions):
        try:
            dt = run_one(path, args.kernel)
        except CellExecutionError as exc:
            failed.append(f"{path}: a cell raised\n{str(exc)[-2000:]}")
            print(f"FAIL  {path}")
            continue
        total += dt
        missing = unexecuted(nbformat.read(path, as_version=4))
        if missing:
            failed.append(f"{path}: code cells without an execution count: {missing}")
        print(f"{dt:6.1f} s  {path}")
    print(f"{total:6.1f} s  total")
    for f in failed:
        print(f, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
