"""A class at once: a real JupyterHub on 127.0.0.1, four learners, the NAT notebook in all four.

The Hub runs as root inside a private mount namespace (and pid namespace) of its own, where
copies of /etc/passwd, /etc/shadow and /etc/group with four extra learners are bind-mounted
over the originals: the machine gains no user, and everything ends with that namespace.

- The Hub is ``deploy/jupyterhub/jupyterhub_config.py`` with a ``class.toml`` written here,
  its proxy the configurable-http-proxy from npm (``make hub-deps``).
- Servers start through the Hub's REST API (the admin service token of the config); each
  learner's kernel runs ``notebooks/06-nat-masquerade.ipynb`` over the kernel websocket, as
  a browser would, all four at the same time, through the Hub's proxy with the learner's
  own token.
- Then: each learner's ``labkit ls`` shows only their own lab, another learner's lab cannot
  be entered (``labkit shell``, ``nsenter``) or signalled, and ``labkit ls --all`` (root)
  shows all four. ``jupyterhub-idle-culler`` (timeout 1 s) then ends every server, and with
  them every lab and lab record; two learners come back with a lab each, and after the Hub
  stops no lab process and no record remains. The machine's root network namespace is the
  same at the end as at the start.

Locally it skips with the reason when something is missing; with ``CI=true`` it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.bench import pss_kb

pytestmark = [pytest.mark.hub, pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "06-nat-masquerade.ipynb"
LEARNERS = 4
FIRST_UID = 61001
CHP = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


# ----------------------------------------------------------------------------- environment
def _missing() -> str | None:
    """Why this machine cannot run the class test, or None."""
    if os.geteuid() != 0:
        return "the Hub must run as root (to start servers as its learners)"
    if not CHP.exists():
        return f"configurable-http-proxy is missing at {CHP}: run `make hub-deps` (npm)"
    for tool in ("unshare", "nsenter", "setpriv", "ip"):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return f"{tool} is missing (Debian: util-linux / iproute2)"
    try:
        import jupyterhub  # noqa: F401
        import jupyterhub_idle_culler  # noqa: F401
        import tornado.websocket  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is missing: pip install -e '.[class]' (make venv)"
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         "unshare", "--user", "--map-root-user", "--net", "true"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        return f"an unprivileged user cannot create a user namespace here: {r.stderr.strip()}"
    taken = {int(line.split(":")[2]) for line in Path("/etc/passwd").read_text().splitlines()
             if line.count(":") >= 6}  # fmt: skip
    if taken & set(range(FIRST_UID, FIRST_UID + LEARNERS)):
        return f"uids {FIRST_UID}–{FIRST_UID + LEARNERS - 1} are taken on this machine"
    return None


@pytest.fixture(scope="module")
def can_hub() -> None:
    why = _missing()
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the class test cannot run in CI: {why}")
    pytest.skip(f"the class test cannot run here: {why}")


# ----------------------------------------------------------------------------- the machine
def _out(argv: list[str]) -> str:
    exe = shutil.which(argv[0], path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if exe is None:
        return f"<{argv[0]} missing>"
    return subprocess.run([exe, *argv[1:]], capture_output=True, text=True, check=False).stdout


def root_netns() -> dict[str, object]:
    """The machine's own network namespace, read only: links, addresses, routes, rules, ..."""
    links = json.loads(_out(["ip", "-j", "link", "show"]) or "[]")
    for link in links:
        for key in ("stats", "stats64", "operstate_change"):
            link.pop(key, None)
    iptables = [
        line.split(" [")[0] if line.startswith(":") else line
        for line in _out(["iptables-save"]).splitlines()
        if not line.startswith("#")
    ]
    return {
        "links": links,
        "addrs": [_out(["ip", "-j", f, "addr", "show"]) for f in ("-4", "-6")],
        "routes": [_out(["ip", "-j", f, "route", "show", "table", "all"]) for f in ("-4", "-6")],
        "rules": [_out(["ip", "-j", f, "rule", "show"]) for f in ("-4", "-6")],
        "run_netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        "iptables-save": iptables,
    }


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [
                    int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                ]
    return out


def descendants(pid: int) -> list[int]:
    """Every live (not zombie) process below ``pid``, found by PID through /proc."""
    out, todo = [], children(pid)
    while todo:
        p = todo.pop()
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(p)
        todo += children(p)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:160]
    except OSError:
        return "?"


