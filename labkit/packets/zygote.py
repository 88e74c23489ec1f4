"""A fork server for probe agents: scapy imported once, an agent per namespace in ~30 ms.

Importing scapy costs ~0.3–0.5 s, paid by every agent that starts from scratch. The zygote
(``python -m labkit.packets.zygote``, started by the daemon in the Docker host's namespaces)
imports scapy once. For each node it forks a child that *first* enters the node's network,
UTS and mount namespaces, *then* re-reads scapy's process-global caches (interfaces,
routes) for that namespace, and serves the agent protocol on a socket the daemon receives
(``SCM_RIGHTS``). So every agent still sees only its own namespace, as a freshly started
one would, without paying for the import again.

Control protocol on the fd named by ``LABKIT_ZYGOTE_FD`` (``AF_UNIX``, ``SOCK_SEQPACKET``):
the daemon sends a pickle ``{"net": path, "uts": path, "mnt": path}`` (any may be absent,
for the host), the zygote
answers ``b"PID"`` with the agent's socket attached, or ``b"E message"``. Its first message,
once scapy is imported, is ``b"ready MS"``.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import socket
import sys
from typing import Any

NS_FLAGS = {"net": 0x40000000, "uts": 0x04000000, "mnt": 0x00020000}
ORDER = ("net", "uts", "mnt")  # the mount namespace last: the others are opened by path


#: A zygote the daemon started at boot (:func:`start_early`), before it even imported its
#: own modules, for the lab's probes to adopt (:func:`take_early`).
_EARLY: tuple[Any, socket.socket, float] | None = None


def spawn(env: dict[str, str]) -> tuple[Any, socket.socket, float]:
    """Start a zygote in the caller's namespaces: ``(process, control socket, start time)``.

    ``env`` is the environment of the lab's commands (labkit importable); the start time is
    a ``time.perf_counter()``, to time the zygote until its ``ready``.
    """
    import subprocess
    import time

    t0 = time.perf_counter()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    env = dict(env, LABKIT_ZYGOTE_FD=str(theirs.fileno()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.packets.zygote"],
        stdin=subprocess.DEVNULL,
        env=env,
        pass_fds=(theirs.fileno(),),
    )
    theirs.close()
    return proc, mine, t0


def start_early(env: dict[str, str]) -> None:
    """Start the zygote now (the daemon's boot): it imports scapy on the other core while
    the daemon imports its modules and builds the Docker host."""
    global _EARLY
    _EARLY = spawn(env)


def take_early() -> tuple[Any, socket.socket, float] | None:
    """The zygote :func:`start_early` started, once; ``None`` if there is none (any more)."""
    global _EARLY
    early, _EARLY = _EARLY, None
    return early


def _reap(*_: object) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(conn: socket.socket, paths: dict[str, str]) -> None:
    """In the forked child: enter the namespaces, refresh scapy, serve. Never returns."""
    from labkit.daemon import nsutil
    from labkit.packets import agent

    try:
        fds = {kind: os.open(paths[kind], os.O_RDONLY) for kind in ORDER if kind in paths}
        for kind in ORDER:
            if kind in fds:
                nsutil.setns(fds[kind], NS_FLAGS[kind])
                os.close(fds[kind])
        # always: even the host's agent, whose namespaces the zygote shares, since the
        # zygote imported scapy while the daemon was still building docker0 and eth0
        agent.reload_scapy_caches()
        os.dup2(conn.fileno(), 0)
        os.dup2(conn.fileno(), 1)
        conn.close()
        agent.serve(0.0)
    except BaseException as exc:  # noqa: BLE001 - report and leave, never unwind
        print(f"labkit agent zygote child: {exc!r}", file=sys.stderr, flush=True)
    os._exit(1)


def main() -> None:
    from labkit.packets import agent

    ctl = socket.socket(fileno=int(os.environ.pop("LABKIT_ZYGOTE_FD")))
    import_ms = agent.import_scapy()
    # Move everything imported so far out of the collector's reach: a forked agent's
    # collections then never touch (and so never copy) the pages it shares with the zygote
    # (CPython's gc.freeze, made for pre-fork servers). Saves memory per agent.
    gc.collect()
    gc.freeze()
    ctl.send(f"ready {import_ms:.0f}".encode())
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            data = ctl.recv(65536)
        except InterruptedError:
            continue
        if not data:
            return  # the daemon is gone
        try:
            paths = pickle.loads(data)
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pid = os.fork()
            if pid == 0:
                ctl.close()
                mine.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _child(theirs, paths)
            theirs.close()
            socket.send_fds(ctl, [str(pid).encode()], [mine.fileno()])
            mine.close()
        except Exception as exc:  # noqa: BLE001 - goes back to the daemon
            ctl.send(b"E " + str(exc).encode()[:1000])


if __name__ == "__main__":
    main()
