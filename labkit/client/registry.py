"""A small record of the labs this user has running, for ``labkit ls`` and ``labkit shell``.

One JSON file per lab in ``$XDG_RUNTIME_DIR/labkit`` (or ``/tmp/labkit-UID``), written
when a lab starts and removed when it closes. A record whose processes are gone (its owner
was SIGKILLed) is stale: the kernel already freed that lab, so ``labkit ls`` just drops
the file. Nothing is ever deleted by pattern.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any


def registry_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR")
    d = (
        Path(base) / "labkit"
        if base and os.access(base, os.W_OK)
        else Path(f"/tmp/labkit-{os.getuid()}")
    )
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# records this process wrote: removed at exit too (a kernel shut down by its Jupyter server
# exits without closing its labs; its labs' daemons end with it, and so must their records)
_WRITTEN: set[Path] = set()


def register(record: dict[str, Any]) -> Path:
    """Write a lab's record; returns its path (remove it with :func:`unregister`)."""
    path = registry_dir() / f"{record['owner_pid']}-{record['sandbox_pid']}.json"
    record = {**record, "started": time.time()}
    path.write_text(json.dumps(record))
    _WRITTEN.add(path)
    return path


def unregister(path: Path | None) -> None:
    if path is not None:
        _WRITTEN.discard(path)
        with contextlib.suppress(OSError):
            path.unlink()


@atexit.register
def _unregister_all() -> None:
    for path in list(_WRITTEN):
        unregister(path)


def running_labs() -> list[dict[str, Any]]:
    """Records of the labs that are still running, oldest first."""
    out = []
    for path in sorted(registry_dir().glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(int(rec["sandbox_pid"])) and _alive(int(rec["owner_pid"])):
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
            try:
                rec = json.loads(path.read_text())
                alive = _alive(int(rec["sandbox_pid"])) and _alive(int(rec["owner_pid"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if alive:
                out.append({**rec, "uid": uid})
    return sorted(out, key=lambda r: r.get("started", 0))
