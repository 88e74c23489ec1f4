"""A node's holder process: the container's "init", keeping its UTS and mount namespaces.

Forked from the daemon, it enters the node's network namespace, makes its own UTS and mount
namespaces, mounts a fresh ``/sys`` (so ``/sys/class/net`` and ``brctl show`` tell the
truth about *this* namespace, as ``ip netns exec`` arranges), bind-mounts the node's own
``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf``, sets the hostname and sleeps.
Commands enter it with ``nsenter -t PID -n -m -u``. It dies with the daemon: the daemon's
pid namespace takes every process with it.
"""

from __future__ import annotations

import os
import signal

from labkit.daemon import nsutil


def spawn_holder(netns_fd: int, hostname: str, binds: dict[str, str]) -> int:
    """Fork a holder for the network namespace ``netns_fd``; return its PID once it is ready.

    ``binds`` maps files the daemon wrote to where they appear in the node
    (``{"/run/labkit/c1/hosts": "/etc/hosts"}``).
    """
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: only syscalls, then sleep; never return into the daemon's code
        code = 0
        try:
            os.close(ready_r)
            nsutil.setns(netns_fd, nsutil.CLONE_NEWNET)
            nsutil.unshare(nsutil.CLONE_NEWNS | nsutil.CLONE_NEWUTS)
            nsutil.mount(None, "/", None, nsutil.MS_REC | nsutil.MS_PRIVATE)
            nsutil.mount("sysfs", "/sys", "sysfs", 0)
            for src, dst in binds.items():
                nsutil.mount(src, dst, None, nsutil.MS_BIND)
            nsutil.sethostname(hostname)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
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
    os.close(ready_w)
    try:
        answer = os.read(ready_r, 600)
    finally:
        os.close(ready_r)
    if answer != b"1":
        reap(pid)
        raise OSError(f"the holder process failed: {answer[1:].decode(errors='replace') or 'died'}")
    return pid


def reap(pid: int) -> None:
    """Kill a holder (our own child, by PID) and wait for it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
