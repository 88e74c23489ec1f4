"""Starting a lab daemon in a sandbox of its own namespaces (client side).

Two modes, both leaving the machine's own namespaces untouched:

- ``rootless``: ``unshare --user --map-root-user --net --mount --pid`` — works for any user
  where the kernel allows unprivileged user namespaces (and for root).
- ``root``: the same without ``--user``, for root on kernels that refuse user namespaces.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from labkit.errors import MissingTool, NoPrivileges

#: tool -> Debian package that provides it
TOOLS = {
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "iptables": "iptables",
    "iptables-restore": "iptables",
}
#: the article's and iproute2's tools, used by learners inside the lab
LEARNER_TOOLS = {
    "ip": "iproute2",
    "bridge": "iproute2",
    "ifconfig": "net-tools",
    "route": "net-tools",
    "brctl": "bridge-utils",
    "ping": "iputils-ping",
    "conntrack": "conntrack",
    "nft": "nftables",
    "dot": "graphviz",
}
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BASE = ["--net", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc"]
MODES = {
    "rootless": ["unshare", "--user", "--map-root-user", *BASE],
    "root": ["unshare", *BASE],
}

USERNS_FIX = (
    "unprivileged user namespaces are refused by this kernel. Either run as root, or allow "
    "them: `sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian), "
    "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu ≥ 23.10), "
    "or `sudo sysctl -w user.max_user_namespaces=15000`"
)


def which(tool: str) -> str | None:
    """Find a tool on PATH or in the sbin directories (ordinary users often lack them)."""
    return shutil.which(tool) or shutil.which(tool, path=SBIN_PATH)


def check_tools(tools: dict[str, str] = TOOLS) -> None:
    """Raise :class:`MissingTool` for the first missing tool, naming its package."""
    for tool, package in tools.items():
        if which(tool) is None:
            raise MissingTool(tool, package)


@functools.cache
def mode_works(mode: str) -> tuple[bool, str]:
    """Can this process start a sandbox in ``mode``? Returns (ok, what the kernel said)."""
    if mode == "root" and os.geteuid() != 0:
        return False, "root mode needs root"
    argv = [which("unshare") or "unshare", *MODES[mode][1:], "true"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.strip()


def choose_mode(mode: str = "auto") -> str:
    """Pick the sandbox mode: rootless when the kernel allows it, else root, else raise."""
    check_tools()
    if mode not in ("auto", *MODES):
        from labkit.errors import InvalidArgument

        raise InvalidArgument(f"mode must be 'auto', 'rootless' or 'root', not {mode!r}")
    order = ["rootless", "root"] if mode == "auto" else [mode]
    said = []
    for m in order:
        ok, err = mode_works(m)
        if ok:
            return m
        said.append(f"{m}: {err}")
    raise NoPrivileges(
        "labkit cannot create a sandbox here (" + "; ".join(said) + "). " + USERNS_FIX
    )


def spawn_daemon(mode: str) -> subprocess.Popen[bytes]:
    """Start ``python -m labkit.daemon`` in a fresh sandbox; pipes on stdin/stdout/stderr."""
    unshare = which("unshare") or "unshare"
    argv = [unshare, *MODES[mode][1:], sys.executable, "-m", "labkit.daemon"]
    env = dict(os.environ)
    pkg_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH", "")) if p)
    env["PATH"] = env.get("PATH", "") + ":" + SBIN_PATH
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        close_fds=True,
        start_new_session=True,
    )


def sandbox_pid(unshare_pid: int) -> int | None:
    """The PID (in the machine's pid namespace) of the sandbox's pid 1, or None."""
    try:
        for task in os.listdir(f"/proc/{unshare_pid}/task"):
            kids = Path(f"/proc/{unshare_pid}/task/{task}/children").read_text().split()
            if kids:
                return int(kids[0])
    except OSError:
        return None
    return None
