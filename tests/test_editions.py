"""The Japanese edition (notebooks/ja/) keeps step with the English one (notebooks/).

Code cells are byte-identical to English (same ids, same order); the one allowed
difference is the line ``labkit.tools.editions.LANG_LINE`` on top of each notebook's first
code cell, which makes labkit's own labels Japanese. Prose is Japanese, translated from the
English text the cell carries the fingerprint of, and each notebook ends with a まとめ.
Nothing here starts a lab: it reads the notebooks as stored.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from labkit.tools import editions, nbindex

ROOT = Path(__file__).resolve().parents[1]
EN = ROOT / "notebooks"
JA = EN / "ja"
EN_NAMES = [p.name for p in nbindex.notebooks(EN)]
TERMS = ["仮想ブリッジ", "veth ペア", "IP マスカレード", "リンク"]


def cells(path: Path, kind: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [
        c
        for c in nb.cells
        if c.cell_type == kind and nbindex.NAV_TAG not in c.metadata.get("tags", [])
    ]


def test_same_notebooks_in_both_editions() -> None:
    assert EN_NAMES, "no English notebooks"
    assert [p.name for p in nbindex.notebooks(JA)] == EN_NAMES


@pytest.mark.parametrize("name", EN_NAMES)
def test_code_cells_are_the_english_ones(name: str) -> None:
    en, ja = cells(EN / name, "code"), cells(JA / name, "code")
    assert [c.id for c in ja] == [c.id for c in en], "code cells differ in ids or order"
    first, *rest = ja
    assert first.source.split("\n", 1)[0] == editions.LANG_LINE, "first cell: no set_language"
    assert first.source == f"{editions.LANG_LINE}\n{en[0].source}"
    for j, e in zip(rest, en[1:], strict=True):
        assert j.source == e.source, f"{name}:{j.id} differs from the English cell"


@pytest.mark.parametrize("name", EN_NAMES)
def test_prose_is_japanese_and_translated_from_the_current_english(name: str) -> None:
    en = {c.id: c for c in cells(EN / name, "markdown")}
    ja = {c.id: c for c in cells(JA / name, "markdown")}
    missing = sorted(set(en) - set(ja))
    assert not missing, f"{name}: markdown cells not in the Japanese edition: {missing}"
    for cid, e in en.items():
        j = ja[cid]
        assert editions.UNTRANSLATED not in j.source, f"{name}:{cid} is not translated yet"
        assert editions.is_japanese(j.source), f"{name}:{cid} has no Japanese text"
        stamp = (j.metadata.get("labkit") or {}).get("en")
        assert stamp == editions.fingerprint(e.source), (
            f"{name}:{cid}: the English text changed since it was translated; update the "
            "translation, then python -m labkit.tools.editions --accept "
            f"{name[:2]}:{cid}"
        )


@pytest.mark.parametrize("name", EN_NAMES)
def test_every_notebook_ends_with_a_matome_a_real_host_and_the_next_step(name: str) -> None:
    """The Japanese ending mirrors the English one (tests/test_notebooks_meta.py): a まとめ
    of three to five lines, 実際の Docker ホストでは with the commands, and the next link."""
    end = cells(JA / name, "markdown")[-1]
    text = end.source
    assert text.startswith("## まとめ"), f"{name}: the last cell must be the ending, まとめ first"
    recap = text.split("## 実際の Docker ホストでは")[0].splitlines()
    bullets = [ln for ln in recap if ln.startswith("- ")]
    assert 3 <= len(bullets) <= 5, f"{name}: the まとめ has {len(bullets)} lines, not 3 to 5"
    assert "## 実際の Docker ホストでは" in text and "```sh" in text, (
        f"{name}: no 実際の Docker ホストでは section with the commands in a sh block"
    )
    assert any(w in text for w in ("docker ", "nsenter ", "ip ", "iptables ")), name
    later = EN_NAMES[EN_NAMES.index(name) + 1 :]
    target = f"({later[0]})" if later else "(README.md)"
    assert target in text.splitlines()[-1], f"{name}: the last line must link to {target}"


@pytest.mark.parametrize("name", EN_NAMES)
def test_checks_answer_in_japanese(name: str) -> None:
    """labkit's own sentences in a check's stored output (✘ まだです — ヒント: …) are
    Japanese: the hint is prose for the learner, even though the cell's code is English."""
    nb = nbformat.read(JA / name, as_version=4)
    checked = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    for c in checked:
        shown = "".join(
            o.get("text", "") or str(o.get("data", {}).get("text/plain", "")) for o in c.outputs
        )
        assert "✘" in shown or "✔" in shown, f"{name}:{c.id}: no verdict stored"
        assert "not yet" not in shown and "hint:" not in shown, f"{name}:{c.id}: {shown!r}"
        assert editions.is_japanese(shown), f"{name}:{c.id} answers in English: {shown!r}"


