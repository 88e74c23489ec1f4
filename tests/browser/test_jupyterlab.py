"""A real browser runs a labkit notebook in JupyterLab, from the UI, as a learner would.

The test writes a small notebook (a lab with c1 and c2, its diagram, the widget panel, then
closes the lab), starts ``jupyter lab`` on 127.0.0.1 on a free port with a token, opens the
notebook in Debian's Chromium driven by Playwright (``executable_path``: no browser
download), runs every cell from the Run menu and checks what the learner sees:

* the diagram cell's output is an SVG picture with ``docker0`` and ``172.17.42.1`` in it.
  JupyterLab shows ``image/svg+xml`` as an ``<img>`` with a ``data:`` URL (never inline, for
  safety), so the test checks that the image loaded, parses its SVG in the page and looks
  for an ``<svg>`` element holding those texts;
* the ipywidgets panel rendered (``.jupyter-widgets`` / ``.widget-vbox`` with its section
  titles visible), with no "Loading widget..." or "Error displaying widget" left.

A full-page screenshot is kept in ``artifacts/jupyterlab.png``. The server is the test's own
``Popen``: it is stopped by its PID in ``finally``. Only 127.0.0.1 is visited, and Chromium
runs with the flags that keep it off the network (the machine's network is closed).

Skips (with the reason) when Chromium, Playwright or labs are unavailable; with
``LABKIT_REQUIRE_BROWSER=1`` (CI) a missing browser or Playwright fails instead.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from secrets import token_hex

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium")
REQUIRE = os.environ.get("LABKIT_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOTEBOOK = "labkit-browser-test.ipynb"

# generous: a 2-core CI machine, a cold JupyterLab and a kernel that starts a real lab
SERVER_START_S = 120
PAGE_MS = 120_000
RUN_MS = 180_000
# JupyterLab scrolls inside its own panel, so a "full page" is the viewport: tall enough for
# the diagram and the whole panel to be in the screenshot
VIEWPORT_H = 3300

CELLS = [
    'from labkit import Lab\nfrom labkit.widgets import Panel\n\nlab = Lab(profile="article", '
    'seed=1)\nc1 = lab.run("c1")\nc2 = lab.run("c2")\nprint("lab ready:", lab.gateway, c1.ip, '
    "c2.ip)",
    "lab.diagram()",
    "Panel(lab)",
    'lab.close()\nprint("lab closed")',
]
DIAGRAM_CELL, PANEL_CELL, LAST_CELL = 1, 2, len(CELLS) - 1
PANEL_TITLES = ["labkit lab panel", "Containers", "Switches", "Traffic", "Diagram", "conntrack"]


def _unavailable(why: str) -> None:
    if REQUIRE:
        pytest.fail(f"LABKIT_REQUIRE_BROWSER=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def sync_playwright():  # type: ignore[no-untyped-def]
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[browser]')")
    for mod in ("jupyterlab", "jupyterlab_widgets"):
        pytest.importorskip(mod, reason=f"{mod} is not installed (pip install -e '.[notebook]')")
    return sync_playwright


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, path)


def _jupyter_env(home: Path) -> dict[str, str]:
    """A JupyterLab of its own: no user settings, workspaces, kernelspecs or news fetches."""
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for name, d in dirs.items():
        d.mkdir(parents=True, exist_ok=True)
        env[name] = str(d)
    env.pop("JUPYTER_PATH", None)
    (dirs["JUPYTER_CONFIG_DIR"] / "jupyter_lab_config.py").write_text(
        "c.LabApp.news_url = None\n"
        "c.LabApp.check_for_updates_class = "
        '"jupyterlab.handlers.announcements.NeverCheckForUpdate"\n'
    )
    notif = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return env


def _wait_for_server(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(
        f"jupyter lab did not answer in {SERVER_START_S}s ({last}):\n{log.read_text()[-4000:]}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server we started, by its PID: SIGTERM (it shuts its kernels down), then KILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    # the server ran in a session of its own (pgid == its PID): end a kernel it left behind
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def test_notebook_runs_in_jupyterlab_with_diagram_and_panel(  # type: ignore[no-untyped-def]
    sync_playwright, can_lab, tmp_path
):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _write_notebook(nbdir / NOTEBOOK)
    port, token = _free_port(), token_hex(16)
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
            env=_jupyter_env(tmp_path / "jupyter"),
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_server(proc, f"{base}/api/status?token={token}", log)
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
                    _drive(page, f"{base}/lab/tree/{NOTEBOOK}?token={token}")
                finally:
                    page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
    except BaseException:
        print(f"--- jupyter lab log ({log}) ---\n{log.read_text()[-6000:]}")
        raise
    finally:
        _stop(proc)
    assert shot.stat().st_size > 10_000
    assert not blocked, f"the page asked for addresses other than {base}: {blocked}"


def _drive(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.set_default_timeout(PAGE_MS)
    page.goto(url, wait_until="domcontentloaded")
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-CodeCell")
    cells.nth(LAST_CELL).wait_for(state="visible")
    # the kernel must be up before "Run All" (else the run waits on a kernel dialog)
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\|\s*Idle")).first.wait_for(
        state="visible"
    )

    # Run → Run All Cells, from the menu bar, as a learner does
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    # every cell has run when the last one shows its output
    last = cells.nth(LAST_CELL).locator(".jp-OutputArea-output")
    last.filter(has_text="lab closed").wait_for(state="visible", timeout=RUN_MS)

    # a traceback is rendered as stderr; a mere warning on stderr is not a failure
    stderr = page.locator(".jp-NotebookPanel [data-mime-type='application/vnd.jupyter.stderr']")
    raised = [t for t in stderr.all_inner_texts() if "Traceback" in t or "Error" in t]
    assert not raised, "a cell raised:\n" + "\n".join(raised)

    # the diagram: an SVG image whose <svg> has docker0 and the article's gateway in it
    img = (
        cells.nth(DIAGRAM_CELL)
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

    # the widget panel, rendered by jupyterlab_widgets (not its text/plain fallback)
    out = cells.nth(PANEL_CELL).locator(".jp-OutputArea-output")
    panel = out.locator(".jupyter-widgets.widget-vbox, .widget-vbox.jupyter-widgets").first
    panel.wait_for(state="visible")
    for title in PANEL_TITLES:
        heading = panel.locator(".widget-html-content > div", has_text=re.compile("^" + title))
        heading.first.wait_for(state="visible")
    assert panel.locator("button", has_text="docker run").count() == 1
    assert panel.locator(".widget-dropdown select").count() >= 3
    page.get_by_text("Loading widget").first.wait_for(state="detached")
    assert page.get_by_text("Loading widget").count() == 0
    assert page.get_by_text("Error displaying widget").count() == 0
    # not the text/plain fallback JupyterLab shows when no widget manager takes the output
    assert "VBox(children" not in out.inner_text()

    # for the screenshot: the notebook from its first cell, the diagram and panel below it
    cells.nth(0).scroll_into_view_if_needed()
