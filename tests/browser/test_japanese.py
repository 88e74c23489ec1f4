"""The Japanese edition in a real browser: CJK glyphs, not boxes, in text and in diagrams.

The test copies one notebook of the Japanese edition (``notebooks/ja/01-docker0-bridge``,
with its stored outputs from a real run) into a folder of its own, trusts it (JupyterLab
shows a stored SVG only for a trusted notebook), starts ``jupyter lab`` on 127.0.0.1 with
its interface set to Japanese (``jupyterlab-language-pack-ja-JP``), and opens the notebook
in Debian's Chromium driven by Playwright. Nothing is executed: no lab is needed.

It checks what a reader sees, with the browser's own answer about the fonts it used for
layout (Chrome DevTools ``CSS.getPlatformFontsForNode``), not with guesses from CSS:

* the notebook's Japanese heading is laid out in a CJK font (Noto Sans CJK), and that font
  drew every kana and kanji of it (a missing glyph would be drawn by another font, as a
  box);
* the stored diagram (graphviz, with ``fontname="Noto Sans CJK JP"``) shows its Japanese
  labels (「Docker ホスト」, 「仮想ブリッジ」): its SVG loads, and its Japanese ``<text>``
  is laid out in the CJK font when the SVG is placed in the page;
* JupyterLab's own menus are Japanese (「ファイル」).

A screenshot is kept in ``artifacts/japanese.png``. The server is stopped by its PID.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from secrets import token_hex

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.jupyterlab import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    jupyter_env,
    stop,
    unavailable,
    wait_for_server,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "notebooks" / "ja" / "01-docker0-bridge.ipynb"
ARTIFACTS = REPO / "artifacts"
PAGE_MS = 120_000
CJK_FONT = re.compile(r"Noto Sans CJK|Noto Serif CJK|Noto Sans JP|Noto Sans Mono CJK")
CJK_CHAR = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# The fonts Chromium really used to lay out an element's text (per platform font: family
# and how many glyphs it drew), through the DevTools protocol.
FONTS_JS = "(sel) => { const el = document.querySelector(sel); return el ? el.textContent : null; }"


@pytest.fixture(scope="module")
def playwright_api():  # type: ignore[no-untyped-def]
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[browser]')")
    for mod in ("jupyterlab", "jupyterlab_language_pack_ja_JP"):
        try:
            __import__(mod)
        except ImportError:
            unavailable(f"{mod} is not installed (pip install -e '.[notebook]')")
    return sync_playwright


def _platform_fonts(cdp, selector: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """The platform fonts Chromium used for the first text under ``selector``."""
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"nothing matches {selector}"
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def _assert_cjk(fonts: list[dict], text: str, what: str) -> None:
    cjk = [f for f in fonts if CJK_FONT.search(f["familyName"])]
    assert cjk, f"{what}: laid out in {fonts}, no CJK font"
    drawn = sum(f["glyphCount"] for f in cjk)
    wanted = len(CJK_CHAR.findall(text))
    assert wanted and drawn >= wanted, (
        f"{what}: the CJK font drew {drawn} glyphs for {wanted} kana/kanji ({fonts})"
    )


def test_japanese_notebook_is_laid_out_in_a_cjk_font(playwright_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    shutil.copy(SOURCE, nbdir / SOURCE.name)
    japanese = {("translation-extension", "plugin"): {"locale": "ja_JP"}}
    env = jupyter_env(tmp_path / "jupyter", japanese)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "trust", str(nbdir / SOURCE.name)],
        env=env,
        check=True,
        capture_output=True,
    )
    port, token = free_port(), token_hex(16)
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={nbdir}",
        "--ServerApp.terminals_enabled=False", "--ServerApp.shutdown_no_activity_timeout=900",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "japanese.png"
    blocked: list[str] = []
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            cmd, cwd=nbdir, env=env, stdin=subprocess.DEVNULL, stdout=logf,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_server(proc, f"{base}/api/status?token={token}", log)
        with playwright_api() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1600})

                def _block(route):  # type: ignore[no-untyped-def]
                    blocked.append(route.request.url)
                    route.abort()

                own = re.escape(f"{base}/")
                page.route(re.compile(rf"^(?!({own}|data:|blob:|about:))"), _block)
                try:
                    _check(page, f"{base}/lab/tree/{SOURCE.name}?token={token}")
                finally:
                    page.screenshot(path=str(shot))
            finally:
                browser.close()
    except BaseException:
        print(f"--- jupyter lab log ({log}) ---\n{log.read_text()[-6000:]}")
        raise
    finally:
        stop(proc)
    assert not blocked, f"the page asked for addresses other than {base}: {blocked}"


def _check(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.set_default_timeout(PAGE_MS)
    page.goto(url, wait_until="domcontentloaded")
    heading = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown h1").first
    heading.wait_for(state="visible")
    text = heading.inner_text()
    assert "仮想ブリッジ" in text, text
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check(\"16px 'Noto Sans CJK JP'\")")

    # JupyterLab itself speaks Japanese: its menu bar
    page.get_by_role("menuitem", name="ファイル", exact=True).wait_for(state="visible")

    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    _assert_cjk(_platform_fonts(cdp, ".jp-MarkdownCell .jp-RenderedMarkdown h1"), text, "h1")

    # the stored diagram: an SVG image whose labels are Japanese, in a CJK font
    img = page.locator(".jp-OutputArea-output.jp-RenderedSVG img").first
    img.scroll_into_view_if_needed()
    img.wait_for(state="visible")
    found = img.evaluate(
        """async (el) => {
            if (!el.complete) await new Promise(r => el.addEventListener('load', r));
            if (!el.naturalWidth) return {error: 'the SVG image did not load'};
            const src = decodeURIComponent(el.src.replace(/^data:image\\/svg\\+xml,/, ''));
            const svg = new DOMParser().parseFromString(src, 'image/svg+xml').documentElement;
            // the same SVG, placed in the page, so that its text is laid out and measurable
            const holder = document.createElement('div');
            holder.id = 'labkit-ja-svg';
            holder.appendChild(document.importNode(svg, true));
            document.body.appendChild(holder);
            const texts = Array.from(holder.querySelectorAll('text'));
            const ja = texts.find(t => /Docker ホスト/.test(t.textContent));
            if (ja) ja.id = 'labkit-ja-label';
            return {width: el.getBoundingClientRect().width,
                    texts: texts.map(t => t.textContent),
                    font: ja ? ja.getAttribute('font-family') : null,
                    label: ja ? ja.textContent : null};
        }"""
    )
    assert "error" not in found, found
    assert found["width"] > 100, found
    joined = "\n".join(found["texts"])
    for label in ("Docker ホスト", "仮想ブリッジ", "docker0", "172.17.42.1"):
        assert label in joined, (label, found["texts"])
    assert found["font"] and "Noto Sans CJK JP" in found["font"], found
    _assert_cjk(_platform_fonts(cdp, "#labkit-ja-label"), found["label"], "diagram label")
    page.evaluate("document.getElementById('labkit-ja-svg').remove()")
    heading.scroll_into_view_if_needed()