@pytest.mark.parametrize("name", EN_NAMES)
def test_stored_outputs_come_from_a_run_of_the_japanese_notebook(name: str) -> None:
    code = cells(JA / name, "code")
    assert all(c.execution_count is not None for c in code if c.source.strip())
    # a Japanese diagram or table shows that labkit.set_language("ja") ran before it
    html = "".join(
        str(o.get("data", {}).get("image/svg+xml", ""))
        + str(o.get("data", {}).get("text/html", ""))
        for c in code
        for o in c.get("outputs", [])
    )
    if "Docker host" in html or "Docker ホスト" in html:
        assert "Docker ホスト" in html and "Docker host" not in html


def test_the_article_its_terms_and_a_glossary() -> None:
    text = (
        "\n".join(c.source for name in EN_NAMES for c in cells(JA / name, "markdown"))
        + (JA / "README.md").read_text()
    )
    for term in TERMS:
        assert term in text, term
    assert "@Arturias" in text and "Qiita" in text
    index = (JA / "README.md").read_text()
    assert "参考サイト" in index and "glossary.md" in index and "../README.md" in index
    glossary = (JA / "glossary.md").read_text()
    for term in TERMS:
        assert term in glossary, term
    assert "ja/README.md" in (EN / "README.md").read_text()


def test_editions_are_in_step() -> None:
    report = editions.sync(EN, JA, check=True)
    assert report.in_step, "\n".join(report.lines())
    assert not report.files, f"run python -m labkit.tools.editions: {report.files}"
    assert not nbindex.stale(EN), "run python -m labkit.tools.nbindex notebooks/"


def test_sync_copies_code_and_reports_prose(tmp_path: Path) -> None:
    """The tool on a small pair: code copied, new/changed prose reported, own cells kept."""
    en_dir, ja_dir = tmp_path / "en", tmp_path / "en" / "ja"
    en_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · Title\n\nHello.", id="m0"),
        nbformat.v4.new_code_cell("x = 1", id="k0"),
        nbformat.v4.new_markdown_cell("More.", id="m1"),
        nbformat.v4.new_code_cell("x", id="k1"),
    ]
    nbformat.write(nb, en_dir / "00-a.ipynb")
    first = editions.sync(en_dir, ja_dir)
    assert sorted(first.new) == [
        "00-a.ipynb (the whole notebook)",
        "00-a.ipynb:m0",
        "00-a.ipynb:m1",
    ]
    ja = nbformat.read(ja_dir / "00-a.ipynb", as_version=4)
    assert [c.source for c in ja.cells if c.cell_type == "code"] == [
        f"{editions.LANG_LINE}\nx = 1",
        "x",
    ]
    # translate both cells, add a cell of the edition's own, and accept
    for c in ja.cells:
        if c.cell_type == "markdown":
            c.source = "# 00 · 題\n\nこんにちは。" if c.id == "m0" else "もっと。"
    own = nbformat.v4.new_markdown_cell("記事の読者へ。", id="ja-note")
    ja.cells.insert(1, own)
    nbformat.write(ja, ja_dir / "00-a.ipynb")
    editions.sync(en_dir, ja_dir, accept={"00"})
    assert editions.sync(en_dir, ja_dir, check=True).in_step
    # English changes: a sentence and a line of code
    nb.cells[2].source = "More, and better."
    nb.cells[3].source = "print(x)"
    nbformat.write(nb, en_dir / "00-a.ipynb")
    check = editions.sync(en_dir, ja_dir, check=True)
    assert check.changed == ["00-a.ipynb:m1"] and check.code == ["00-a.ipynb:k1"]
    editions.sync(en_dir, ja_dir)
    ja = nbformat.read(ja_dir / "00-a.ipynb", as_version=4)
    assert [c.id for c in ja.cells][:2] == ["m0", "ja-note"]
    assert ja.cells[-1].source == "print(x)"
    assert ja.cells[3].source == "もっと。"  # kept, still reported until accepted
    assert editions.sync(en_dir, ja_dir, check=True).changed == ["00-a.ipynb:m1"]


