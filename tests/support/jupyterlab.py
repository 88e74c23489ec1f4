"""A JupyterLab of the browser tests' own, on 127.0.0.1, and Debian's Chromium to drive it.

Shared by ``tests/browser``: where Chromium is, the flags it needs on a machine with a closed
network, a JupyterLab environment with no user settings and no news fetches, waiting for the
server and stopping it by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

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
# generous: a 2-core CI machine and a cold JupyterLab
SERVER_START_S = 120


def unavailable(why: str) -> None:
    """Skip with the reason; fail instead under ``LABKIT_REQUIRE_BROWSER=1`` (CI)."""
    if REQUIRE:
        pytest.fail(f"LABKIT_REQUIRE_BROWSER=1 but {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jupyter_env(home: Path, settings: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    """A JupyterLab of its own under ``home``: no user settings, workspaces, kernelspecs or
    news fetches. ``settings`` adds JupyterLab settings, keyed by (extension, plugin) of
    ``@jupyterlab``, e.g. ``{("translation-extension", "plugin"): {"locale": "ja_JP"}}``."""
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
    quiet = {("apputils-extension", "notification"): {"fetchNews": "false",
                                                      "checkForUpdates": False},
             # English unless asked: `make lab` may have left a Japanese overrides.json in
             # the venv, which user settings override
             ("translation-extension", "plugin"): {"locale": "en"}}  # fmt: skip
    for (ext, plugin), value in {**quiet, **settings}.items():
        folder = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / ext
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{plugin}.jupyterlab-settings").write_text(json.dumps(value))
    return env


def wait_for_server(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Until ``url`` answers 200; fail with the server's log if it exits or never answers."""
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


def stop(proc: subprocess.Popen[bytes]) -> None:
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
