"""Starting a lab daemon in a sandbox of its own namespaces (client side).

Two modes, both leaving the machine's own namespaces untouched:

- ``rootless``: ``unshare --user --map-root-user --net --mount --pid`` — works for any user
  where the kernel allows unprivileged user namespaces. Root gets it too, but with the
  lab's root mapped to an unprivileged uid (root's range in /etc/subuid, or ``nobody``;
  :mod:`labkit.daemon.launch`), so a lab never holds the machine's real root.
- ``root``: the same without ``--user``: only the fallback, for root on kernels that refuse
  user namespaces.

Which one, and the exact obstacle when neither starts, comes from trying each step
separately (:func:`facts`) and :mod:`labkit.core.diagnosis`.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from labkit.core.diagnosis import MODES as DIAGNOSIS_MODES
from labkit.core.diagnosis import (
    Facts,
    Plan,
    Step,
    check_mode,
    check_settings,
    explain,
    obstacle,
    place_from,
    plan,
)
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
MODES = DIAGNOSIS_MODES
NOBODY = 65534

#: run inside a probe sandbox: each later step separately, one JSON line of answers
_INNER_PROBE = r"""
import ctypes, json, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
def mount(src, dst, fs, flags):
    if libc.mount(src, dst, fs, ctypes.c_ulong(flags), None) == 0:
        return [True, None, ""]
    e = ctypes.get_errno()
    return [False, e, os.strerror(e)]
out = {"python": [True, None, ""]}
out["tmpfs"] = mount(b"tmpfs", b"/run", b"tmpfs", 0)
out["sysfs_ro"] = mount(b"sysfs", b"/sys", b"sysfs", 1 | 2 | 4 | 8)
if out["sysfs_ro"][0]:
    libc.umount2(b"/sys", 2)
out["sysfs_rw"] = mount(b"sysfs", b"/sys", b"sysfs", 0)
ok = True
for cmd in (["ip", "link", "add", "lkprobe0", "type", "bridge"],
            ["ip", "link", "add", "lkprobe1", "type", "veth", "peer", "name", "lkprobe2"]):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        out["link"] = [False, None, p.stderr.strip()]
        break
else:
    out["link"] = [True, None, ""]
print(json.dumps(out))
"""


def which(tool: str) -> str | None:
    """Find a tool on PATH or in the sbin directories (ordinary users often lack them)."""
    return shutil.which(tool) or shutil.which(tool, path=SBIN_PATH)


def check_tools(tools: dict[str, str] = TOOLS) -> None:
    """Raise :class:`MissingTool` for the first missing tool, naming its package."""
    for tool, package in tools.items():
        if which(tool) is None:
            raise MissingTool(tool, package)


def subordinate_ids() -> tuple[int, int, int]:
    """Where root's lab maps its root: root's range in /etc/subuid and /etc/subgid, or nobody.

    Returns (uid, gid, count), like ``unshare --map-users=UID,0,COUNT``.
    """
    ranges = []
    for path in ("/etc/subuid", "/etc/subgid"):
        found = None
        try:
            for line in Path(path).read_text().splitlines():
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in ("root", "0") and int(parts[2]) > 0:
                    found = (int(parts[1]), min(int(parts[2]), 65536))
                    break
        except (OSError, ValueError):
            found = None
        ranges.append(found)
    (u, g) = ranges
    if u and g:
        count = min(u[1], g[1])
        return u[0], g[0], count
    return NOBODY, NOBODY, 1


def _user_prefix(mode: str) -> list[str]:
    """The argv that enters the mode's user namespace (empty for root mode)."""
    if mode == "root":
        return []
    if os.geteuid() == 0:
        uid, gid, count = subordinate_ids()
        return [sys.executable, "-m", "labkit.daemon.launch", str(uid), str(gid), str(count),
                "--"]  # fmt: skip
    return [which("unshare") or "unshare", "--user", "--map-root-user"]


def ns_argv(mode: str, *, proc: bool = True) -> list[str]:
    """The whole sandbox argv prefix for ``mode`` (the command to run follows)."""
    unshare = which("unshare") or "unshare"
    base = [b for b in BASE if proc or b != "--mount-proc"]
    if mode == "rootless" and os.geteuid() != 0:  # one unshare makes the user namespace too
        return [unshare, "--user", "--map-root-user", *base]
    return [*_user_prefix(mode), unshare, *base]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH", "")) if p)
    env["PATH"] = env.get("PATH", "") + ":" + SBIN_PATH
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(argv: list[str]) -> tuple[int, str, str]:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=_env(),
                           cwd="/")  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 255, "", str(exc)
    return p.returncode, p.stdout, p.stderr.strip()


_ERRNO_WORDS = {os.strerror(e): e for e in (errno.EPERM, errno.EACCES, errno.EINVAL,
                                            errno.ENOSPC, errno.ENOENT, errno.EROFS)}  # fmt: skip


def _step(code: int, said: str) -> Step:
    if code == 0:
        return Step(True)
    err = next((e for words, e in _ERRNO_WORDS.items() if words in said), None)
    return Step(False, err, said.splitlines()[-1] if said else f"exit status {code}")


