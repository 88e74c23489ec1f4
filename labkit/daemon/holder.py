"""A node's holder process: the container's "init", keeping its UTS and mount namespaces.

A holder enters the node's network namespace, makes its own UTS and mount namespaces,
mounts a private ``/tmp`` (the rest of the filesystem is read-only, as the daemon made it),
a fresh ``/sys`` (so ``/sys/class/net`` and ``brctl show`` tell the truth about *this*
namespace, as ``ip netns exec`` arranges), bind-mounts the node's own ``/etc/hosts``,
``/etc/hostname`` and ``/etc/resolv.conf``, sets the hostname and sleeps. Commands enter it
with ``nsenter -t PID -n -m -u``.

Holders are forked by the sandbox's pid 1 (:mod:`labkit.daemon.forkserver`: a small process
that imported nothing heavy, so a fork costs ~1 ms instead of the daemon's ~6 ms), which
also reaps them. When the daemon exits, pid 1 exits and the kernel ends every process of
the lab.
"""

from __future__ import annotations

import errno
import os
import signal

from labkit.daemon import nsutil

#: how each node mounts its sysfs: rw, ro or hidden (``nsutil.mount_sysfs``; set by the
#: daemon's main from the sandbox's plan)
SYSFS = "rw"


def _holder_body(
    netns_path: str, hostname: str, binds: dict[str, str], ready_w: int, pid_file: str | None
) -> None:
    """In the forked child: only syscalls, then sleep; never returns."""
    code = 0
    try:
        fd = os.open(netns_path, os.O_RDONLY)
        nsutil.setns(fd, nsutil.CLONE_NEWNET)
        os.close(fd)
        # the copy of the daemon's mounts is private already (unshare --mount made them so)
        nsutil.unshare(nsutil.CLONE_NEWNS | nsutil.CLONE_NEWUTS)
        try:
            nsutil.mount_sysfs(SYSFS)
        except OSError as exc:
            # EBUSY: this namespace's sysfs is the one already there (``--network host``
            # joins the daemon's own namespace), so the inherited /sys is the right one
            if exc.errno != errno.EBUSY:
                raise
        nsutil.mount_private_tmp()  # each container its own /tmp
        for src, dst in binds.items():
            nsutil.mount(src, dst, None, nsutil.MS_BIND)
        nsutil.sethostname(hostname)
        if pid_file is not None:  # for `labkit shell NODE` (the lab's /run, seen from here too)
            out = os.open(pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(out, f"{os.getpid()}\n".encode())
            os.close(out)
        devnull = os.open(os.devnull, os.O_RDWR)
        for i in (0, 1, 2):
            os.dup2(devnull, i)
        os.closerange(3, ready_w)
        os.closerange(ready_w + 1, 65536)
        os.write(ready_w, b"1")
        os.close(ready_w)
        while True:
            signal.pause()
    except BaseException as exc:  # report to the parent, never unwind into it
        try:
            os.write(ready_w, b"E" + str(exc).encode()[:500])
        except OSError:
            pass
        code = 1
    os._exit(code)


def fork_holder(
    netns_path: str, hostname: str, binds: dict[str, str], pid_file: str | None = None
) -> int:
    """Fork a holder from the calling process; return its PID once it is ready. The holder
    writes its PID to ``pid_file`` itself, before it says it is ready."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _holder_body(netns_path, hostname, binds, ready_w, pid_file)
    os.close(ready_w)
    try:
        answer = os.read(ready_r, 600)
    finally:
        os.close(ready_r)
    if answer != b"1":
        kill_and_wait(pid)
        raise OSError(f"the holder process failed: {answer[1:].decode(errors='replace') or 'died'}")
    return pid


def kill_and_wait(pid: int) -> None:
    """SIGKILL a child by PID and reap it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
