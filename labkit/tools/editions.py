"""Keep the Japanese edition (``notebooks/ja/``) in step with the English one (``notebooks/``).

The two editions share their code: every code cell of a Japanese notebook is the English
cell, byte for byte, with the same cell id. The one exception is the first code cell,
which starts with :data:`LANG_LINE` so that labkit's own labels (diagrams, tables) come
out in Japanese. The prose is the edition's own: each Japanese markdown cell carries the
id of the English cell it translates and, in its metadata, a fingerprint of the English
text it was translated from (``metadata.labkit.en``). Cells whose id starts with ``ja-``
are the edition's own additions (a note for the article's readers, say) and are kept
where they are.

``python -m labkit.tools.editions notebooks/ notebooks/ja/`` (``sync``) rewrites the
Japanese notebooks from the English ones:

* code cells are copied from English (their stored outputs are kept when the code did not
  change, else cleared: run ``python -m labkit.tools.run_notebooks notebooks/ja/``);
* a markdown cell is kept when its fingerprint matches the English text; a changed one is
  kept too but reported (``changed``); a new one is inserted in English, marked, and
  reported (``new``); a Japanese cell whose English cell is gone is dropped (``gone``);
* a new English notebook gets a Japanese copy, every markdown cell of it reported.

``--check`` changes nothing and exits 1 when anything is out of step (tests run it).
After translating a reported cell, ``--accept NN:ID`` (or ``--accept NN``, a whole
notebook) records the English text it now matches.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labkit.tools import nbindex

LANG_LINE = 'import labkit; labkit.set_language("ja")  # 図や表のラベルを日本語に'
"""The one line the Japanese edition adds, at the top of each notebook's first code cell."""

UNTRANSLATED = "<!-- 翻訳待ち: labkit.tools.editions -->"
"""The marker on an English cell inserted into a Japanese notebook, until it is translated."""

OWN_PREFIX = "ja-"
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def fingerprint(source: str) -> str:
    """A short, stable fingerprint of an English cell's text."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def ja_code(en_source: str, first: bool) -> str:
    """The Japanese edition's text of a code cell."""
    return f"{LANG_LINE}\n{en_source}" if first else en_source


def is_japanese(text: str) -> bool:
    """The text has kana or kanji (so it was translated)."""
    return bool(_JAPANESE.search(text))


