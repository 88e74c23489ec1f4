"""The lab's pid 1: its one fork server. It forks the containers' holders and the packet
agents, reaps every child, and exits with the daemon.

Pid 1 forks the daemon before anything heavy is imported and stays behind, small and
single-threaded, so a fork from it is cheap (~1 ms, against ~6 ms from the daemon) and
safe (no other thread holds a lock in the child). What it forks shares its pages:

- a **holder** (:mod:`labkit.daemon.holder`) only makes syscalls and sleeps;
- a **packet agent** (:mod:`labkit.packets.agent`, imported here before the daemon is
  forked) enters a node's network, UTS and mount namespaces and serves its protocol on a
  socket the daemon passed with the request (``SCM_RIGHTS``). The agent imports scapy only
  if it is asked to craft a packet, so a lab that captures and pings never loads it.

The daemon's end is a :class:`ForkServer`: requests are pickles on an ``AF_UNIX``
``SOCK_SEQPACKET`` pair, answered in order with ``(ok, value)``. Both ends live inside the
lab's sandbox, so the pickles never cross a trust boundary. When the daemon exits, pid 1
exits with its status and the kernel ends every process of the lab (its pid namespace).
"""

from __future__ import annotations

import collections
import gc
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any

from labkit.daemon import holder, nsutil

#: the daemon's end of the socket to pid 1 (set by ``labkit.daemon.__main__``)
SERVER: ForkServer | None = None

#: an agent's process name (``ps -o pid,comm`` in the lab tells agents from holders)
AGENT_NAME = "labkit-agent"
#: namespaces an agent enters, in this order (the mount namespace last: the others are
#: opened by their /proc path, which the node's mount namespace may not show)
AGENT_NS = (("net", nsutil.CLONE_NEWNET), ("uts", nsutil.CLONE_NEWUTS), ("mnt", nsutil.CLONE_NEWNS))