def test_run_index_and_site_cover_both_editions(tmp_path: Path) -> None:
    from labkit.tools import run_notebooks, site

    runs = run_notebooks.expand([EN])
    assert [p.name for p in runs] == EN_NAMES + EN_NAMES
    assert runs[len(EN_NAMES)].parent == JA
    assert run_notebooks.expand([EN], editions=False) == runs[: len(EN_NAMES)]
    assert run_notebooks.expand([JA]) == runs[len(EN_NAMES) :]
    nav = cells(JA / EN_NAMES[0], "markdown")
    last = nbformat.read(JA / EN_NAMES[0], as_version=4).cells[-1]
    assert "[目次](README.md)" in last.source and nav[-1] is not last

    written = site.build(EN, tmp_path)
    assert tmp_path / "ja" / "index.html" in written
    assert tmp_path / "ja" / "glossary.html" in written
    en_index = (tmp_path / "index.html").read_text()
    ja_index = (tmp_path / "ja" / "index.html").read_text()
    assert 'href="ja/index.html"' in en_index
    assert 'href="../index.html"' in ja_index and 'href="glossary.html"' in ja_index
    assert '<html lang="ja">' in ja_index
    page = (tmp_path / "ja" / EN_NAMES[1].replace(".ipynb", ".html")).read_text()
    assert "静的なコピー" in page and "Docker ホスト" in page


# --- the instructors' guide: notebooks/WORKSHOP.md and its Japanese edition ---------------

GUIDE_EN = EN / "WORKSHOP.md"
GUIDE_JA = JA / "WORKSHOP.md"
FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.M | re.S)
NUMBERED_HEADING = re.compile(r"^(#{1,6})\s+(\d+(?:\.\d+)*\.?)\s", re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def fenced_blocks(text: str) -> list[str]:
    """The guide's fenced code blocks, fences included, in order."""
    return FENCE.findall(text)


def prose_of(text: str) -> str:
    """The guide without its fenced code blocks."""
    return FENCE.sub("", text)


def heading_numbers(text: str) -> list[tuple[str, str]]:
    """(level, number) of each numbered heading outside code: ("##", "1."), ("###", "3.1")."""
    return NUMBERED_HEADING.findall(prose_of(text))


def relative_links(text: str) -> list[str]:
    """The targets of the prose's markdown links that are not URLs or in-page anchors."""
    return [
        t
        for t in LINK.findall(prose_of(text))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")
    ]


def test_workshop_guide_has_the_english_code_blocks() -> None:
    en, ja = fenced_blocks(GUIDE_EN.read_text()), fenced_blocks(GUIDE_JA.read_text())
    assert en, "no code blocks found in the English guide"
    assert len(ja) == len(en), f"the Japanese guide has {len(ja)} code blocks, English {len(en)}"
    for i, (j, e) in enumerate(zip(ja, en, strict=True)):
        assert j == e, f"code block {i + 1} differs from the English one:\n{j}\n---\n{e}"


def test_workshop_guide_has_the_english_section_numbers() -> None:
    en, ja = heading_numbers(GUIDE_EN.read_text()), heading_numbers(GUIDE_JA.read_text())
    assert len(en) >= 7, f"too few numbered sections found in the English guide: {en}"
    assert ja == en, f"section numbers differ:\nja {ja}\nen {en}"


def test_workshop_guide_prose_is_japanese() -> None:
    """Every paragraph, list item and table row outside code is Japanese (kana or kanji)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", prose_of(GUIDE_JA.read_text()))]
    rows = [
        line
        for p in paragraphs
        for line in (p.splitlines() if p.startswith(("|", "* ", "1. ")) else [p])
        if line.strip() and not re.fullmatch(r"[|\-: ]+", line)
    ]
    assert len(rows) > 50, f"too little prose in the Japanese guide: {len(rows)} blocks"
    english = [r for r in rows if re.search(r"[A-Za-z]{3}", r) and not editions.is_japanese(r)]
    assert not english, "untranslated in notebooks/ja/WORKSHOP.md:\n" + "\n".join(english)


def test_workshop_guide_links_point_to_files_and_to_the_japanese_notebooks() -> None:
    links = relative_links(GUIDE_JA.read_text())
    assert len(links) >= 10, f"too few relative links found: {links}"
    for target in links:
        path = (JA / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"notebooks/ja/WORKSHOP.md links to a missing file: {target}"
        if path.suffix == ".ipynb" or path.name == "README.md":  # a notebook, or the index
            assert path.parent == JA.resolve(), f"{target}: link the Japanese edition's own"
    assert "../WORKSHOP.md" in links, "no link back to the English guide"
    assert "ja/WORKSHOP.md" in GUIDE_EN.read_text().split("\n## ", 1)[0]
    assert "](WORKSHOP.md)" in (JA / "README.md").read_text()
