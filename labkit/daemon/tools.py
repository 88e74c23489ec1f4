"""The lab's command-line tools, run from the daemon: one environment, iptables batches.

``EXEC_ENV`` is the environment of every command run in the lab (``exec_run``, the agents,
``iptables``); :func:`run_tool` runs a tool in the daemon's own namespaces and raises with
its message; :func:`apply_rules` applies iptables commands in one ``iptables-restore``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from labkit.core import firewall
from labkit.errors import KernelError

#: the environment of every command run in the lab: stable, C-locale output, and labkit's
#: small in-lab programs (``python3 -m labkit.apps.whoami``) importable
EXEC_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "LANG": "C",
    "HOME": "/root",
    "TERM": "dumb",
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    "PYTHONDONTWRITEBYTECODE": "1",
}


def in_netns(netns: str | None, argv: list[str]) -> list[str]:
    """``argv`` run in the network namespace pinned at ``netns`` (``nsenter --net``); as it
    is for ``None``, the daemon's own (the lab's first Docker host)."""
    return argv if netns is None else ["nsenter", f"--net={netns}", "--", *argv]


def run_tool(argv: list[str], stdin: str | None = None) -> str:
    """Run a lab tool in the daemon's own namespaces; raise with its message if it fails."""
    try:
        proc = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=EXEC_ENV, timeout=30
        )
    except FileNotFoundError:
        raise KernelError(f"{argv[0]} is not installed in the lab's environment") from None
    if proc.returncode != 0:
        raise KernelError(f"`{' '.join(argv)}` failed: {proc.stderr.strip() or proc.stdout}")
    return proc.stdout


def apply_rules(cmds: list[firewall.Command], netns: str | None = None) -> None:
    """Run iptables commands in one ``iptables-restore --noflush`` (in the network
    namespace pinned at ``netns``: another Docker host of the lab)."""
    if cmds:
        argv = in_netns(netns, ["iptables-restore", "--noflush"])
        run_tool(argv, stdin=firewall.restore_text(cmds))