class _Reply(Future[Any]):
    """pid 1's answer to one request, read when someone asks for it (no reader thread)."""

    def __init__(self, server: ForkServer) -> None:
        super().__init__()
        self._server = server

    def result(self, timeout: float | None = None) -> Any:
        if not self.done():
            self._server.pump(self, timeout)
        return super().result(timeout=0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self.done():
            self._server.pump(self, timeout)
        return super().exception(timeout=0)


class ForkServer:
    """The daemon's end of the socket to pid 1: requests go out in order and pid 1 answers
    them in the same order. The answers are read when one is needed (a future's
    ``result()``) and, without waiting, at each new request: so ``docker run`` need not wait
    for the holder's ~2 ms of setup, and no thread of the daemon wakes up for each answer
    (a reader thread did, and its wake-ups cost ``docker run`` ~0.2 ms each, measured)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()  # sending, and the queue of futures
        self._recv_lock = threading.Lock()
        self._waiting: collections.deque[_Reply] = collections.deque()
        self._gone = False

    def ask(self, request: tuple[Any, ...], fds: tuple[int, ...] = ()) -> Future[Any]:
        """Send one request (with ``fds`` attached); a future of pid 1's answer."""
        future = _Reply(self)
        with self._lock:
            if self._gone:
                raise OSError("the lab's pid 1 is gone")
            self._waiting.append(future)
            socket.send_fds(self.sock, [pickle.dumps(request)], list(fds))
        self._drain(wait=0.0)
        return future

    def pump(self, future: Future[Any], timeout: float | None) -> None:
        """Read answers until ``future`` has its own; TimeoutError after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not future.done():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                raise TimeoutError("the lab's pid 1 did not answer in time")
            self._drain(wait=left)

    def _drain(self, wait: float) -> None:
        """Take every answer that is there (waiting up to ``wait`` s for the first)."""
        with self._recv_lock:
            while self._waiting:
                ready, _, _ = select.select([self.sock], [], [], wait)
                if not ready:
                    return
                wait = 0.0
                data = self.sock.recv(65536)
                with self._lock:
                    if not data:
                        self._gone = True
                        waiting, self._waiting = self._waiting, collections.deque()
                        for f in waiting:
                            f.set_exception(OSError("the lab's pid 1 is gone"))
                        return
                    future = self._waiting.popleft()
                ok, value = pickle.loads(data)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(OSError(value))


def spawn_holder(
    netns_path: str, hostname: str, binds: dict[str, str], pid_file: str | None = None
) -> Future[int]:
    """A holder for the network namespace pinned at ``netns_path``: a future of its PID.

    ``binds`` maps files the daemon wrote to where they appear in the node
    (``{"/run/labkit/nodes/c1/hosts": "/etc/hosts"}``); the holder writes its PID to
    ``pid_file`` (so no thread of the daemon has to). Forked by pid 1; by the calling
    process when there is no pid 1 to ask (a benchmark's own loop).
    """
    if SERVER is not None:
        return SERVER.ask(("holder", netns_path, hostname, binds, pid_file))
    future: Future[int] = Future()
    try:
        future.set_result(holder.fork_holder(netns_path, hostname, binds, pid_file))
    except OSError as exc:
        future.set_exception(exc)
    return future


def reap(pid: int) -> None:
    """Kill a holder by PID and wait for it (through pid 1, its parent, when there is one)."""
    if SERVER is not None:
        SERVER.ask(("kill", pid)).result()
    else:
        holder.kill_and_wait(pid)


def spawn_agent(paths: dict[str, str], conn: socket.socket) -> int:
    """Fork a packet agent inside the namespaces at ``paths`` (``{"net": "/proc/PID/ns/net",
    "uts": ..., "mnt": ...}``; none for the Docker host's own), serving on ``conn``; its PID.

    The caller keeps the other end of ``conn`` and may close ``conn`` once this returns.
    """
    if SERVER is None:
        raise OSError("no fork server: packet agents are forked by the lab's pid 1")
    return int(SERVER.ask(("agent", paths), (conn.fileno(),)).result(timeout=30))


def _agent_child(paths: dict[str, str], conn_fd: int) -> None:
    """In the forked child: enter the node's namespaces, then serve. Never returns."""
    try:
        from labkit.packets import agent

        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        nsutil.set_process_name(AGENT_NAME)
        fds = {kind: os.open(paths[kind], os.O_RDONLY) for kind, _ in AGENT_NS if kind in paths}
        for kind, flag in AGENT_NS:
            if kind in fds:
                nsutil.setns(fds[kind], flag)
                os.close(fds[kind])
        os.dup2(conn_fd, 0)
        os.dup2(conn_fd, 1)
        os.close(conn_fd)
        agent.serve(0.0)
    except BaseException as exc:  # noqa: BLE001 - report and leave, never unwind into pid 1
        print(f"labkit agent (forked by pid 1): {exc!r}", file=sys.stderr, flush=True)
    os._exit(1)


def _fork_agent(paths: dict[str, str], conn_fd: int, keep_closed: list[int]) -> int:
    pid = os.fork()
    if pid == 0:
        for fd in keep_closed:
            try:
                os.close(fd)
            except OSError:
                pass
        _agent_child(paths, conn_fd)
    return pid


def serve(sock: socket.socket | None, daemon_pid: int) -> None:
    """Pid 1's loop: fork holders and agents on request, reap every child, exit with the
    daemon (with its exit status)."""
    # Move everything imported so far out of the collector's reach: a forked agent's
    # collections then never touch (and so never copy) the pages it shares with pid 1
    # (CPython's gc.freeze, made for pre-fork servers).
    gc.collect()
    gc.freeze()
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
        data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 4)
        if not data:
            # the daemon closed its end: wait for it to exit (an unconnected socket put in
            # its place used to select as readable, and recv() then crashed pid 1, so a
            # SIGKILLed daemon was reported as "exit status 1")
            sock.close()
            sock = None
            continue
        try:
            reply = _answer(pickle.loads(data), fds, [sock.fileno(), wake_r, wake_w])
        except Exception as exc:  # noqa: BLE001 - goes back to the daemon
            reply = (False, str(exc))
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(pickle.dumps(reply))


def _answer(req: tuple[Any, ...], fds: list[int], mine: list[int]) -> tuple[bool, Any]:
    if req[0] == "holder":
        return True, holder.fork_holder(*req[1:])
    if req[0] == "kill":
        holder.kill_and_wait(int(req[1]))
        return True, None
    if req[0] == "agent" and len(fds) == 1:
        return True, _fork_agent(req[1], fds[0], mine)
    return False, f"unknown request {req[0]!r} with {len(fds)} fds"