def probe_steps(mode: str) -> dict[str, Step]:
    """Try each step of a ``mode`` sandbox, separately; what the kernel said to each.

    The whole sandbox is tried first (one process); only if it fails are the steps tried
    one by one, so the report names the first step refused.
    """
    steps: dict[str, Step] = {}
    if mode == "root" and os.geteuid() != 0:
        return {"namespaces": Step(False, errno.EPERM, "root mode needs root")}
    inner = [sys.executable, "-c", _INNER_PROBE]
    code, out, said = _run([*ns_argv(mode), *inner])
    if code != 0:
        if mode == "rootless":
            unshare = which("unshare") or "unshare"
            steps["userns"] = _step(*_run([unshare, "--user", "true"])[::2])
            if not steps["userns"].ok:
                return steps
            steps["map"] = _step(*_run([*_user_prefix(mode), "true"])[::2])
            if not steps["map"].ok:
                return steps
        without_proc = ns_argv(mode, proc=False)
        steps["namespaces"] = _step(*_run([*without_proc, "true"])[::2])
        if not steps["namespaces"].ok:
            return steps
        steps["proc"] = _step(*_run([*ns_argv(mode), "true"])[::2])
        code, out, said = _run([*(ns_argv(mode) if steps["proc"].ok else without_proc), *inner])
        if code != 0:
            steps["python"] = _step(code, said)
            return steps
    else:
        steps.update({s: Step(True) for s in ("userns", "map", "namespaces", "proc")
                      if mode == "rootless" or s in ("namespaces", "proc")})  # fmt: skip
    try:
        answers = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        steps["python"] = Step(False, None, f"the probe said: {(out + said)[-300:]}")
        return steps
    for name, (ok, err, words) in answers.items():
        steps[name] = Step(bool(ok), err, words)
    return steps


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _status_field(name: str) -> str:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _masks() -> tuple[tuple[str, ...], bool]:
    """Paths over-mounted under /proc (a runtime's masked paths); is /sys read-only?"""
    masked: list[str] = []
    sys_ro = False
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return (), False
    for line in lines:
        parts = line.split()
        if len(parts) < 6:
            continue
        point, opts = parts[4], parts[5].split(",")
        if point.startswith("/proc/"):
            masked.append(point)
        if point == "/sys" and "ro" in opts:
            sys_ro = True
        if point.startswith("/sys/") and not point.startswith(("/sys/fs/cgroup", "/sys/kernel")):
            masked.append(point)
    return tuple(masked), sys_ro


def _apparmor() -> str:
    for path in ("/proc/self/attr/apparmor/current", "/proc/self/attr/current"):
        try:
            text = Path(path).read_text().strip().strip("\x00")
        except OSError:
            continue
        if text:
            return text.split(" (")[0]
    return "unconfined"


def place() -> str:
    """Where labkit runs: machine, docker, podman, kubernetes, binder, jupyterhub, ..."""
    files = {f for f in ("/.dockerenv", "/run/.containerenv") if os.path.exists(f)}
    try:
        cgroup = Path("/proc/1/cgroup").read_text()
    except OSError:
        cgroup = ""
    return place_from(dict(os.environ), files, cgroup)


@functools.cache
def _mode_steps(mode: str) -> dict[str, Step]:
    return probe_steps(mode)


def facts(modes: tuple[str, ...] = ("rootless", "root")) -> Facts:
    """Probe this machine: settings, confinement, and each step of each mode (cached)."""
    masked, sys_ro = _masks()
    f = Facts(
        euid=os.geteuid(),
        place=place(),
        unprivileged_userns_clone=_read_int("/proc/sys/kernel/unprivileged_userns_clone"),
        max_user_namespaces=_read_int("/proc/sys/user/max_user_namespaces"),
        apparmor_restrict_userns=_read_int(
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
        ),
        seccomp=int(_status_field("Seccomp") or 0),
        cap_eff=int(_status_field("CapEff") or "0", 16),
        apparmor_profile=_apparmor(),
        proc_masked=masked,
        sys_readonly=sys_ro,
    )
    for mode in modes:
        f.steps[mode] = _mode_steps(mode)
    return f


def mode_works(mode: str) -> tuple[bool, str]:
    """Can this process start a sandbox in ``mode``? Returns (ok, the exact obstacle)."""
    f = facts((mode,))
    obs = obstacle(mode, f)
    if obs is None and plan(f, mode) is not None:
        return True, ""
    return False, str(obs) if obs else "refused"


def settings() -> dict[str, str]:
    """The ``LABKIT_*`` settings of this process, validated (bad values raise)."""
    return check_settings(dict(os.environ))


def choose(mode: str = "auto") -> Plan:
    """Pick the sandbox: rootless when the kernel allows it, else root, else raise.

    ``mode="auto"`` takes ``LABKIT_MODE`` when it is set. Raises
    :class:`~labkit.errors.InvalidArgument` for an unknown mode and
    :class:`~labkit.errors.NoPrivileges` with the exact obstacle when no mode works.
    """
    check_mode(mode)
    if mode == "auto":
        mode = settings().get("LABKIT_MODE", "auto")
    check_tools()
    order = ("rootless", "root") if mode == "auto" else (mode,)
    for m in order:
        f = facts((m,))
        chosen = plan(f, m)
        if chosen is not None:
            return chosen
    raise NoPrivileges(explain(facts(order), mode))


def choose_mode(mode: str = "auto") -> str:
    """The name of the sandbox mode :func:`choose` picks."""
    return choose(mode).mode


def sysfs_mode(mode: str) -> str:
    """How labs get ``/sys`` in ``mode`` here: ``rw``, ``ro`` or ``hidden``."""
    return (plan(facts((mode,)), mode) or Plan(mode)).sysfs


def spawn_daemon(mode: str | Plan) -> subprocess.Popen[bytes]:
    """Start ``python -m labkit.daemon`` in a fresh sandbox; pipes on stdin/stdout/stderr."""
    # a mode's name: its plan from the (cached) probe, e.g. a read-only sysfs
    chosen = mode if isinstance(mode, Plan) else plan(facts((mode,)), mode) or Plan(mode)
    argv = [*ns_argv(chosen.mode), sys.executable, "-m", "labkit.daemon",
            f"--sysfs={chosen.sysfs}"]  # fmt: skip
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
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
