"""Thin namespace primitives over libc: unshare, setns, mount, sethostname.

These act on the calling *thread* where the kernel allows it (network namespaces), which
is what lets one worker thread create a network namespace, open a netlink socket in it and
step back, at the kernel's cost (~0.6 ms) instead of a fork per namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """unshare(2) for the calling thread."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    """setns(2) for the calling thread."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0) -> None:
    """mount(2)."""
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            None,
        ),
        f"mount {source} on {target}",
    )


def umount(target: str, flags: int = MNT_DETACH) -> None:
    """umount2(2), lazily by default."""
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def sethostname(name: str) -> None:
    """sethostname(2) in the caller's UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def set_process_name(name: str) -> None:
    """``prctl(PR_SET_NAME)``: the name ``ps -o comm``, ``top`` and ``pgrep`` show (≤ 15 bytes)."""
    _check(_libc.prctl(ctypes.c_int(15), name.encode()[:15], 0, 0, 0), "prctl(PR_SET_NAME)")


def bind_netns_here(path: str) -> None:
    """Make ``path`` a handle of the calling thread's network namespace (like ``ip netns add``)."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    try:
        mount("/proc/thread-self/ns/net", path, None, MS_BIND)
    except OSError:
        os.unlink(path)
        raise


MOUNT_ATTR_RDONLY = 0x1
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_RECURSIVE = 0x8000
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (Linux ≥ 5.12)


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mount_setattr(
    path: str, attr_set: int = 0, attr_clr: int = 0, recursive: bool = False
) -> None:
    """mount_setattr(2): change one flag of a mount and keep the others
    (``mount -o remount,bind,ro``)."""
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    flags = AT_SYMLINK_NOFOLLOW | (AT_RECURSIVE if recursive else 0)
    _check(
        _libc.syscall(
            ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), path.encode(),
            ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {path}",
    )  # fmt: skip


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points() -> list[str]:
    """The mount points of the caller's mount namespace, in mountinfo's order."""
    with open("/proc/self/mountinfo") as f:
        return [_unescape(line.split()[4]) for line in f if line.strip()]


#: what a lab writes (or lets its nodes write): everything else it sees read-only
WRITABLE = ("/proc", "/dev", "/run", "/tmp", "/sys")


def readonly_view(writable: tuple[str, ...] = WRITABLE) -> None:
    """Make every mount of this mount namespace read-only except under ``writable``.

    Like ``docker run --read-only`` with a tmpfs for /tmp and /run: the lab sees the
    machine's files (its tools, its Python) and can change none of them. Mount points the
    caller cannot reach (shadowed, or behind a directory it may not enter) are skipped.
    """
    for point in mount_points():
        if any(point == w or point.startswith(w + "/") for w in writable):
            continue
        try:
            mount_setattr(point, attr_set=MOUNT_ATTR_RDONLY)
        except OSError as exc:
            if exc.errno not in (2, 13, 20):  # ENOENT, EACCES, ENOTDIR
                raise


def readonly_proc_sys() -> None:
    """``/proc/sys`` read-only except ``/proc/sys/net`` (each network namespace's own), as
    Docker mounts it in containers: machine-wide sysctls such as ``vm.swappiness`` cannot be
    written from a lab, even by the fallback root mode's real root."""
    mount("/proc/sys/net", "/proc/sys/net", None, MS_BIND)
    mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC)
    mount_setattr("/proc/sys", attr_set=MOUNT_ATTR_RDONLY)


def mount_tmpfs(target: str, mode: int = 0o1777) -> None:
    """A fresh tmpfs (``mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs TARGET``)."""
    _check(
        _libc.mount(b"tmpfs", target.encode(), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV),
                    f"mode={mode:o}".encode()),
        f"mount tmpfs on {target}",
    )  # fmt: skip


def code_paths() -> list[str]:
    """Where labkit's code and its Python live (the source tree, the virtualenv, the
    interpreter): what every process of a lab must still see."""
    import sys
    from pathlib import Path

    paths = {str(Path(__file__).resolve().parents[2]), sys.prefix, sys.base_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}  # fmt: skip
    return sorted(os.path.realpath(p) for p in paths)


def mount_private_tmp() -> None:
    """A fresh tmpfs on ``/tmp`` (each node its own, as ``docker run --tmpfs /tmp``),
    keeping the code visible: where labkit or its Python live under ``/tmp`` (a clone in
    ``/tmp``), they are bound back at the same paths."""
    under = [p for p in code_paths() if p.startswith("/tmp/")]
    keep = [p for p in under if not any(p.startswith(q + "/") for q in under)]
    fds = [(p, os.open(p, os.O_PATH)) for p in keep]
    try:
        mount_tmpfs("/tmp")
        for path, fd in fds:
            os.makedirs(path, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
    finally:
        for _, fd in fds:
            os.close(fd)


#: sysfs flags: "rw" as ``ip netns exec`` mounts it; "ro" where a user namespace whose
#: machine shows a read-only /sys (a container) may only mount it read-only
SYSFS_FLAGS = {"rw": 0, "ro": MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC}
SYSFS_MODES = (*SYSFS_FLAGS, "hidden")


def mount_sysfs(how: str) -> None:
    """A fresh sysfs on /sys for the caller's network namespace (``how``: rw, ro), or an
    empty read-only tmpfs (``hidden``) where the kernel allows no sysfs: ``brctl show``
    then asks the kernel through its ioctls and stays true."""
    if how == "hidden":
        mount_tmpfs("/sys", 0o555)
        mount_setattr("/sys", attr_set=MOUNT_ATTR_RDONLY)
    else:
        mount("sysfs", "/sys", "sysfs", SYSFS_FLAGS[how])