# ----------------------------------------------------------------------------- the Hub
def free_ports(n: int = 3) -> int:
    """A port p such that p .. p+n-1 are free on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        try:
            socks = []
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise RuntimeError("no three free ports in a row on 127.0.0.1")


class Hub:
    """A JupyterHub as root in a private mount + pid namespace; every process found by PID."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_ports()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = uuid.uuid4().hex
        self.learners = [f"learner{i + 1}" for i in range(LEARNERS)]
        self.uids = {n: FIRST_UID + i for i, n in enumerate(self.learners)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_kb = 0
        self._stop_sampling = threading.Event()

    # -- files: accounts, tutorial, settings
    def prepare(self) -> None:
        b = self.base
        os.chmod(b, 0o755)
        etc, state, home = b / "etc", b / "state", b / "home"
        for d in (etc, state):
            d.mkdir(mode=0o700)
        home.mkdir(mode=0o755)
        passwd = Path("/etc/passwd").read_text().rstrip("\n") + "\n"
        group = Path("/etc/group").read_text().rstrip("\n") + "\n"
        shadow = Path("/etc/shadow").read_text().rstrip("\n") + "\n"
        for name, uid in self.uids.items():
            h = home / name
            h.mkdir(mode=0o700)
            os.chown(h, uid, uid)
            # written directly: useradd's rename of /etc/passwd fails on a bind mount
            passwd += f"{name}:x:{uid}:{uid}:labkit class test:{h}:/bin/bash\n"
            group += f"{name}:x:{uid}:\n"
            shadow += f"{name}:!:20000:0:99999:7:::\n"
        for fname, text in (("passwd", passwd), ("group", group), ("shadow", shadow)):
            (etc / fname).write_text(text)
            st = os.stat(f"/etc/{fname}")
            os.chown(etc / fname, st.st_uid, st.st_gid)
            os.chmod(etc / fname, st.st_mode & 0o777)
        tutorial = b / "tutorial"
        shutil.copytree(REPO / "notebooks", tutorial, ignore=shutil.ignore_patterns(".ipynb_*"))
        for root, dirs, files in os.walk(tutorial):
            for x in dirs + files:
                os.chmod(Path(root, x), 0o755 if x in dirs else 0o644)
        os.chmod(tutorial, 0o755)
        (state / "admin-token").write_text(self.token)
        (b / "class.toml").write_text(
            f"""[hub]
ip = "127.0.0.1"
port = {self.port}
api_token_file = "{state / "admin-token"}"
[learners]
names = {json.dumps(self.learners)}
[tutorial]
source = "{tutorial}"
folder = "labkit-tutorial"
first_notebook = "{NOTEBOOK}"
[culler]
timeout_s = 3600
every_s = 60
[spawner]
start_timeout = 300
http_timeout = 240
"""
        )

    def start(self) -> None:
        b = self.base
        script = (
            'set -e; for f in passwd shadow group; do mount --bind "$T/etc/$f" "/etc/$f"; done; '
            '"$PY" -m jupyterhub -f "$CFG" --debug >"$T/hub.log" 2>&1 & '
            'wait $! || true; echo hub-exited >>"$T/hub.log"; exec sleep 100000'
        )
        env = dict(
            os.environ,
            T=str(b),
            PY=sys.executable,
            CFG=str(REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py"),
            LABKIT_CLASS_CONFIG=str(b / "class.toml"),
            LABKIT_HUB_STATE=str(b / "state"),
            PATH=os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin",
        )
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
             "--kill-child", "--mount-proc", "/bin/sh", "-c", script],
            env=env, cwd=b, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._sample, daemon=True).start()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None or "hub-exited" in self.log():
                break
            with contextlib.suppress(OSError, urllib.error.URLError):
                if self.api("GET", "/")["version"]:
                    return
            time.sleep(0.5)
        raise AssertionError(f"the Hub did not come up; its log ends:\n{self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return (self.base / "hub.log").read_text(errors="replace")
        except OSError:
            return ""

    @property
    def init_pid(self) -> int | None:
        """The outer PID of the namespace's pid 1 (the shell that started the Hub)."""
        if self.proc is None:
            return None
        kids = children(self.proc.pid)
        return kids[0] if kids else None

    @property
    def hub_pid(self) -> int | None:
        init = self.init_pid
        kids = [p for p in children(init) if "jupyterhub" in cmdline(p)] if init else []
        return kids[0] if kids else None

    def processes(self) -> list[int]:
        init = self.init_pid
        return descendants(init) if init else []

    def _sample(self) -> None:
        while not self._stop_sampling.wait(0.5):
            total = sum(pss_kb(p) for p in self.processes())
            self.peak_kb = max(self.peak_kb, total)

    # -- REST
    def api(self, method: str, path: str, body: object = None, token: str | None = None) -> dict:
        req = urllib.request.Request(
            f"{self.url}/hub/api{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token or self.token}"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
        return json.loads(data) if data else {}

    def user_api(self, name: str, token: str, method: str, path: str, body: object = None) -> dict:
        req = urllib.request.Request(
            f"{self.url}/user/{name}/api{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"{}")

    def start_servers(self, names: list[str] | None = None) -> dict[str, str]:
        """Start learners' servers through the REST API; returns each learner's own token."""
        names = names or self.learners
        for name in names:
            self.api("POST", f"/users/{name}/server")
        deadline = time.monotonic() + 600
        waiting = set(names)
        while waiting and time.monotonic() < deadline:
            for name in sorted(waiting):
                server = self.api("GET", f"/users/{name}").get("servers", {}).get("", {})
                if server.get("ready"):
                    waiting.discard(name)
            time.sleep(1)
        assert not waiting, f"servers not ready: {waiting}; Hub log:\n{self.log()[-3000:]}"
        return {
            name: self.api("POST", f"/users/{name}/tokens", {"note": "class test"})["token"]
            for name in names
        }

    def servers(self) -> dict[str, dict]:
        """The learners' running (or stopping) servers, as the Hub's REST API lists them."""
        return {
            name: server
            for name in self.learners
            if (server := self.api("GET", f"/users/{name}").get("servers", {}).get(""))
        }

    def cull(self) -> None:
        """Run jupyterhub-idle-culler (timeout 1 s) until every learner's server has gone."""
        culler = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=1", "--cull-every=2",
             f"--url={self.url}/hub/api"],
            env=dict(os.environ, JUPYTERHUB_API_TOKEN=self.token),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while self.servers() and time.monotonic() < deadline:
                time.sleep(1)
        finally:
            culler.terminate()
            culler.wait(timeout=60)

    def stop(self) -> None:
        """Stop the Hub gracefully (SIGTERM): it stops every server, and they their labs."""
        pid = self.hub_pid
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "hub-exited" not in self.log():
                time.sleep(0.5)

    def kill(self) -> None:
        """Whatever happened: end the namespace (SIGKILL to unshare, by PID; pid 1 follows)."""
        self._stop_sampling.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def hub(can_hub: None) -> Iterator[Hub]:
    base = Path(tempfile.mkdtemp(prefix="labkit-class-", dir="/tmp"))
    h = Hub(base)
    try:
        h.prepare()
        yield h
    finally:
        h.kill()
        with contextlib.suppress(OSError):  # the Hub's log, for a failure in CI
            (REPO / "artifacts").mkdir(exist_ok=True)
            shutil.copyfile(base / "hub.log", REPO / "artifacts" / "class-hub.log")
        with contextlib.suppress(OSError):
            shutil.rmtree(base)
        for uid in h.uids.values():  # the learners' registries, if a failure left them
            d = Path(f"/tmp/labkit-{uid}")
            with contextlib.suppress(OSError):
                if d.lstat().st_uid == uid and not d.is_symlink():
                    shutil.rmtree(d)


# ----------------------------------------------------------------------------- kernels
class Kernel:
    """One kernel of a learner's server, driven over its websocket as JupyterLab does."""

    def __init__(self, hub: Hub, name: str, token: str, kernel_id: str) -> None:
        self.hub, self.name, self.token, self.kernel_id = hub, name, token, kernel_id
        self.session = uuid.uuid4().hex
        self.ws = None

    async def connect(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = self.hub.url.replace("http", "ws", 1)
        req = HTTPRequest(
            f"{url}/user/{self.name}/api/kernels/{self.kernel_id}/channels?session_id={self.session}",
            headers={"Authorization": f"token {self.token}"},
        )
        self.ws = await websocket_connect(req, max_message_size=64 << 20)

    async def execute(self, code: str, timeout: float = 600) -> dict:
        """Run ``code``; returns {"status", "stdout", "error"} once the kernel is idle."""
        msg_id = uuid.uuid4().hex
        await self.ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": self.name, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))  # fmt: skip
        out: dict = {"status": None, "stdout": "", "error": ""}
        idle = False
        deadline = time.monotonic() + timeout
        while out["status"] is None or not idle:
            raw = await asyncio.wait_for(self.ws.read_message(), deadline - time.monotonic())
            if raw is None:
                raise AssertionError(f"{self.name}: the kernel's websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_reply":
                out["status"] = content["status"]
            elif kind == "stream":
                out["stdout"] += content["text"]
            elif kind == "error":
                out["error"] = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return out

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


def code_cells() -> list[str]:
    """The notebook's code cells, without its last ``lab.close()`` (checked afterwards)."""
    nb = json.loads((REPO / "notebooks" / NOTEBOOK).read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return [c for c in cells if c.strip() != "lab.close()"]


AFTER = """
import json, os, subprocess, sys
from labkit.client import registry
_ls = subprocess.run([sys.executable, "-m", "labkit", "ls"], capture_output=True, text=True)
print(json.dumps({"uid": os.getuid(), "sandbox_pid": lab.sandbox_pid, "mode": lab.mode,
                  "registry": str(registry.registry_dir()),
                  "ls": _ls.stdout, "rc": _ls.returncode}))
"""

INTRUDE = """
import json, os, subprocess, sys
_other = {pid}
_shell = subprocess.run([sys.executable, "-m", "labkit", "shell", "--lab", str(_other),
                         "--", "true"], capture_output=True, text=True, timeout=60)
_enter = subprocess.run(["nsenter", "-t", str(_other), "-n", "--", "true"],
                        capture_output=True, text=True, timeout=60)
try:
    os.kill(_other, 0)
    _signal = "allowed"
except PermissionError:
    _signal = "refused"
except ProcessLookupError:
    _signal = "no such process"
print(json.dumps({{"shell": [_shell.returncode, _shell.stderr], "nsenter": [_enter.returncode,
                  _enter.stderr], "signal": _signal}}))
"""


async def run_class(hub: Hub, tokens: dict[str, str]) -> dict[str, dict]:
    """The notebook in every learner's kernel at once; then what each learner can see."""
    kernels: dict[str, Kernel] = {}
    for name, tok in tokens.items():
        session = hub.user_api(name, tok, "POST", "/sessions", {
            "path": NOTEBOOK, "type": "notebook", "name": NOTEBOOK, "kernel": {"name": "python3"},
        })  # fmt: skip
        kernels[name] = Kernel(hub, name, tok, session["kernel"]["id"])
    await asyncio.gather(*(k.connect() for k in kernels.values()))
    cells = code_cells()

    async def notebook(k: Kernel) -> dict:
        for i, code in enumerate(cells):
            r = await k.execute(code)
            if r["status"] != "ok":
                return {"failed_cell": i, "error": r["error"], "stdout": r["stdout"][-2000:]}
        r = await k.execute(AFTER)
        assert r["status"] == "ok", f"{k.name}: {r['error']}"
        return json.loads(r["stdout"].strip().splitlines()[-1])

    try:
        results = dict(zip(kernels, await asyncio.gather(*(notebook(k) for k in kernels.values())),
                           strict=True))  # fmt: skip
        names = list(kernels)
        for i, name in enumerate(names):
            victim = names[(i + 1) % len(names)]
            if "sandbox_pid" not in results[name] or "sandbox_pid" not in results[victim]:
                continue
            r = await kernels[name].execute(INTRUDE.format(pid=results[victim]["sandbox_pid"]))
            assert r["status"] == "ok", f"{name}: {r['error']}"
            results[name]["intrude"] = json.loads(r["stdout"].strip().splitlines()[-1])
        return results
    finally:
        for k in kernels.values():
            await k.close()


async def open_labs(hub: Hub, tokens: dict[str, str]) -> dict[str, int]:
    """In each learner's new server, a kernel with a lab open (as a notebook's first cell)."""
    pids = {}
    for name, tok in tokens.items():
        session = hub.user_api(name, tok, "POST", "/sessions", {
            "path": NOTEBOOK, "type": "notebook", "name": NOTEBOOK, "kernel": {"name": "python3"},
        })  # fmt: skip
        k = Kernel(hub, name, tok, session["kernel"]["id"])
        await k.connect()
        try:
            r = await k.execute("from labkit import Lab\nlab = Lab()\nprint(lab.sandbox_pid)")
            assert r["status"] == "ok", f"{name}: {r['error']}"
            pids[name] = int(r["stdout"].split()[-1])
        finally:
            await k.close()
    return pids


def labs_left(hub: Hub) -> list[int]:
    """One PID per running lab: the ``unshare`` that started its sandbox."""
    return [
        p
        for p in hub.processes()
        if "labkit.daemon" in cmdline(p) and Path(cmdline(p).split()[0]).name == "unshare"
    ]


def records_left(results: dict[str, dict]) -> list[Path]:
    """Lab records left in the learners' registries."""
    out: list[Path] = []
    for r in results.values():
        reg = Path(r["registry"])
        out += sorted(reg.glob("*.json")) if reg.exists() else []
    return out


def stop_lines(hub: Hub) -> str:
    words = ("interrupt", "terminat", "kill", "shut", "stopping", "labkit")
    return "\n".join(ln for ln in hub.log().splitlines() if any(w in ln.lower() for w in words))


# ----------------------------------------------------------------------------- the test
def test_a_class_of_four_on_a_real_hub(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    before = root_netns()
    t0 = time.monotonic()
    hub.start()
    hub_only_kb = sum(pss_kb(p) for p in hub.processes())  # the Hub, its proxy, the culler
    tokens = hub.start_servers()
    t_ready = time.monotonic() - t0
    results = asyncio.run(run_class(hub, tokens))
    t_run = time.monotonic() - t0 - t_ready

    # all four ran the whole notebook, each in a rootless lab of their own uid
    failed = {n: r for n, r in results.items() if "failed_cell" in r}
    assert not failed, f"notebook failed for {failed}"
    pids = {n: r["sandbox_pid"] for n, r in results.items()}
    for name, r in results.items():
        assert r["uid"] == hub.uids[name], f"{name}'s kernel runs as uid {r['uid']}"
        assert r["mode"] == "rootless"
        # `labkit ls`: exactly one lab, their own
        assert r["rc"] == 0, r["ls"]
        rows = [line.split() for line in r["ls"].splitlines()[1:] if line.strip()]
        assert [int(row[0]) for row in rows] == [pids[name]], f"{name} sees {r['ls']}"
        # another learner's lab: not in their shell, not by nsenter, not by a signal
        intrude = r["intrude"]
        assert intrude["shell"][0] != 0 and "no running lab" in intrude["shell"][1], intrude
        assert intrude["nsenter"][0] != 0, intrude
        assert intrude["signal"] == "refused", intrude

    # root sees every learner's lab: `labkit ls --all`, in the Hub's namespaces
    ls_all = subprocess.run(
        ["nsenter", "-t", str(hub.init_pid), "-m", "-p", "--",
         sys.executable, "-m", "labkit", "ls", "--all"],
        capture_output=True, text=True, timeout=120, check=False, cwd="/",
    )  # fmt: skip
    assert ls_all.returncode == 0, ls_all.stderr
    for name, pid in pids.items():
        assert any(line.split()[:2] == [name, str(pid)] for line in ls_all.stdout.splitlines()), (
            f"{name}'s lab {pid} missing from `labkit ls --all`:\n{ls_all.stdout}"
        )

    assert len(labs_left(hub)) == LEARNERS  # one lab each, nothing else

    # the idle culler ends idle servers, and with them their kernels and labs
    assert any("jupyterhub_idle_culler" in cmdline(p) for p in hub.processes())
    hub.cull()
    assert hub.servers() == {}, "the idle culler did not stop every server"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (labs_left(hub) or records_left(results)):
        time.sleep(0.5)
    assert labs_left(hub) == [], "labs still running after their servers were culled"
    assert records_left(results) == [], f"records left after culling:\n{stop_lines(hub)}"

    # two learners come back; then the Hub stops: every server, kernel and lab with it
    again = hub.start_servers(hub.learners[:2])
    pids = asyncio.run(open_labs(hub, again))
    assert len(labs_left(hub)) == 2, [cmdline(p) for p in hub.processes()]
    hub.stop()
    assert "hub-exited" in hub.log(), "the Hub did not stop within 120 s of SIGTERM"
    left = hub.processes()
    assert left == [], f"left after the Hub stopped: {[cmdline(p) for p in left]}"
    assert records_left(results) == [], f"records left ({pids}):\n{stop_lines(hub)}"
    hub.kill()
    assert root_netns() == before, "the machine's root network namespace changed"
    with capsys.disabled():
        print(
            f"\nclass of {LEARNERS}: servers ready in {t_ready:.1f} s, {NOTEBOOK} in all four at "
            f"once in {t_run:.1f} s, wall time {time.monotonic() - t0:.1f} s; peak memory (PSS of "
            f"the Hub's namespace) {hub.peak_kb / 1024:.0f} MB, of which the Hub, proxy and "
            f"culler {hub_only_kb / 1024:.0f} MB: "
            f"{(hub.peak_kb - hub_only_kb) / 1024 / LEARNERS:.0f} MB per learner"
        )
