"""A small record of the labs this user has running, for ``labkit ls`` and ``labkit shell``.

One JSON file per lab in ``$XDG_RUNTIME_DIR/labkit`` (or ``/tmp/labkit-UID``), written
when a lab starts and removed when it closes. A record whose processes are gone (its owner
was SIGKILLed) is stale: the kernel already freed that lab, so ``labkit ls`` just drops
the file. Nothing is ever deleted by pattern.

``labkit shell`` enters the namespaces a record names, so the directory is trusted only when
it is this user's own: a real directory (checked with ``lstat``, never through a symlink),
owned by this uid, mode ``0700``. Records are created with ``O_EXCL | O_NOFOLLOW`` and read
with ``O_NOFOLLOW``; anything else raises :class:`RegistryUnsafe` saying what to remove.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from labkit.errors import RegistryUnsafe

__all__ = ["RegistryUnsafe", "register", "unregister", "running_labs", "registry_dir"]

_MAX_RECORD = 64 * 1024


def _base_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.access(base, os.W_OK):
        return Path(base) / "labkit"
    return Path(f"/tmp/labkit-{os.getuid()}")


def check_dir(d: Path) -> None:
    """Raise :class:`RegistryUnsafe` unless ``d`` is a real directory of ours, mode 0700."""
    st = os.lstat(d)
    uid = os.getuid()
    fix = f"remove it (`rm -r {d}` as its owner) and labkit will make a new one"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise RegistryUnsafe(f"the lab registry {d} is not a directory (a symlink?); {fix}")
    if st.st_uid != uid:
        raise RegistryUnsafe(
            f"the lab registry {d} belongs to uid {st.st_uid}, not to you (uid {uid}); "
            f"another user may have planted it: {fix}"
        )
    if stat.S_IMODE(st.st_mode) != 0o700:
        raise RegistryUnsafe(
            f"the lab registry {d} has mode {stat.S_IMODE(st.st_mode):04o}, not 0700; "
            f"`chmod 700 {d}`, or {fix}"
        )


def registry_dir() -> Path:
    """The registry directory, created (0700) if needed and checked every time."""
    d = _base_dir()
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    check_dir(d)
    return d


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: ``ioctl(NS_GET_OWNER_UID)`` on a user namespace: the uid that created it (linux/nsfs.h)
NS_GET_OWNER_UID = 0xB704


def _userns_owner(pid: int) -> int | None:
    """The uid that owns process ``pid``'s user namespace (None when it cannot be read)."""
    import fcntl
    import struct

    try:
        fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    except OSError:
        return None
    try:
        raw = fcntl.ioctl(fd, NS_GET_OWNER_UID, b"\0" * 4)
        return int(struct.unpack("I", raw)[0])
    except OSError:
        return None
    finally:
        os.close(fd)


def _ours(pid: int) -> bool:
    """Is process ``pid`` ours (a record must not point at someone else's)? It runs as this
    user, or in a user namespace (not our own) that this user made: a lab started as root
    maps its root to a subordinate uid (``labkit.daemon.launch``), so its processes run as
    that uid."""
    try:
        if os.stat(f"/proc/{pid}").st_uid == os.getuid():
            return True
        if os.stat(f"/proc/{pid}/ns/user").st_ino == os.stat("/proc/self/ns/user").st_ino:
            return False  # someone else's process, in our own user namespace
    except OSError:
        return False
    return _userns_owner(pid) == os.getuid()


def register(record: dict[str, Any]) -> Path:
    """Write a lab's record; returns its path (remove it with :func:`unregister`)."""
    d = registry_dir()
    path = d / f"{int(record['owner_pid'])}-{int(record['sandbox_pid'])}.json"
    data = json.dumps({**record, "started": time.time()}).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise RegistryUnsafe(
            f"a file {path} already exists in the lab registry (a planted record or "
            "symlink?); remove it"
        ) from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def unregister(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def read_record(path: Path, uid: int | None = None) -> dict[str, Any] | None:
    """One record, read without following a symlink; None when it is not a valid record
    owned by ``uid`` (default: ours) — someone else's file, a symlink, not JSON."""
    owner = os.getuid() if uid is None else uid
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != owner:
            return None
        raw = f.read(_MAX_RECORD + 1)
    try:
        rec = json.loads(raw)
        int(rec["sandbox_pid"]), int(rec["owner_pid"])
    except (ValueError, KeyError, TypeError):
        return None
    return rec if isinstance(rec, dict) else None


def running_labs() -> list[dict[str, Any]]:
    """Records of the labs that are still running, oldest first."""
    out = []
    for path in sorted(registry_dir().glob("*.json")):
        rec = read_record(path)
        if rec is None:
            continue
        spid, opid = int(rec["sandbox_pid"]), int(rec["owner_pid"])
        if _alive(spid) and _alive(opid):
            if _ours(spid) and _ours(opid):
                out.append(rec)
        else:
            unregister(path)
    return sorted(out, key=lambda r: r.get("started", 0))


def all_labs() -> list[dict[str, Any]]:
    """Every user's running labs (root only: ``labkit ls --all``), oldest first.

    Reads each user's registry (``/run/user/UID/labkit`` and ``/tmp/labkit-UID``) without
    changing it: a directory is read only when the uid in its name owns it, and stale records
    are skipped, not removed (they belong to their user). Each record gains ``uid``.
    """
    from labkit.errors import EnvironmentProblem

    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "`labkit ls --all` shows every user's labs and needs root; "
            "`labkit ls` shows your own (or run `sudo labkit ls --all`)"
        )
    dirs: list[tuple[int, Path]] = []
    for base in Path("/run/user").glob("*/labkit"):
        if base.parent.name.isdigit():
            dirs.append((int(base.parent.name), base))
    for base in Path("/tmp").glob("labkit-*"):
        if base.name[len("labkit-") :].isdigit():
            dirs.append((int(base.name[len("labkit-") :]), base))
    out = []
    for uid, d in dirs:
        try:
            st = d.lstat()
        except OSError:
            continue
        if st.st_uid != uid or not d.is_dir() or d.is_symlink():
            continue
        for path in sorted(d.glob("*.json")):
            rec = read_record(path, uid)
            if rec is None:
                continue
            if _alive(int(rec["sandbox_pid"])) and _alive(int(rec["owner_pid"])):
                out.append({**rec, "uid": uid})
    return sorted(out, key=lambda r: r.get("started", 0))
