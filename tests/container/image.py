"""Building labkit's image (.devcontainer/Dockerfile) on a real engine with no registry.

The engine's build containers have no route to any package registry (its uplink ends at a
documentation address), so the root filesystem is prepared outside the engine:
``debootstrap --variant=minbase --include=PACKAGES bookworm`` (in a mount namespace of its
own), then a venv with labkit's dependencies installed by ``chroot`` from wheels that this
machine's pip client downloaded (with the machine's CA bundle and pip configuration, as
``make venv`` uses them: none of it is copied into the image). That tree is ``docker
import``-ed as the base, and ``docker build --build-arg BASE=...`` finds
everything present: no step of the Dockerfile needs the network.

The prepared tree is cached under the temporary directory, keyed by what it holds, so a
second local run skips the ~2 minutes; CI starts from a clean machine anyway.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / ".devcontainer" / "Dockerfile"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MIRROR = "http://deb.debian.org/debian"


def packages() -> list[str]:
    """The Debian packages the Dockerfile installs (its PACKAGES build argument)."""
    text = DOCKERFILE.read_text()
    m = re.search(r'ARG PACKAGES="([^"]*)"', text)
    assert m, "the Dockerfile must declare ARG PACKAGES=\"...\""
    return m.group(1).replace("\\\n", " ").split()


def _key() -> str:
    h = hashlib.sha256()
    h.update(" ".join(packages()).encode())
    h.update((REPO / "pyproject.toml").read_bytes())
    return h.hexdigest()[:12]


def cache_dir() -> Path:
    """The base root filesystem's cache: ours alone (owner and mode checked with lstat, as the
    lab registry is), since the tests chroot into what it holds as root."""
    d = Path(tempfile.gettempdir()) / "labkit-container-cache"
    d.mkdir(mode=0o700, exist_ok=True)
    st = d.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise RuntimeError(f"{d} is not a private directory of uid {os.geteuid()}: remove it")
    return d


def _run(argv: list[str], **extra_env: str) -> None:
    env = dict(os.environ, PATH=SBIN_PATH + ":" + os.environ.get("PATH", ""),
               DEBIAN_FRONTEND="noninteractive", **extra_env)  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... failed ({proc.returncode}): "
                           f"{(proc.stdout + proc.stderr)[-1500:]}")  # fmt: skip


_CHROOT = r"""
set -eu
R="$1"
mount --make-rprivate /
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$R/tmp/src"
cp -r "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/labkit" "$R/tmp/src/"
cp -r "$WHEELS" "$R/tmp/wheels"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root chroot "$R" /bin/sh -c '
  set -eu
  python3 -m venv /opt/venv
  PIP="/opt/venv/bin/pip install -q --no-index --find-links /tmp/wheels"
  $PIP --upgrade pip "setuptools>=77"
  $PIP "/tmp/src[notebook,test]"
  /opt/venv/bin/pip uninstall -q -y labkit
  find /opt/venv -name __pycache__ -prune -exec rm -rf {} +
'
"""


def download_wheels(into: Path) -> None:
    """labkit's dependencies as wheels, fetched by this machine's own pip client (its CA
    bundle and pip configuration apply as they do to ``make venv``); the chroot then
    installs them with no network."""
    _run([sys.executable, "-m", "pip", "download", "-q", "-d", str(into),
          f"{REPO}[notebook,test]", "setuptools>=77", "pip"])  # fmt: skip


def base_rootfs() -> Path:
    """The prepared root filesystem (cached); builds it when missing."""
    root = cache_dir() / _key() / "rootfs"
    done = root.parent / "complete"
    if done.exists():
        return root
    for stale in cache_dir().iterdir():  # one base at a time: drop those of older settings
        if re.fullmatch(r"[0-9a-f]{12}", stale.name) and stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale)
    root.parent.mkdir(parents=True)
    # debootstrap mounts /proc and /sys in the target: in a mount namespace of its own
    _run(["unshare", "--mount", "--propagation", "private", "--fork",
          "debootstrap", "--variant=minbase", "--include=" + ",".join(packages()), "bookworm",
          str(root), MIRROR])  # fmt: skip
    wheels = root.parent / "wheels"
    download_wheels(wheels)
    _run(["unshare", "--mount", "--fork", "sh", "-c", _CHROOT, "chroot-prep", str(root)],
         SRC=str(REPO), WHEELS=str(wheels))  # fmt: skip
    shutil.rmtree(wheels)
    done.write_text("debootstrap and venv complete\n")
    return root
