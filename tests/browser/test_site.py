"""``python -m labkit.tools.site``: the static site of the tutorial (no browser, no lab)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from labkit.tools import nbindex, site

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytest.importorskip("nbconvert")


def test_rewrite_links() -> None:
    text = (
        '<a href="01-docker0-bridge.ipynb">a</a> <a href="02-x.ipynb#step-2">b</a> '
        '<a href="README.md">c</a> <a href="WORKSHOP.md">d</a> '
        '<a href="https://example.org/x.ipynb">e</a> <a href="#local">f</a> '
        "<a href='sub/03-y.ipynb?x=1'>g</a>"
    )
    out = site.rewrite_links(text)
    assert 'href="01-docker0-bridge.html"' in out
    assert 'href="02-x.html#step-2"' in out
    assert 'href="index.html"' in out
    assert 'href="WORKSHOP.html"' in out
    assert 'href="https://example.org/x.ipynb"' in out  # absolute links stay
    assert 'href="#local"' in out
    assert "href='sub/03-y.html?x=1'" in out


def _small_tutorial(folder: Path) -> None:
    """Two executed-looking notebooks linking to each other, an index and a figure."""
    folder.mkdir()
    for i, (name, nxt) in enumerate([("00-a", "01-b"), ("01-b", "00-a")]):
        nb = nbformat.v4.new_notebook()
        md = nbformat.v4.new_markdown_cell(
            f"# {name} title\n\nNext: [the other]({nxt}.ipynb) · [index](README.md)"
        )
        code = nbformat.v4.new_code_cell("print('docker0')", execution_count=1)
        code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"docker0 {i}\n")]
        nb.cells = [md, code]
        nbformat.write(nb, folder / f"{name}.ipynb")
    (folder / "README.md").write_text(
        "# Tiny tutorial\n\n| # | notebook |\n|---|---|\n| 00 | [A](00-a.ipynb) |\n"
    )
    (folder / "GUIDE.md").write_text("# Guide\n\nBack to [the index](README.md).\n")
    (folder / "figures").mkdir()
    (folder / "figures" / "f.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")


def test_build_small_site(tmp_path: Path) -> None:
    src, out = tmp_path / "nb", tmp_path / "site"
    _small_tutorial(src)
    written = site.build(src, out)
    names = sorted(p.name for p in written)
    assert names == ["00-a.html", "01-b.html", "GUIDE.html", "index.html"]
    assert (out / "figures" / "f.svg").exists()

    page = (out / "00-a.html").read_text()
    assert "docker0 0" in page  # the stored output
    assert 'href="01-b.html"' in page and 'href="index.html"' in page
    assert ".ipynb" not in " ".join(re.findall(r'href="([^"]*)"', page))
    assert "Live widgets" in page and "need a running lab" in page
    assert "<title>00-a title</title>" in page

    index = (out / "index.html").read_text()
    assert 'href="00-a.html"' in index  # linked by the README's table
    # pages the README does not link to are listed below it
    assert 'href="01-b.html"' in index and 'href="GUIDE.html"' in index
    assert "need a running lab" in index
    assert 'href="index.html"' in (out / "GUIDE.html").read_text()


@pytest.mark.skipif(not NOTEBOOKS.is_dir(), reason="no notebooks/ folder")
def test_build_the_tutorial(tmp_path: Path) -> None:
    src = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, src)
    out = tmp_path / "site"
    assert site.main([str(src), str(out)]) == 0
    index = (out / "index.html").read_text()
    for nb in nbindex.notebooks(NOTEBOOKS):
        page = out / f"{nb.stem}.html"
        assert page.exists(), page
        assert f'href="{page.name}"' in index, f"index has no link to {page.name}"
        text = page.read_text()
        hrefs = re.findall(r'href="([^"]*)"', text)
        local = [h for h in hrefs if not re.match(r"^[a-z]+:|^//|^#", h)]
        assert not [h for h in local if ".ipynb" in h or h.endswith(".md")], (page, local)
        for h in local:  # every relative link points at a page that was written
            assert (out / h.split("#")[0]).exists(), f"{page.name}: broken link {h}"
    if (NOTEBOOKS / "figures").is_dir():
        assert (out / "figures").is_dir()
