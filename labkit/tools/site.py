"""Build the tutorial as a static HTML site: ``python -m labkit.tools.site notebooks/ site/``.

* every ``NN-*.ipynb`` notebook becomes ``NN-*.html`` with its **stored** outputs (nothing is
  executed), through nbconvert's ``lab`` template, with a note at the top: the outputs come
  from a real run, and live widgets need a running lab (ipywidgets' state is not stored);
* ``README.md`` becomes ``index.html`` and every other ``*.md`` of the folder (the workshop
  guide) ``<name>.html``, rendered with nbconvert's own markdown filter (mistune, which
  Jupyter ships: no extra package);
* links between them are rewritten: ``x.ipynb`` → ``x.html``, ``README.md`` →
  ``index.html``, ``y.md`` → ``y.html`` (relative links only; anchors are kept);
* ``figures/`` is copied as it is;
* an edition sub-folder (``notebooks/ja/``, the Japanese edition) becomes ``site/ja/``, built
  the same way with its notes in Japanese; the two indexes link to each other.

The index lists any page its README does not already link to. The output folder is
created; files in it with the same names are overwritten, others are left alone.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from labkit.tools import nbindex

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

INDEX_SOURCE = "README.md"
FIGURES = "figures"

INDEX_NOTE = (
    "These pages are static copies of the notebooks: their outputs were stored from a real "
    "run, and nothing runs in your browser. Live widgets (the lab panel of "
    "<code>labkit.widgets.Panel</code>) need a running lab and kernel: open the notebooks "
    "with <code>make lab</code> to run them."
)
LIVE_NOTE = (
    "A static copy of a labkit notebook: the outputs below were stored from a real run. "
    "Live widgets (the lab panel of <code>labkit.widgets.Panel</code>) need a running lab "
    "and kernel: their state is not stored, so they do not appear here. Run the notebook "
    "yourself with <code>make lab</code>."
)
INDEX_NOTE_JA = (
    "これらのページはノートブックの静的なコピーです。出力は実際の実行で保存されたもので、"
    "ブラウザの中では何も動きません。ライブのウィジェット (<code>labkit.widgets.Panel</code> "
    "のラボパネル) には動いているラボとカーネルが必要です。<code>make lab</code> で"
    "ノートブックを開いて実行してください。"
)
LIVE_NOTE_JA = (
    "labkit ノートブックの静的なコピーです。以下の出力は実際の実行で保存されたものです。"
    "ライブのウィジェット (<code>labkit.widgets.Panel</code> のラボパネル) は動いている"
    "ラボとカーネルが必要で、その状態は保存されないため、ここには表示されません。"
    "<code>make lab</code> で自分で実行してみてください。"
)
NOTE_STYLE = (
    "margin: 8px auto; max-width: 1100px; padding: 8px 12px; border-left: 4px solid #1c7ed6; "
    "background: #e7f5ff; color: #1b1b1b; font: 14px/1.45 system-ui, sans-serif;"
)

# href="…" / src="…" pointing at a sibling notebook or markdown file (no scheme, no //)
_LINK = re.compile(
    r"""(?P<attr>\bhref=)(?P<q>["'])(?P<path>(?![a-zA-Z][\w+.-]*:|//|#)[^"'#?]*?)"""
    r"""(?P<ext>\.ipynb|\.md)(?P<rest>[#?][^"']*)?(?P=q)"""
)


def page_name(source: str) -> str:
    """The page a relative link to ``source`` (a notebook or markdown file) becomes."""
    path, _, name = source.rpartition("/")
    prefix = f"{path}/" if path else ""
    if name == INDEX_SOURCE:
        return prefix + "index.html"
    stem = name.rsplit(".", 1)[0]
    return f"{prefix}{stem}.html"


def rewrite_links(text: str) -> str:
    """Point relative ``.ipynb`` / ``.md`` links at the pages they become."""

    def sub(m: re.Match[str]) -> str:
        target = page_name(m["path"] + m["ext"])
        return f"{m['attr']}{m['q']}{target}{m['rest'] or ''}{m['q']}"

    return _LINK.sub(sub, text)


def _exporter() -> HTMLExporter:
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab")


def _nb_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    try:
        return nbindex.title_of(nb)
    except ValueError:
        return fallback


def notebook_page(path: Path, exporter: HTMLExporter | None = None, lang: str = "en") -> str:
    """One notebook as a full HTML page, from its stored outputs."""
    exporter = exporter or _exporter()
    nb = nbformat.read(path, as_version=4)
    title = _nb_title(nb, path.stem)
    body: str
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    live = LIVE_NOTE_JA if lang == "ja" else LIVE_NOTE
    note = f'<div class="labkit-static-note" style="{NOTE_STYLE}">{live}</div>'
    body = re.sub(r"(<body\b[^>]*>)", lambda m: m[1] + "\n" + note, body, count=1)
    return rewrite_links(body)


def markdown_html(text: str) -> str:
    """Markdown to an HTML fragment (nbconvert's filter), with links rewritten."""
    from nbconvert.filters.markdown import markdown2html

    return rewrite_links(markdown2html(text))


def markdown_page(text: str, title: str, extra: str = "", lang: str = "en") -> str:
    """A markdown document as a small standalone HTML page."""
    content = markdown_html(text)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
  body {{ max-width: 980px; margin: 24px auto; padding: 0 16px; color: #1b1b1b;
         font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; }}
  code, pre {{ font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 90%; }}
  pre {{ background: #f6f8fa; padding: 10px 12px; overflow-x: auto; }}
  table {{ border-collapse: collapse; }}
  th, td {{ border: 1px solid #d0d7de; padding: 6px 10px; vertical-align: top; text-align: left; }}
  a.anchor-link {{ display: none; }}
  .labkit-static-note {{ {NOTE_STYLE} margin: 16px 0; }}
</style>
</head>
<body>
{content}
{extra}
</body>
</html>
"""


def _title_of_markdown(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def build(src: Path, out: Path, *, verbose: bool = False) -> list[Path]:
    """Write the site for the notebooks in ``src`` into ``out``; returns the pages written."""
    if not src.is_dir():
        raise FileNotFoundError(f"no notebook folder {src}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lang = nbindex.language_of(src)
    exporter = _exporter()
    pages: list[tuple[str, str]] = []  # (file name, title) of the notebook pages
    for nb_path in nbindex.notebooks(src):
        t0 = time.perf_counter()
        target = out / page_name(nb_path.name)
        target.write_text(notebook_page(nb_path, exporter, lang), encoding="utf-8")
        written.append(target)
        title = _nb_title(nbformat.read(nb_path, as_version=4), nb_path.stem)
        pages.append((target.name, title))
        if verbose:
            print(f"{nb_path.name} -> {target} ({time.perf_counter() - t0:.1f} s)")

    docs: list[tuple[str, str]] = []
    for md in sorted(src.glob("*.md")):
        if md.name == INDEX_SOURCE:
            continue
        text = md.read_text(encoding="utf-8")
        title = _title_of_markdown(text, md.stem)
        target = out / page_name(md.name)
        target.write_text(markdown_page(text, title, lang=lang), encoding="utf-8")
        written.append(target)
        docs.append((target.name, title))
        if verbose:
            print(f"{md.name} -> {target}")

    readme = src / INDEX_SOURCE
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# labkit tutorial\n"
    linked = set(re.findall(r'href="([^"#?]+)', markdown_html(text)))
    missing = [(n, t) for n, t in [*pages, *docs] if n not in linked]
    extra = ""
    if missing:
        items = "".join(
            f'<li><a href="{html.escape(n)}">{html.escape(t)}</a></li>' for n, t in missing
        )
        extra += f"<h2>{'ページ' if lang == 'ja' else 'Pages'}</h2>\n<ul>{items}</ul>\n"
    extra += (
        f'<div class="labkit-static-note">{INDEX_NOTE_JA if lang == "ja" else INDEX_NOTE}</div>\n'
    )
    index = out / "index.html"
    index.write_text(
        markdown_page(text, _title_of_markdown(text, "labkit tutorial"), extra, lang),
        encoding="utf-8",
    )
    written.append(index)

    figures = src / FIGURES
    if figures.is_dir():
        shutil.copytree(figures, out / FIGURES, dirs_exist_ok=True)
        if verbose:
            print(f"{figures} -> {out / FIGURES}")
    for edition in nbindex.editions(src)[1:]:
        written += build(edition, out / edition.name, verbose=verbose)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m labkit.tools.site",
        description="Build the tutorial as static HTML pages (stored outputs, no execution).",
    )
    ap.add_argument("src", type=Path, help="the notebooks folder, e.g. notebooks/")
    ap.add_argument("out", type=Path, help="where to write the site, e.g. site/")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        written = build(args.src, args.out, verbose=True)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - t0
    print(f"{len(written)} pages in {args.out}/ ({took:.1f} s); open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
