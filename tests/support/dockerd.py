"""A real Docker Engine in a sandbox of its own, for tests that compare labkit with Docker.

Debian's ``docker.io`` (dockerd 20.10 at ``/usr/sbin/dockerd``, client ``/usr/bin/docker``)
runs as root inside ``unshare --net --mount --pid --fork --kill-child --mount-proc``. Inside:
a private tmpfs ``/run``, a fresh sysfs, cgroup v1 hierarchies (with ``name=systemd``) or
cgroup2 under a tmpfs ``/sys/fs/cgroup`` of the sandbox's own mount namespace, a tmpfs over
``/etc/docker`` (dockerd 20.10 writes ``key.json`` there), a ``resolv.conf`` naming a
documentation address, and an uplink ``eth0`` 198.51.100.2/24 whose peer (198.51.100.1) sits
in a second network namespace created inside the sandbox: the engine gets a default route
without touching the machine's root namespace. dockerd keeps everything (data root, exec
root, pidfile, socket) in a temporary directory; containers' cgroups go under a parent of
their own (``--cgroup-parent``), removed at the end.

Usage::

    with DockerEngine() as eng:
        eng.import_busybox()                      # docker import of a busybox-static rootfs
        eng.docker("run", "-d", "--name", "c1", "busybox", "sleep", "1d")
        pid = eng.container_pid("c1")             # as the sandbox's pid namespace sees it
        eng.nsenter(pid, "ip", "-j", "addr").stdout
        eng.sandbox("iptables-save").stdout       # the engine's own namespace (the Docker host)

Stopping SIGKILLs the sandbox's pid 1 (the kernel then ends every process, mount and network
namespace inside), removes the cgroup parent and the temporary directory — also when a test
fails (``__exit__``) or the test process dies (the ``unshare`` process has a parent-death
signal). :func:`unavailable_reason` says why an engine cannot start here (tests skip with it
locally and fail under ``CI=true``).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

DOCKERD = "/usr/sbin/dockerd"
#: Debian's 20.10 client (``/usr/local/bin/docker`` on this machine is a 28.x client)
DOCKER = "/usr/bin/docker"
BUSYBOX = "/bin/busybox"
UPLINK_IP = "198.51.100.2"
UPSTREAM_IP = "198.51.100.1"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_INNER = r"""
set -eu
T="$1"; CG="$2"; DRIVER="$3"
CGTYPE=$(stat -f -c %T /sys/fs/cgroup)
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /run
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
if [ "$CGTYPE" = cgroup2fs ]; then
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
  for c in $(awk 'NR>1 && $2 != 0 && $4 == 1 {print $1}' /proc/cgroups); do
    mkdir -p "/sys/fs/cgroup/$c"; mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
  done
  mkdir -p /sys/fs/cgroup/systemd
  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
fi
[ -d /etc/docker ] && mount -t tmpfs -o mode=755 tmpfs /etc/docker
[ -e "$T/resolv.conf" ] || printf 'nameserver %s\n' "$UPSTREAM" > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
ip link set lo up
mkdir -p /run/netns
ip netns add upstream
ip link add eth0 type veth peer name eth0 netns upstream
ip addr add "$UPLINK/24" dev eth0
ip link set eth0 up
ip -n upstream addr add "$UPSTREAM/24" dev eth0
ip -n upstream link set lo up
ip -n upstream link set eth0 up
ip route add default via "$UPSTREAM"
echo ready > "$T/sandbox-ready"
exec "$DOCKERD" --data-root "$T/data" --exec-root "$T/x" --pidfile "$T/docker.pid" \
  -H "unix://$T/docker.sock" --storage-driver "$DRIVER" --cgroup-parent "/$CG" \
  --config-file "$T/daemon.json" $EXTRA
