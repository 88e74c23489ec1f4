"""Entry point of the lab daemon: ``python -m labkit.daemon`` inside the sandbox.

Started by :mod:`labkit.sandbox` as pid 1 of a new pid namespace. Pid 1 forks the real
daemon before anything heavy is imported and stays behind as the lab's fork server
(:mod:`labkit.daemon.forkserver`): it forks the containers' holder processes and the packet
agents on the daemon's request and reaps every orphan. When the daemon exits, pid 1 exits
and the kernel ends every process of the lab and frees every namespace with it.
"""

from __future__ import annotations

import os
import socket
import sys


def main(argv: list[str]) -> None:
    sysfs = "rw"
    for arg in argv:
        if arg.startswith("--sysfs=") and arg[8:] in ("rw", "ro", "hidden"):
            sysfs = arg[8:]
        else:
            sys.exit(f"labkit.daemon: unknown argument {arg!r} (known: --sysfs=rw|ro|hidden)")
    if os.getpid() != 1:
        # only ever run as pid 1 of the sandbox labkit.sandbox creates (new user/net/mount/
        # uts/pid namespaces): anywhere else it would build docker0 in the machine's own
        # network namespace
        sys.exit(
            "labkit.daemon runs only inside a lab's sandbox; start a lab with "
            "labkit.Lab() or `labkit demo` instead"
        )
    # pid 1 forks the daemon and stays behind as the fork server and reaper
    parent_end, daemon_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    from labkit.daemon import forkserver, holder, nsutil
    from labkit.packets import agent  # noqa: F401 - pid 1 forks the agents: import it once

    # before the fork: pid 1 forks the holders, and they mount sysfs so
    holder.SYSFS = sysfs
    child = os.fork()

    if child:
        daemon_end.close()
        os.close(0)
        os.close(1)
        forkserver.serve(parent_end, child)
    parent_end.close()
    forkserver.SERVER = forkserver.ForkServer(daemon_end)
    from labkit.daemon.imports import lean_pyroute2

    lean_pyroute2()
    # the protocol gets private copies of stdin/stdout; fd 1 then points at stderr, so a
    # stray print() from any library can never corrupt a frame
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    # the lab's own view of the filesystem: a fresh /run and /tmp, the lab's sysfs, machine-
    # wide sysctls read-only, and every other mount read-only (docker run --read-only)
    nsutil.mount("tmpfs", "/run", "tmpfs", 0)
    nsutil.mount_private_tmp()
    nsutil.mount_sysfs(sysfs)
    nsutil.readonly_proc_sys()
    nsutil.readonly_view()
    os.makedirs("/run/netns", exist_ok=True)
    from labkit.daemon.server import serve

    serve(proto_in, proto_out)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
