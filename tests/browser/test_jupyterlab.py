"""A real browser runs a tutorial notebook in JupyterLab, from the UI, as a learner would.

The test copies the tutorial's notebook 06 (NAT), whose hands-on part is the live panel
``Panel(lab)``, starts ``jupyter lab`` on 127.0.0.1 on a free port with a token, opens the
notebook in Debian's Chromium driven by Playwright (``executable_path``: no browser
download), selects the cell after the panel, runs every cell above it from the Run menu, and
checks what the learner sees:

* the diagram cell's output is an SVG picture with ``docker0`` and ``172.17.42.1`` in it.
  JupyterLab shows ``image/svg+xml`` as an ``<img>`` with a ``data:`` URL (never inline, for
  safety), so the test checks that the image loaded, parses its SVG in the page and looks
  for an ``<svg>`` element holding those texts;
* the ipywidgets panel rendered (``.jupyter-widgets`` / ``.widget-vbox`` with its section
  titles visible), with no "Loading widget..." or "Error displaying widget" left;
* the panel works: typing a name and clicking **docker run** starts a container that the
  panel's diagram then draws; picking it as the target and clicking **send** pings it, the
  panel says it was answered, and the diagram shows the packet's path.

A full-page screenshot is kept in ``artifacts/jupyterlab.png``. The server is the test's own
``Popen``: it is stopped by its PID in ``finally``. Only 127.0.0.1 is visited, and Chromium
runs with the flags that keep it off the network (the machine's network is closed).

Skips (with the reason) when Chromium, Playwright or labs are unavailable; with
``LABKIT_REQUIRE_BROWSER=1`` (CI) a missing browser or Playwright fails instead.
"""

from __future__ import annotations

import os
import re
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
ARTIFACTS = REPO / "artifacts"
TUTORIAL = REPO / "notebooks" / "06-nat-masquerade.ipynb"
NOTEBOOK = TUTORIAL.name

# generous: a 2-core CI machine, a cold JupyterLab and a kernel that starts a real lab
PAGE_MS = 120_000
RUN_MS = 180_000
# JupyterLab scrolls inside its own panel, so a "full page" is the viewport: tall enough for
# the diagram and the whole panel to be in the screenshot
VIEWPORT_H = 3300

PANEL_TITLES = ["labkit lab panel", "Containers", "Switches", "Traffic", "Diagram", "conntrack"]


@pytest.fixture(scope="module")
def sync_playwright():  # type: ignore[no-untyped-def]
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[browser]')")
    for mod in ("jupyterlab", "jupyterlab_widgets"):
        pytest.importorskip(mod, reason=f"{mod} is not installed (pip install -e '.[notebook]')")
    return sync_playwright


def _write_notebook(path: Path) -> dict[str, int]:
    """Copy the tutorial notebook without its stored outputs; return the cells' indexes:
    ``diagram`` (the capture's diagram), ``panel`` (``Panel(lab)``) and ``after`` (the
    cell below the panel, which the test selects before "Run All Above Selected Cell")."""
    import nbformat

    nb = nbformat.read(TUTORIAL, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, path)
    code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    panel = next(i for i, src in code if src.rstrip().endswith("Panel(lab)"))
    diagram = next(i for i, src in code if "lab.diagram(" in src and i < panel)
    return {"diagram": diagram, "panel": panel, "after": panel + 1}


def test_tutorial_panel_in_jupyterlab_runs_a_container_and_pings_it(  # type: ignore[no-untyped-def]
    sync_playwright, can_lab, tmp_path
):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    where = _write_notebook(nbdir / NOTEBOOK)
    port, token = free_port(), token_hex(16)
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={nbdir}",
        "--ServerApp.terminals_enabled=False",
        # a safety net if this test process dies before its finally: the server ends itself
        "--ServerApp.shutdown_no_activity_timeout=900",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    blocked: list[str] = []  # requests to anywhere but this server (aborted)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "jupyterlab.png"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            cmd,
            cwd=nbdir,
            env=jupyter_env(
                tmp_path / "jupyter",
                # every cell in the DOM (no windowing): the test finds the cells of a long notebook
                {("notebook-extension", "tracker"): {"windowingMode": "none"}},
            ),
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_server(proc, f"{base}/api/status?token={token}", log)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
            )
            try:
                context = browser.new_context(viewport={"width": 1400, "height": VIEWPORT_H})
                page = context.new_page()
                # only this server: anything else would be a bug (and the network is closed)

                def _block(route):  # type: ignore[no-untyped-def]
                    blocked.append(route.request.url)
                    route.abort()

                own = re.escape(f"{base}/")
                page.route(re.compile(rf"^(?!({own}|data:|blob:|about:))"), _block)
                try:
                    _drive(page, f"{base}/lab/tree/{NOTEBOOK}?token={token}", where)
                finally:
                    page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
    except BaseException:
        print(f"--- jupyter lab log ({log}) ---\n{log.read_text()[-6000:]}")
        raise
    finally:
        stop(proc)
    assert shot.stat().st_size > 10_000
    assert not blocked, f"the page asked for addresses other than {base}: {blocked}"