"""


class EngineUnavailable(RuntimeError):
    """The engine cannot start on this machine; the message says why and how to fix it."""


def unavailable_reason() -> str | None:
    """Why a Docker engine cannot start here (None when it can, as far as cheap checks tell)."""
    if os.geteuid() != 0:
        return "the Docker engine oracle needs root (dockerd runs as root in a sandbox)"
    for path, pkg in ((DOCKERD, "docker.io"), (DOCKER, "docker.io"), (BUSYBOX, "busybox-static")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: apt-get install -y {pkg}"
    for tool, pkg in (("unshare", "util-linux"), ("nsenter", "util-linux"), ("ip", "iproute2")):
        if shutil.which(tool, path=SBIN_PATH) is None:
            return f"{tool} is missing: apt-get install -y {pkg}"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"unshare refused a sandbox: {probe.stderr.strip()}"
    return None


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child (unshare → the sandbox) when the test process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = SBIN_PATH + ":" + env.get("PATH", "")
    return env


def busybox_rootfs(into: Path) -> Path:
    """A root filesystem of ``/bin/busybox`` (busybox-static) and its applet symlinks."""
    (into / "bin").mkdir(parents=True, exist_ok=True)
    for d in ("etc", "tmp", "proc", "sys", "dev", "root"):
        (into / d).mkdir(exist_ok=True)
    shutil.copy2(BUSYBOX, into / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    for name in applets.stdout.split():
        if name != "busybox" and not (into / "bin" / name).exists():
            (into / "bin" / name).symlink_to("busybox")
    return into


_DEBOOTSTRAP_CACHE: dict[str, Path] = {}


def debootstrap_rootfs(suite: str = "bookworm") -> Path:
    """``debootstrap --variant=minbase SUITE``, cached in a temporary directory for this run.

    Needs the Debian mirror and a few minutes; the directory lives until the process ends
    (removed by :func:`cleanup_debootstrap`).
    """
    if suite in _DEBOOTSTRAP_CACHE:
        return _DEBOOTSTRAP_CACHE[suite]
    if shutil.which("debootstrap", path=SBIN_PATH) is None:
        raise EngineUnavailable("debootstrap is missing: apt-get install -y debootstrap")
    root = Path(tempfile.mkdtemp(prefix=f"ldk-{suite}-")) / "rootfs"
    proc = subprocess.run(
        ["debootstrap", "--variant=minbase", suite, str(root)],
        capture_output=True,
        text=True,
        env=_env(),
    )
    if proc.returncode != 0:
        shutil.rmtree(root.parent, ignore_errors=True)
        raise EngineUnavailable(f"debootstrap {suite} failed: {proc.stderr.strip()[-500:]}")
    _DEBOOTSTRAP_CACHE[suite] = root
    return root


def cleanup_debootstrap() -> None:
    """Remove the cached debootstrap root filesystems."""
    for root in _DEBOOTSTRAP_CACHE.values():
        shutil.rmtree(root.parent, ignore_errors=True)
    _DEBOOTSTRAP_CACHE.clear()


class DockerEngine:
    """A real dockerd in a sandbox of its own namespaces (a context manager).

    ``daemon_config`` becomes the engine's ``daemon.json``; ``args`` are extra dockerd flags;
    ``resolv_conf`` is the text of the engine host's ``/etc/resolv.conf``.
    ``storage_driver`` is tried first; when overlay2 fails the engine falls back to vfs and
    says so in :attr:`fallback`.
    """

    def __init__(
        self,
        *,
        daemon_config: dict[str, Any] | None = None,
        args: tuple[str, ...] = (),
        storage_driver: str = "overlay2",
        timeout: float = 60.0,
        resolv_conf: str | None = None,
    ) -> None:
        self.daemon_config = daemon_config or {}
        #: the engine host's /etc/resolv.conf (default: ``nameserver 198.51.100.1``)
        self.resolv_conf = resolv_conf
        self.args = args
        self.storage_driver = storage_driver
        self.timeout = timeout
        self.fallback: str | None = None
        self.tmp: Path | None = None
        self.cgroup_parent = f"ldk-oracle-{secrets.token_hex(4)}"
        self._proc: subprocess.Popen[bytes] | None = None
        self.pid: int = 0

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> DockerEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the sandbox and dockerd; raise :class:`EngineUnavailable` with the cause."""
        why = unavailable_reason()
        if why:
            raise EngineUnavailable(why)
        # short: the socket path must fit in sun_path (108 bytes)
        self.tmp = Path(tempfile.mkdtemp(prefix="ldk-", dir="/tmp"))
        (self.tmp / "daemon.json").write_text(json.dumps(self.daemon_config))
        (self.tmp / "inner.sh").write_text(_INNER)
        if self.resolv_conf is not None:
            (self.tmp / "resolv.conf").write_text(self.resolv_conf)
        try:
            try:
                self._launch(self.storage_driver)
            except EngineUnavailable as exc:
                if self.storage_driver != "overlay2":
                    raise
                self.fallback = f"overlay2 failed, using vfs: {exc}"
                self._kill_sandbox()
                self._launch("vfs")
                self.storage_driver = "vfs"
        except BaseException:
            self.stop()
            raise

    def _launch(self, driver: str) -> None:
        assert self.tmp is not None
        env = _env()
        env.update(
            UPLINK=UPLINK_IP, UPSTREAM=UPSTREAM_IP, DOCKERD=DOCKERD, EXTRA=" ".join(self.args)
        )
        with open(self.tmp / f"dockerd-{driver}.log", "wb") as log:
            self._proc = subprocess.Popen(
                ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child",
                 "--mount-proc", "bash", str(self.tmp / "inner.sh"), str(self.tmp),
                 self.cgroup_parent, driver],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,
            )
        self.log_path = self.tmp / f"dockerd-{driver}.log"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EngineUnavailable(f"dockerd exited: {self._log_tail()}")
            if not self.pid:
                self.pid = self._sandbox_pid1() or 0
            if (self.tmp / "docker.sock").exists():
                ok = subprocess.run(
                    [DOCKER, "-H", self.host, "version", "-f", "{{.Server.Version}}"],
                    capture_output=True, text=True,
                )
                if ok.returncode == 0:
                    self.version = ok.stdout.strip()
                    return
            time.sleep(0.2)
        raise EngineUnavailable(f"dockerd did not answer within {self.timeout:.0f} s: "
                                f"{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        errors = [ln for ln in lines if "level=error" in ln or "level=fatal" in ln]
        return " | ".join((errors or lines)[-3:])

    def _sandbox_pid1(self) -> int | None:
        assert self._proc is not None
        try:
            kids = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children").read_text()
        except OSError:
            return None
        return int(kids.split()[0]) if kids.split() else None

    def _kill_sandbox(self) -> None:
        if self._proc is None:
            return
        pid1 = self.pid or self._sandbox_pid1()
        if pid1:
            try:
                os.kill(pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()  # unshare itself; --kill-child takes the sandbox with it
            self._proc.wait()
        self._proc = None
        self.pid = 0

    def stop(self) -> None:
        """SIGKILL the sandbox's pid 1, then remove the cgroup parent and the temp directory."""
        self._kill_sandbox()
        self._remove_cgroups()
        if self.tmp is not None:
            for _ in range(20):
                shutil.rmtree(self.tmp, ignore_errors=True)
                if not self.tmp.exists():
                    break
                time.sleep(0.1)
            self.tmp = None

    def _remove_cgroups(self) -> None:
        root = Path("/sys/fs/cgroup")
        for top in [*root.glob(f"*/{self.cgroup_parent}"), *root.glob(self.cgroup_parent)]:
            for _ in range(50):
                dirs = [p for p in top.rglob("*") if p.is_dir()]
                dirs.sort(key=lambda p: -len(p.parts))
                try:
                    for d in [*dirs, top]:
                        d.rmdir()
                    break
                except OSError:  # tasks still leaving
                    time.sleep(0.1)

    # ----------------------------------------------------------------- using it
    @property
    def host(self) -> str:
        """The engine's ``-H`` address."""
        assert self.tmp is not None
        return f"unix://{self.tmp}/docker.sock"

    def docker(self, *args: str, check: bool = True, input: bytes | str | None = None,
               ) -> subprocess.CompletedProcess[str]:
        """``docker ARGS`` against this engine (the 20.10 client); text output."""
        proc = subprocess.run(
            [DOCKER, "-H", self.host, *args],
            capture_output=True,
            text=not isinstance(input, bytes),
            input=input,
        )
        if isinstance(input, bytes):
            proc = subprocess.CompletedProcess(proc.args, proc.returncode,
                                               proc.stdout.decode(), proc.stderr.decode())
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def sandbox(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a machine tool in the engine's own namespaces (the Docker host's view)."""
        return self._run(["nsenter", "-t", str(self.pid), "-n", "-m", "-p", "--", *cmd], check)

    def nsenter(self, pid: int, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a machine tool in the network namespace of ``pid`` (a pid inside the sandbox,
        as ``docker inspect`` reports it), e.g. ``eng.nsenter(pid, "ip", "-j", "addr")``."""
        return self._run(["nsenter", "-t", str(self.pid), "-m", "-p", "--",
                          "nsenter", "-t", str(pid), "-n", "--", *cmd], check)

    def _run(self, argv: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, capture_output=True, text=True, env=_env())
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def container_pid(self, name: str) -> int:
        """The container's init pid in the sandbox's pid namespace (``docker inspect``)."""
        return int(self.docker("inspect", "-f", "{{.State.Pid}}", name).stdout)

    def read_file(self, name: str, path: str) -> str:
        """A file as the container sees it (``/etc/hosts``, ``/etc/resolv.conf``)."""
        pid = self.container_pid(name)
        return self._run(["nsenter", "-t", str(self.pid), "-m", "-p", "--",
                          "cat", f"/proc/{pid}/root{path}"], True).stdout

    def import_rootfs(self, rootfs: Path, tag: str) -> str:
        """``docker import`` of a directory (a tar stream of it); returns the image id."""
        tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True,
                             check=True)
        return self.docker("import", "-", tag, input=tar.stdout).stdout.strip()

    def import_busybox(self, tag: str = "busybox") -> str:
        """Import a busybox-static root filesystem as ``tag``."""
        assert self.tmp is not None
        return self.import_rootfs(busybox_rootfs(self.tmp / "busybox-rootfs"), tag)

    def import_debootstrap(self, tag: str = "debian:bookworm") -> str:
        """Import ``debootstrap --variant=minbase bookworm`` (slow the first time)."""
        return self.import_rootfs(debootstrap_rootfs("bookworm"), tag)


# --------------------------------------------------------------------- the machine's view
_COUNTERS = re.compile(r"\[\d+:\d+\]")


def root_namespace_snapshot() -> dict[str, Any]:
    """The machine's root network namespace: links, addresses, routes, rules, /run/netns
    and iptables/ip6tables rules (counters removed). Equal before and after = untouched."""

    def ip(*args: str) -> Any:
        out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, env=_env())
        return json.loads(out.stdout or "[]")

    def save(tool: str) -> str:
        path = shutil.which(tool, path=SBIN_PATH)
        if path is None:
            return ""
        out = subprocess.run([path], capture_output=True, text=True, env=_env()).stdout
        return "\n".join(_COUNTERS.sub("", ln) for ln in out.splitlines()
                         if not ln.startswith("#"))

    links = ip("link")
    for link in links:  # operstate/flags of the machine's links are theirs; keep identity
        link.pop("stats64", None)
    return {
        "links": [(ln["ifindex"], ln["ifname"], ln.get("address"), ln.get("mtu"))
                  for ln in links],
        "addrs": [(a["ifname"], [(i["local"], i["prefixlen"]) for i in a.get("addr_info", [])])
                  for a in ip("addr")],
        "routes": ip("route", "show", "table", "all"),
        "rules": ip("rule") + ip("-6", "rule"),
        "netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        "iptables": save("iptables-save"),
        "ip6tables": save("ip6tables-save"),
        "etc_docker": sorted(os.listdir("/etc/docker")) if os.path.isdir("/etc/docker") else [],
    }
