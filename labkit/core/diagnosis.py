"""Why a lab cannot start here, and the fix for this place (pure logic, no privileges).

:mod:`labkit.sandbox` tries each step of a sandbox separately and collects the answers in a
:class:`Facts`; :func:`diagnose` turns them into the obstacle actually met and the fix
written for where labkit runs: the ``docker run`` flags, a Kubernetes ``securityContext``,
or a sysctl. :func:`plan` picks the sandbox and the fallbacks that keep every notebook true:
a read-only sysfs, or none (``brctl show`` falls back to its ioctls). A fresh /proc has no
such fallback: with the outer one, ``/proc/PID`` and ``nsenter -t PID`` would name other
processes than the lab's, so a refused /proc is reported, never worked around.

The steps, in the order the kernel meets them (``unshare --user --map-root-user --net
--mount --uts --pid --fork --mount-proc``, then what the daemon mounts):

``userns``      a new user namespace                (``unshare --user``)
``map``         map root in it                      (``--map-root-user``, uid_map)
``namespaces``  new net, mount, uts, pid namespaces (``--net --mount --uts --pid``)
``proc``        a fresh /proc for the pid namespace (``--mount-proc``)
``python``      run labkit's Python in it (root's lab runs as an unprivileged uid)
``tmpfs``       mount a tmpfs (/run, /tmp)
``sysfs_rw``    a fresh sysfs, read-write          (``/sys/class/net`` of the lab)
``sysfs_ro``    a fresh sysfs, read-only           (``ro,nosuid,nodev,noexec``)
``link``        a bridge and a veth pair            (``ip link add``)
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from labkit.errors import InvalidArgument

#: the steps of a sandbox, in the order they are tried
STEPS = ("userns", "map", "namespaces", "proc", "python", "tmpfs", "sysfs_rw", "sysfs_ro",
         "link")  # fmt: skip
#: what each step is, in the words of the command that does it
STEP_WORDS = {
    "userns": "create a user namespace (unshare --user)",
    "map": "map root in the user namespace (unshare --map-root-user)",
    "namespaces": "create network, mount, uts and pid namespaces (unshare --net --mount --pid)",
    "proc": "mount a fresh /proc for the lab's pid namespace (unshare --mount-proc)",
    "python": "run labkit's Python as the lab's root (its files must be readable by that uid)",
    "tmpfs": "mount a tmpfs (mount -t tmpfs)",
    "sysfs_rw": "mount a fresh sysfs read-write (mount -t sysfs)",
    "sysfs_ro": "mount a fresh sysfs read-only (mount -t sysfs -o ro,nosuid,nodev,noexec)",
    "link": "create a bridge and a veth pair (ip link add)",
}
MODES = ("rootless", "root")
MODE_CHOICES = ("auto", *MODES)

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21

#: where labkit runs, as :func:`place_from` tells it
PLACES = ("machine", "docker", "podman", "kubernetes", "binder", "jupyterhub", "codespaces",
          "devcontainer")  # fmt: skip

#: the least privilege a Docker container needs (measured by tests/container)
DOCKER_FLAGS = ("--security-opt seccomp=unconfined", "--security-opt systempaths=unconfined")
DOCKER_APPARMOR_FLAG = "--security-opt apparmor=unconfined"
K8S_SECURITY_CONTEXT = (
    "spec.hostUsers: false, and in the container's securityContext: procMount: Unmasked, "
    "seccompProfile: {type: Unconfined}, appArmorProfile: {type: Unconfined} "
    "(procMount: Unmasked is accepted only together with hostUsers: false)"
)
LIVE_PATHS = (
    "GitHub Codespaces (the 'Open in GitHub Codespaces' badge in the README), "
    "the dev container or image in .devcontainer/ on your own Docker "
    "(`docker run --rm -p 127.0.0.1:8888:8888 "
    + " ".join(DOCKER_FLAGS)
    + " IMAGE`), or a Linux VM with `make lab`"
)


@dataclass
class Step:
    """The answer to one step: ok, or the errno and what the tool said."""

    ok: bool
    errno: int | None = None
    said: str = ""


@dataclass
class Facts:
    """What a probe of this machine found (every field has a safe default for tests)."""

    euid: int = 1000
    place: str = "machine"
    #: ``/proc/sys`` values, None when the file does not exist
    unprivileged_userns_clone: int | None = None
    max_user_namespaces: int | None = None
    apparmor_restrict_userns: int | None = None
    #: the Seccomp field of /proc/self/status (0 none, 1 strict, 2 filter)
    seccomp: int = 0
    #: the CapEff bit mask of /proc/self/status
    cap_eff: int = 0
    #: the AppArmor profile this process runs under ("unconfined" when none)
    apparmor_profile: str = "unconfined"
    #: paths over-mounted in /proc (a runtime's masked paths), and whether /sys is read-only
    proc_masked: tuple[str, ...] = ()
    sys_readonly: bool = False
    #: per mode, the answer to each step tried (a step missing was not reached)
    steps: dict[str, dict[str, Step]] = field(default_factory=dict)


@dataclass
class Plan:
    """How to start a sandbox: the mode, and how the daemon mounts sysfs."""

    mode: str
    #: "rw"; "ro" where a user namespace may mount it only read-only; "hidden" (an empty
    #: tmpfs on /sys) where no sysfs may be mounted: ``brctl show`` then falls back to its
    #: ioctls and stays true, and nothing else a notebook uses reads /sys
    sysfs: str = "rw"
    notes: tuple[str, ...] = ()


@dataclass
class Obstacle:
    """The first step the kernel refused in a mode, why, and the fix for this place."""

    mode: str
    step: str
    cause: str
    fix: str

    def __str__(self) -> str:
        return f"{self.mode}: {STEP_WORDS[self.step]} was refused: {self.cause}. Fix: {self.fix}"


def check_mode(mode: str) -> str:
    """Validate a ``mode=`` argument (``Lab(mode=...)``, ``LABKIT_MODE``)."""
    if mode not in MODE_CHOICES:
        raise InvalidArgument(
            f"mode must be one of {', '.join(repr(m) for m in MODE_CHOICES)}, not {mode!r}"
        )
    return mode


def check_settings(environ: dict[str, str]) -> dict[str, str]:
    """Validate the ``LABKIT_*`` settings labkit reads; return them.

    ``LABKIT_MODE`` (the default of ``Lab(mode=...)``) must be one of :data:`MODE_CHOICES`;
    ``LABKIT_REQUIRE_LAB`` and ``LABKIT_REQUIRE_ENGINE`` (tests: fail instead of skipping)
    must be ``0`` or ``1``.
    """
    out: dict[str, str] = {}
    mode = environ.get("LABKIT_MODE")
    if mode is not None:
        if mode not in MODE_CHOICES:
            raise InvalidArgument(
                f"LABKIT_MODE={mode!r} makes no sense: use one of "
                f"{', '.join(MODE_CHOICES)} (or unset it, which means auto)"
            )
        out["LABKIT_MODE"] = mode
    for name in ("LABKIT_REQUIRE_LAB", "LABKIT_REQUIRE_ENGINE"):
        value = environ.get(name)
        if value is not None:
            if value not in ("0", "1", ""):
                raise InvalidArgument(f"{name}={value!r} makes no sense: use 1 or 0 (or unset it)")
            out[name] = value
    return out


def place_from(environ: dict[str, str], files: set[str], cgroup: str) -> str:
    """Where labkit runs, from the environment, marker files and ``/proc/1/cgroup``.

    ``files`` holds which of ``/.dockerenv`` and ``/run/.containerenv`` exist.
    """
    if environ.get("CODESPACES") == "true":
        return "codespaces"
    if any(k.startswith("BINDER_") for k in environ):
        return "binder"
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return "jupyterhub" if environ.get("JUPYTERHUB_API_URL") else "kubernetes"
    if environ.get("JUPYTERHUB_API_URL"):
        return "jupyterhub"
    if environ.get("REMOTE_CONTAINERS") == "true" or environ.get("DEVCONTAINER") == "true":
        return "devcontainer"
    if "/run/.containerenv" in files:
        return "podman"
    if "/.dockerenv" in files or any(w in cgroup for w in ("docker", "containerd")):
        return "docker"
    if "kubepods" in cgroup:
        return "kubernetes"
    return "machine"


def _has_cap(facts: Facts, cap: int) -> bool:
    return bool(facts.cap_eff >> cap & 1)


def _container_fix(facts: Facts, flags: list[str]) -> str:
    place = facts.place
    if place in ("docker", "podman", "machine"):
        runtime = "podman" if place == "podman" else "docker"
        return f"start the container with `{runtime} run " + " ".join(flags) + " ...`"
    if place in ("devcontainer", "codespaces"):
        where = "the codespace" if place == "codespaces" else "the dev container"
        return (
            f"rebuild {where} from this repository's .devcontainer/devcontainer.json, whose "
            'runArgs hold ["' + '", "'.join(a for f in flags for a in f.split(" ", 1)) + '"]'
        )
    if place in ("kubernetes", "jupyterhub"):
        extra = (
            " (on JupyterHub: KubeSpawner's extra_pod_config / container_security_context)"
            if place == "jupyterhub"
            else ""
        )
        return f"set in the pod spec: {K8S_SECURITY_CONTEXT}{extra}"
    return f"this place cannot be changed; run the labs elsewhere: {LIVE_PATHS}"


def _sysctl_fix(facts: Facts) -> str | None:
    if facts.unprivileged_userns_clone == 0:
        return "`sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian's switch is off)"
    if facts.max_user_namespaces == 0:
        return "`sudo sysctl -w user.max_user_namespaces=15000` (it is 0 here)"
    if facts.apparmor_restrict_userns == 1:
        return (
            "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu ≥ 23.10 "
            "lets only AppArmor-profiled programs use user namespaces), or run as root"
        )
    return None


def _errtext(step: Step) -> str:
    if step.errno is not None:
        name = errno.errorcode.get(step.errno, str(step.errno))
        return f"{name} ({step.said})" if step.said else name
    return step.said or "refused"


def obstacle(mode: str, facts: Facts) -> Obstacle | None:
    """The first step refused in ``mode`` with its exact cause and fix, or None if all passed.

    A refused ``sysfs_rw`` is no obstacle when ``sysfs_ro`` works (see :func:`plan`).
    """
    steps = facts.steps.get(mode, {})
    bad = None
    for name in STEPS:
        st = steps.get(name)
        if st is None or st.ok:
            continue
        if name == "sysfs_rw" and steps.get("sysfs_ro", Step(False)).ok:
            continue
        if name == "sysfs_ro" and steps.get("sysfs_rw", Step(False)).ok:
            continue
        if name.startswith("sysfs") and steps.get("tmpfs", Step(False)).ok:
            continue  # /sys is hidden instead (see plan())
        bad = name
        break
    if bad is None:
        return None
    st = steps[bad]
    said = _errtext(st)
    in_container = facts.place != "machine"
    unconfined = [*DOCKER_FLAGS]
    if facts.apparmor_profile not in ("unconfined", ""):
        unconfined.append(DOCKER_APPARMOR_FLAG)

    if mode == "root" and facts.euid != 0:
        return Obstacle(mode, "namespaces", "root mode needs root (this process is not)",
                        "use the rootless mode")  # fmt: skip
    if bad in ("userns", "map"):
        sysctl = _sysctl_fix(facts)
        if facts.seccomp == 2 and st.errno == errno.EPERM and sysctl is None:
            return Obstacle(mode, bad, f"a seccomp filter refuses it ({said}); the container "
                            "runtime's default seccomp profile allows unshare only with "
                            "CAP_SYS_ADMIN", _container_fix(facts, unconfined))  # fmt: skip
        if sysctl is not None:
            cause = f"the kernel's settings refuse it ({said})"
            if in_container:
                sysctl += " on the machine that runs the container (it is the host's kernel)"
            return Obstacle(mode, bad, cause, sysctl)
        if facts.apparmor_profile not in ("unconfined", "") and st.errno in (
            errno.EPERM, errno.EACCES,
        ):  # fmt: skip
            return Obstacle(mode, bad, f"AppArmor profile {facts.apparmor_profile!r} refuses "
                            f"it ({said})", _container_fix(facts, unconfined))  # fmt: skip
        if st.errno == errno.EINVAL:
            return Obstacle(mode, bad, f"this kernel has no user namespaces ({said})",
                            "use a kernel built with CONFIG_USER_NS, or run as root")  # fmt: skip
        return Obstacle(mode, bad, said, _container_fix(facts, unconfined) if in_container
                        else "run as root, or allow user namespaces")  # fmt: skip
    if bad == "namespaces":
        if mode == "root" and not (
            _has_cap(facts, CAP_SYS_ADMIN) and _has_cap(facts, CAP_NET_ADMIN)
        ):
            missing = [n for n, c in (("SYS_ADMIN", CAP_SYS_ADMIN), ("NET_ADMIN", CAP_NET_ADMIN))
                       if not _has_cap(facts, c)]  # fmt: skip
            return Obstacle(mode, bad, "this root lacks CAP_" + " and CAP_".join(missing)
                            + f" ({said}), as root in a container does",
                            "prefer the rootless mode (" + _container_fix(facts, unconfined)
                            + "); or add " + " ".join(f"--cap-add {m}" for m in missing)
                            )  # fmt: skip
        if facts.seccomp == 2 and st.errno == errno.EPERM:
            return Obstacle(mode, bad, f"a seccomp filter refuses it ({said})",
                            _container_fix(facts, unconfined))  # fmt: skip
        return Obstacle(mode, bad, said, _container_fix(facts, unconfined))
    if bad in ("proc", "sysfs_rw", "sysfs_ro", "tmpfs"):
        if facts.apparmor_profile not in ("unconfined", "") and st.errno == errno.EACCES:
            return Obstacle(mode, bad, f"AppArmor profile {facts.apparmor_profile!r} denies "
                            f"mount ({said})", _container_fix(facts, unconfined))  # fmt: skip
        if bad == "proc" and facts.proc_masked:
            shown = ", ".join(facts.proc_masked[:4])
            return Obstacle(mode, bad, f"/proc has masked paths ({shown}), and the kernel "
                            "refuses a fresh /proc while any part of the existing one is "
                            f"hidden ({said})", _container_fix(facts, unconfined))  # fmt: skip
        if bad.startswith("sysfs") and (facts.proc_masked or facts.sys_readonly):
            return Obstacle(mode, bad, "/sys is masked or read-only in this container and the "
                            f"kernel refuses a fresh sysfs ({said})",
                            _container_fix(facts, unconfined))  # fmt: skip
        return Obstacle(mode, bad, said, _container_fix(facts, unconfined))
    if bad == "python":
        return Obstacle(mode, bad, said, "make the checkout and the venv's interpreter readable "
                        "by every user (chmod o+rx on the path), or use mode='root'")  # fmt: skip
    # link
    return Obstacle(mode, bad, f"{said}; without CAP_NET_ADMIN in the lab's network namespace "
                    "no bridge can be made", _container_fix(facts, unconfined))  # fmt: skip


def plan(facts: Facts, wanted: str = "auto") -> Plan | None:
    """The sandbox to start: the first mode of ``wanted`` whose steps all passed.

    ``auto`` prefers ``rootless`` (for root too: root mapped to an unprivileged uid), then
    ``root``. A fresh sysfs that may be mounted only read-only is taken read-only: labkit
    and the learner's tools only read it. Returns None when no mode works.
    """
    check_mode(wanted)
    for mode in (MODES if wanted == "auto" else (wanted,)):
        steps = facts.steps.get(mode, {})
        if not steps or obstacle(mode, facts) is not None:
            continue
        needed = [s for s in STEPS if s not in ("sysfs_rw", "sysfs_ro")
                  and (mode == "rootless" or s not in ("userns", "map"))]  # fmt: skip
        if not all(name in steps for name in needed):
            continue
        if steps.get("sysfs_rw", Step(False)).ok:
            return Plan(mode, "rw")
        refused = _errtext(steps.get("sysfs_rw", Step(False)))
        if steps.get("sysfs_ro", Step(False)).ok:
            return Plan(mode, "ro", (f"sysfs is mounted read-only: rw was refused ({refused})",))
        return Plan(mode, "hidden", (f"/sys is hidden in labs (brctl show uses its ioctls): no "
                                     f"sysfs may be mounted here ({refused})",))  # fmt: skip
    return None


def explain(facts: Facts, wanted: str = "auto") -> str:
    """Why no sandbox can start, mode by mode, with the fix (the text of ``NoPrivileges``)."""
    lines = [f"labkit cannot create a sandbox here (running in: {facts.place}, "
             f"{'root' if facts.euid == 0 else f'uid {facts.euid}'})."]  # fmt: skip
    for mode in (MODES if wanted == "auto" else (wanted,)):
        if mode == "root" and facts.euid != 0 and wanted == "auto":
            continue
        obs = obstacle(mode, facts)
        if obs is not None:
            lines.append(f"- {obs}")
    if facts.place in ("binder", "jupyterhub", "kubernetes"):
        lines.append(f"The labs run live in: {LIVE_PATHS}.")
    return "\n".join(lines)