def _svg_texts(panel) -> list[str]:  # type: ignore[no-untyped-def]
    """The texts of the panel's diagram (inline SVG), whitespace normalised."""
    texts = panel.locator("svg text").all_text_contents()
    return [" ".join(t.replace("\xa0", " ").split()) for t in texts]


def _drive(page, url: str, where: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    page.set_default_timeout(PAGE_MS)
    page.goto(url, wait_until="domcontentloaded")
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    cells.nth(where["after"]).wait_for(state="visible")
    # the kernel must be up before running (else the run waits on a kernel dialog)
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\|\s*Idle")).first.wait_for(
        state="visible"
    )

    # select the cell below the panel, then Run → Run All Above Selected Cell, as a learner
    # does: the notebook's exercises and its closing lab.close() are not run
    cells.nth(where["after"]).locator(".jp-InputPrompt, .jp-Cell-inputCollapser").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Above Selected Cell", exact=True).click()

    # the widget panel, rendered by jupyterlab_widgets (not its text/plain fallback)
    out = cells.nth(where["panel"]).locator(".jp-OutputArea-output")
    panel = out.locator(".jupyter-widgets.widget-vbox, .widget-vbox.jupyter-widgets").first
    panel.wait_for(state="visible", timeout=RUN_MS)
    for title in PANEL_TITLES:
        heading = panel.locator(".widget-html-content > div", has_text=re.compile("^" + title))
        heading.first.wait_for(state="visible")
    assert panel.locator("button", has_text="docker run").count() == 1
    assert panel.locator(".widget-dropdown select").count() >= 3
    page.get_by_text("Loading widget").first.wait_for(state="detached")
    assert page.get_by_text("Loading widget").count() == 0
    assert page.get_by_text("Error displaying widget").count() == 0
    assert "VBox(children" not in out.inner_text()

    # a traceback is rendered as stderr; a mere warning on stderr is not a failure
    stderr = page.locator(".jp-NotebookPanel [data-mime-type='application/vnd.jupyter.stderr']")
    raised = [t for t in stderr.all_inner_texts() if "Traceback" in t or "Error" in t]
    assert not raised, "a cell raised:\n" + "\n".join(raised)

    # the notebook's own diagram: an SVG image with docker0 and the article's gateway in it
    img = (
        cells.nth(where["diagram"])
        .locator(".jp-OutputArea-output.jp-RenderedSVG img, .jp-OutputArea-output svg")
        .first
    )
    img.wait_for(state="visible")
    found = img.evaluate(
        """async (el) => {
            let svg = el;
            if (el.tagName.toLowerCase() === 'img') {
                if (!el.complete) await new Promise(r => el.addEventListener('load', r));
                if (!el.naturalWidth) return {error: 'the SVG image did not load'};
                const src = decodeURIComponent(el.src.replace(/^data:image\\/svg\\+xml,/, ''));
                const doc = new DOMParser().parseFromString(src, 'image/svg+xml');
                svg = doc.documentElement;
                if (svg.tagName.toLowerCase() !== 'svg')
                    return {error: 'not an SVG: ' + src.slice(0, 200)};
            }
            return {tag: svg.tagName, width: el.getBoundingClientRect().width,
                    texts: Array.from(svg.querySelectorAll('text')).map(t => t.textContent)};
        }"""
    )
    assert "error" not in found, found
    assert found["tag"].lower() == "svg" and found["width"] > 100, found
    joined = "\n".join(found["texts"])
    assert "docker0" in joined and "172.17.42.1" in joined, found["texts"]

    # the hands-on part: docker run a container from the panel; its diagram draws it
    assert "container c9" not in _svg_texts(panel)
    panel.locator("input[placeholder^='name']").fill("c9")
    panel.locator("button", has_text="docker run").click()
    panel.get_by_text("docker run --name c9").wait_for(state="visible", timeout=RUN_MS)
    page.wait_for_function(
        "(el) => Array.from(el.querySelectorAll('svg text'))"
        ".some(t => t.textContent.includes('container c9'))",
        arg=panel.element_handle(),
    )

    # then ping it: pick c9 as the target and send; the panel shows the answer and the path
    target = panel.locator(".widget-dropdown", has=page.locator("label", has_text="to"))
    option = target.locator("option", has_text="c9 (")
    target.locator("select").select_option(label=option.first.inner_text().strip())
    panel.locator("button", has_text="send").click()
    panel.get_by_text("✔ answered").wait_for(state="visible", timeout=RUN_MS)
    page.wait_for_function(
        "(el) => Array.from(el.querySelectorAll('svg text'))"
        ".some(t => t.textContent.includes('c9:eth0'))",
        arg=panel.element_handle(),
    )
    texts = _svg_texts(panel)
    assert "c1:eth0" in texts and "c9:eth0" in texts, texts
    assert any(t.endswith("icmp") and "→" in t for t in texts), texts
    assert page.get_by_text("Error displaying widget").count() == 0

    # for the screenshot: the panel with the packet's path, from its top
    panel.scroll_into_view_if_needed()
