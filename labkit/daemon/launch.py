"""Root's rootless sandbox: a user namespace whose root is an unprivileged uid outside.

``python -m labkit.daemon.launch UID GID COUNT -- ARGV...`` is what root runs instead of
``unshare --user --map-root-user``, which would map the lab's root to the machine's real
root (files it writes would be root's, and machine-wide sysctls such as ``vm.swappiness``
would stay writable). Like ``unshare --user --map-users=UID,0,COUNT`` with ``newuidmap``,
but with no setuid helper: this process unshares its user namespace, a forked child still
in the machine's namespace (root there) writes ``/proc/PID/uid_map`` and ``gid_map``
(``0 UID COUNT``), then this process becomes root of the new namespace and ``exec``\\s
ARGV (``unshare --net --mount ... python -m labkit.daemon``), keeping its PID so the
caller's ``Popen`` is the sandbox's parent.
"""

from __future__ import annotations

import os
import sys

from labkit.daemon import nsutil


def _write_maps(pid: int, uid: int, gid: int, count: int) -> None:
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(f"0 {uid} {count}\n")
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(f"0 {gid} {count}\n")


def main(argv: list[str]) -> None:
    if len(argv) < 5 or argv[3] != "--":
        sys.exit("usage: python -m labkit.daemon.launch UID GID COUNT -- ARGV...")
    uid, gid, count = (int(a) for a in argv[:3])
    me = os.getpid()
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(go_w)
        os.close(done_r)
        code = 0
        if os.read(go_r, 1) == b"1":
            try:
                _write_maps(me, uid, gid, count)
                os.write(done_w, b"1")
            except OSError as exc:
                os.write(done_w, f"E{exc}".encode())
                code = 1
        os._exit(code)
    os.close(go_r)
    os.close(done_w)
    try:
        nsutil.unshare(nsutil.CLONE_NEWUSER)
    except OSError as exc:
        os.close(go_w)
        os.waitpid(child, 0)
        sys.exit(f"launch: unshare --user failed: {exc}")
    os.write(go_w, b"1")
    answer = os.read(done_r, 500)
    os.waitpid(child, 0)
    if answer != b"1":
        sys.exit(f"launch: writing uid_map failed: {answer[1:].decode(errors='replace')}")
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    os.execvp(argv[4], argv[4:])


if __name__ == "__main__":
    main(sys.argv[1:])