@dataclass
class Report:
    """What a sync found (or would change, with ``check``)."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def in_step(self) -> bool:
        return not (self.new or self.changed or self.gone or self.code)

    def lines(self) -> list[str]:
        out = [f"new (translate it): {c}" for c in self.new]
        out += [f"changed in English (update the translation): {c}" for c in self.changed]
        out += [f"gone from English (dropped): {c}" for c in self.gone]
        out += [f"code differs from English (copied): {c}" for c in self.code]
        return out


def _is_nav(cell: nbformat.NotebookNode) -> bool:
    return nbindex.NAV_TAG in cell.get("metadata", {}).get("tags", [])


def _stamp(cell: nbformat.NotebookNode) -> str | None:
    return (cell.get("metadata", {}).get("labkit") or {}).get("en")


def _set_stamp(cell: nbformat.NotebookNode, value: str) -> None:
    cell.setdefault("metadata", {}).setdefault("labkit", {})["en"] = value


def sync_one(
    en_path: Path, ja_path: Path, report: Report, accept: set[str] | None = None
) -> nbformat.NotebookNode:
    """The Japanese notebook for ``en_path``, built from its current Japanese version."""
    en = nbformat.read(en_path, as_version=4)
    ja: nbformat.NotebookNode = (
        nbformat.read(ja_path, as_version=4)
        if ja_path.exists()
        else nbformat.v4.new_notebook(
            metadata={k: v for k, v in en.metadata.items() if k != "widgets"}
        )
    )
    stem = en_path.name[:2]
    accept = accept or set()
    old = {c.get("id"): c for c in ja.cells if not _is_nav(c)}
    # the edition's own cells, anchored after the cell before them
    own: dict[str | None, list[nbformat.NotebookNode]] = {}
    before: str | None = None
    for c in ja.cells:
        if _is_nav(c):
            continue
        if str(c.get("id", "")).startswith(OWN_PREFIX):
            own.setdefault(before, []).append(c)
        else:
            before = c.get("id")
    cells: list[nbformat.NotebookNode] = list(own.get(None, []))
    first_code = True
    en_ids = set()
    for ec in en.cells:
        if _is_nav(ec):
            continue
        cid = ec.get("id")
        en_ids.add(cid)
        where = f"{ja_path.name}:{cid}"
        prev = old.get(cid)
        if ec.cell_type == "code":
            want = ja_code(ec.source, first_code)
            first_code = False
            if prev is not None and prev.cell_type == "code" and prev.source == want:
                cell = prev
                cell.metadata = dict(ec.metadata)
            else:
                if prev is not None:
                    report.code.append(where)
                cell = nbformat.v4.new_code_cell(want, metadata=dict(ec.metadata))
                cell["id"] = cid
        elif ec.cell_type == "markdown":
            fp = fingerprint(ec.source)
            if prev is None or prev.cell_type != "markdown":
                cell = nbformat.v4.new_markdown_cell(
                    f"{UNTRANSLATED}\n{ec.source}", metadata=dict(ec.metadata)
                )
                cell["id"] = cid
                _set_stamp(cell, "")
                report.new.append(where)
            else:
                cell = prev
                if _stamp(cell) != fp:
                    if (stem in accept or f"{stem}:{cid}" in accept) and UNTRANSLATED not in (
                        cell.source
                    ):
                        _set_stamp(cell, fp)
                    else:
                        report.changed.append(where)
        else:
            cell = ec
        cells.append(cell)
        cells.extend(own.get(cid, []))
    for cid in old:
        if cid not in en_ids and not str(cid).startswith(OWN_PREFIX):
            report.gone.append(f"{ja_path.name}:{cid}")
    nav = [c for c in ja.cells if _is_nav(c)]
    ja.cells = cells + nav
    # the notebook's own metadata stays (a run stores its widgets' state there); the kernel
    # is the English edition's
    for key in ("kernelspec", "language_info"):
        if key in en.metadata:
            ja.metadata[key] = en.metadata[key]
    return ja


def sync(
    en_dir: Path, ja_dir: Path, *, check: bool = False, accept: set[str] | None = None
) -> Report:
    """Bring every Japanese notebook in step with English (or only report, with ``check``)."""
    report = Report()
    ja_dir.mkdir(parents=True, exist_ok=True) if not check else None
    en_names = {p.name for p in nbindex.notebooks(en_dir)}
    for ja_path in nbindex.notebooks(ja_dir) if ja_dir.is_dir() else []:
        if ja_path.name not in en_names:
            report.gone.append(ja_path.name)
    for en_path in nbindex.notebooks(en_dir):
        ja_path = ja_dir / en_path.name
        if not ja_path.exists():
            report.new.append(f"{ja_path.name} (the whole notebook)")
        nb = sync_one(en_path, ja_path, report, accept)
        text = nbformat.writes(nb) + "\n"
        if not ja_path.exists() or ja_path.read_text() != text:
            report.files.append(ja_path)
            if not check:
                ja_path.write_text(text)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m labkit.tools.editions",
        description="Keep notebooks/ja/ in step with notebooks/ (code copied, prose reported).",
    )
    ap.add_argument("en", nargs="?", default=Path("notebooks"), type=Path)
    ap.add_argument("ja", nargs="?", default=Path("notebooks/ja"), type=Path)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of step")
    ap.add_argument(
        "--accept",
        action="append",
        default=[],
        metavar="NN[:ID]",
        help="record that the Japanese cell ID of notebook NN (or all its cells) is translated",
    )
    args = ap.parse_args(argv)
    report = sync(args.en, args.ja, check=args.check, accept=set(args.accept))
    for line in report.lines():
        print(line)
    if not args.check:
        for p in report.files:
            print(f"wrote {p}")
        if report.files:
            for p in nbindex.update(args.ja):
                print(f"index: wrote {p}")
    elif report.files and report.in_step:
        print("Japanese notebooks differ from a fresh sync: run python -m labkit.tools.editions")
    if args.check:
        return 0 if report.in_step and not report.files else 1
    return 0 if report.in_step else 1


if __name__ == "__main__":
    sys.exit(main())
