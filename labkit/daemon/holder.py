"""A node's holder process: the container's "init", keeping its UTS and mount namespaces.

A holder enters the node's network namespace, makes its own UTS and mount namespaces,
mounts a private ``/tmp`` (the rest of the filesystem is read-only, as the daemon made it),
a fresh ``/sys`` (so ``/sys/class/net`` and ``brctl show`` tell the truth about *this*
namespace, as ``ip netns exec`` arranges), bind-mounts the node's own ``/etc/hosts``,
``/etc/hostname`` and ``/etc/resolv.conf``, sets the hostname and sleeps. Commands enter it
with ``nsenter -t PID -n -m -u``.

Holders are forked by the sandbox's pid 1 (the *zygote*: a small process that imported
nothing heavy, so a fork costs ~1 ms instead of the daemon's ~6 ms), which also reaps them.
When the daemon exits, pid 1 exits and the kernel ends every process of the lab.
"""

from __future__ import annotations

import collections
import errno
import os
import pickle
import select
import signal
import socket
import threading
from concurrent.futures import Future
from typing import Any

from labkit.daemon import nsutil

#: the daemon's end of the socket to pid 1 (set by ``labkit.daemon.__main__``)
ZYGOTE: Zygote | None = None
#: how each node mounts its sysfs: rw, ro or hidden (``nsutil.mount_sysfs``; set by the
#: daemon's main from the sandbox's plan)
SYSFS = "rw"


def _holder_body(netns_path: str, hostname: str, binds: dict[str, str], ready_w: int) -> None:
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
        nsutil.mount_tmpfs("/tmp")  # each container its own /tmp
        for src, dst in binds.items():
            nsutil.mount(src, dst, None, nsutil.MS_BIND)
        nsutil.sethostname(hostname)
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


def fork_holder(netns_path: str, hostname: str, binds: dict[str, str]) -> int:
    """Fork a holder from the calling process; return its PID once it is ready."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _holder_body(netns_path, hostname, binds, ready_w)
    os.close(ready_w)
    try:
        answer = os.read(ready_r, 600)
    finally:
        os.close(ready_r)
    if answer != b"1":
        _kill_and_wait(pid)
        raise OSError(f"the holder process failed: {answer[1:].decode(errors='replace') or 'died'}")
    return pid


def _kill_and_wait(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class Zygote:
    """The daemon's end of the socket to pid 1: requests go out in order, replies come back
    in the same order and are handed to :class:`~concurrent.futures.Future` objects by a
    reader thread, so ``docker run`` need not wait for the holder's ~2 ms of setup."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._waiting: collections.deque[Future[Any]] = collections.deque()
        threading.Thread(target=self._read, name="zygote", daemon=True).start()

    def ask(self, request: tuple[Any, ...]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            self._waiting.append(future)
            self.sock.send(pickle.dumps(request))
        return future

    def _read(self) -> None:
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            ok, value = pickle.loads(data)
            with self._lock:
                future = self._waiting.popleft()
            if ok:
                future.set_result(value)
            else:
                future.set_exception(OSError(f"the holder process failed: {value}"))


def spawn_holder(netns_path: str, hostname: str, binds: dict[str, str]) -> Future[int]:
    """A holder for the network namespace pinned at ``netns_path``: a future of its PID.

    ``binds`` maps files the daemon wrote to where they appear in the node
    (``{"/run/labkit/nodes/c1/hosts": "/etc/hosts"}``).
    """
    if ZYGOTE is not None:
        return ZYGOTE.ask(("spawn", netns_path, hostname, binds))
    future: Future[int] = Future()
    try:
        future.set_result(fork_holder(netns_path, hostname, binds))
    except OSError as exc:
        future.set_exception(exc)
    return future


def reap(pid: int) -> None:
    """Kill a holder by PID and wait for it (through pid 1 when it is the parent)."""
    if ZYGOTE is not None:
        ZYGOTE.ask(("kill", pid)).result()
    else:
        _kill_and_wait(pid)


def zygote(sock: socket.socket | None, daemon_pid: int) -> None:
    """Pid 1's loop: fork holders on request, reap every child, exit with the daemon."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                os._exit(0)
            if pid == 0:
                break
            if pid == daemon_pid:
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        watched: list[int | socket.socket] = [wake_r] if sock is None else [sock, wake_r]
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
        if sock is None or sock not in ready:
            continue
        data = sock.recv(65536)
        if not data:
            # the daemon closed its end: wait for it to exit (an unconnected socket put in
            # its place used to select as readable, and recv() then crashed pid 1, so a
            # SIGKILLed daemon was reported as "exit status 1")
            sock.close()
            sock = None
            continue
        req = pickle.loads(data)
        try:
            if req[0] == "spawn":
                reply: tuple[bool, Any] = (True, fork_holder(*req[1:]))
            elif req[0] == "kill":
                _kill_and_wait(int(req[1]))
                reply = (True, None)
            else:
                reply = (False, f"unknown request {req[0]!r}")
        except Exception as exc:  # noqa: BLE001 - goes back to the daemon
            reply = (False, str(exc))
        sock.send(pickle.dumps(reply))
