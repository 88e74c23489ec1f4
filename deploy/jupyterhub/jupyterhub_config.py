"""JupyterHub for a labkit class on one server: learners are Unix users, labs run rootless.

Start it as root from the project's virtualenv (``make hub-deps`` installs the ``class`` extra
and configurable-http-proxy)::

    sudo .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

It reads the class's settings from ``class.toml`` next to it (or ``$LABKIT_CLASS_CONFIG``)
and checks them first (``labkit.core.hubconfig``): a missing key, an unknown ``[spawner]``
option or a learner name that is not a Unix name stops the Hub with the reason.

- Each learner logs in with their Unix password (PAM) and gets a Jupyter server running as
  themselves (``LocalProcessSpawner``): their labs are rootless labs in user namespaces.
- On first login a copy of the tutorial is made in their home, by the learner's own uid.
- ``jupyterhub-idle-culler`` (a Hub service) stops servers idle for ``[culler] timeout_s``;
  a server's kernels end with it, and a lab's daemon ends with its kernel.
- Stopping the Hub stops every server (``cleanup_servers``), and with them every lab; a
  post-stop hook then drops the ended labs' records (``labkit ls`` as the learner).
- Root sees every learner's labs with ``labkit ls --all``.

Ports: the public proxy on ``[hub] port``, the Hub's own API on port + 1 and the proxy's
API on port + 2, all on ``[hub] ip``.
"""

import os
import sys
from pathlib import Path

import tomllib
from jupyterhub.spawner import LocalProcessSpawner

from labkit.core.hubconfig import ClassConfig, parse_class_config
from labkit.errors import InvalidArgument

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

HERE = Path(__file__).resolve().parent
CONFIG = Path(os.environ.get("LABKIT_CLASS_CONFIG", HERE / "class.toml"))
BIN = Path(sys.executable).parent  # the virtualenv's bin/
CHP = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


def load(path: Path) -> ClassConfig:
    """The checked class settings, or stop the Hub with the reason."""
    try:
        data = tomllib.loads(path.read_text())
        return parse_class_config(data, LocalProcessSpawner.class_trait_names(config=True))
    except OSError as exc:
        raise SystemExit(f"labkit hub: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SystemExit(f"labkit hub: {path} is not valid TOML: {exc}") from None
    except InvalidArgument as exc:
        raise SystemExit(f"labkit hub: {path}: {exc}") from None


cfg = load(CONFIG)
STATE = Path(os.environ.get("LABKIT_HUB_STATE", "/var/lib/labkit-hub"))
STATE.mkdir(mode=0o700, parents=True, exist_ok=True)

# --- the Hub and its proxy, on one address
c.JupyterHub.ip = cfg.ip
c.JupyterHub.port = cfg.port
c.JupyterHub.hub_ip = cfg.ip
c.JupyterHub.hub_port = cfg.port + 1
c.ConfigurableHTTPProxy.api_url = f"http://{cfg.ip}:{cfg.port + 2}"
if CHP.exists():
    c.ConfigurableHTTPProxy.command = [str(CHP)]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # the Hub stops: every learner's server (and lab) stops
c.JupyterHub.cleanup_proxy = True

# --- who may log in: the class's Unix users (PAM), never created by the Hub
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(cfg.learners)
c.Authenticator.admin_users = set(cfg.admins)
c.LocalAuthenticator.create_system_users = False

# --- each learner's server: their own uid, the tutorial's first notebook
c.JupyterHub.spawner_class = LocalProcessSpawner
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = f"~/{cfg.tutorial_folder}"
c.Spawner.default_url = f"/lab/tree/{cfg.first_notebook}"
for key, value in cfg.spawner.items():
    setattr(c.LocalProcessSpawner, key, value)


def copy_tutorial(spawner: LocalProcessSpawner) -> None:
    """pre_spawn_hook: on first login, copy the tutorial into the learner's home.

    The copy is made by the learner's own uid (``setpriv``), never by root, so a link the
    learner planted in their home cannot make the Hub write anywhere else.
    """
    import pwd
    import subprocess

    pw = pwd.getpwnam(spawner.user.name)
    dest = Path(pw.pw_dir) / cfg.tutorial_folder
    if os.path.lexists(dest):
        return  # not the first login: never overwrite a learner's work
    r = subprocess.run(
        ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
         "cp", "-R", "--no-preserve=mode,ownership", cfg.tutorial_source, str(dest)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"copying the tutorial to {dest} failed: {r.stderr.strip()}")
    spawner.log.info("labkit: copied the tutorial to %s", dest)


c.Spawner.pre_spawn_hook = copy_tutorial


async def forget_ended_labs(spawner: LocalProcessSpawner) -> None:
    """post_stop_hook: once the learner's kernels are gone, drop their labs' records.

    A stopping Jupyter server does not always shut its kernels down: a kernel that sees its
    server gone ends at once (``os._exit``), and its labs' daemons with it, but the labs'
    records stay. ``labkit ls`` run *as the learner* drops records whose processes are gone;
    it is retried for a few seconds while the kernels notice (ipykernel polls every second).
    """
    import asyncio
    import pwd

    pw = pwd.getpwnam(spawner.user.name)
    argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
            sys.executable, "-m", "labkit", "ls"]  # fmt: skip
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": pw.pw_dir, "USER": pw.pw_name}
    try:
        for _ in range(30):
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd="/", stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await proc.communicate()
            if proc.returncode != 0 or out.startswith(b"no labs running"):
                return
            await asyncio.sleep(0.5)
    except Exception:  # noqa: BLE001 - a hook must not stop the Hub from stopping the server
        spawner.log.exception("labkit: could not tidy %s's lab records", spawner.user.name)


c.Spawner.post_stop_hook = forget_ended_labs

# --- services: the idle culler, and an optional admin token for scripts (and the class test)
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable, "-m", "jupyterhub_idle_culler",
            f"--timeout={cfg.cull_timeout_s}", f"--cull-every={cfg.cull_every_s}",
        ],  # fmt: skip
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
if cfg.api_token_file:
    token = Path(cfg.api_token_file).read_text().strip()
    c.JupyterHub.services.append({"name": "class-admin", "api_token": token})
    c.JupyterHub.load_roles.append(
        {
            "name": "class-admin",
            "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:users"],
            "services": ["class-admin"],
        }
    )
