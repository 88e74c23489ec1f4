"""Netlink handles of the lab's network namespaces (pyroute2), driven from one thread.

pyroute2 0.9 is asyncio inside; its sync ``IPRoute`` must not run on a Jupyter kernel's
event loop, so every call here happens in the daemon's single netlink worker thread.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import IPRoute

from labkit.daemon import nsutil

NETNS_DIR = "/run/netns"


@dataclass
class Netns:
    """A network namespace of the lab: its name, its handle file and a netlink socket in it."""

    name: str
    path: str
    ipr: IPRoute
    fd: int
    created: list[str] = field(default_factory=list)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ipr.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def index(self, ifname: str) -> int:
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            from labkit.errors import NotFound

            raise NotFound(f"no interface {ifname!r} in {self.name}")
        return int(found[0])


def own_netns(name: str) -> Netns:
    """The calling thread's current network namespace (the daemon's: the Docker host)."""
    return Netns(
        name,
        f"/proc/{os.getpid()}/ns/net",
        IPRoute(),
        os.open("/proc/thread-self/ns/net", os.O_RDONLY),
    )


def create_netns(name: str, home_fd: int) -> Netns:
    """``ip netns add NAME``, and a netlink socket inside it, without a fork.

    The calling thread enters a new network namespace, pins it at ``/run/netns/NAME``,
    opens its netlink socket there (a socket stays bound to the namespace it was made in)
    and returns to ``home_fd``.
    """
    os.makedirs(NETNS_DIR, exist_ok=True)
    path = os.path.join(NETNS_DIR, name)
    nsutil.unshare(nsutil.CLONE_NEWNET)
    try:
        nsutil.bind_netns_here(path)
        try:
            ipr = IPRoute()
            fd = os.open(path, os.O_RDONLY)
        except Exception:
            delete_netns_file(path)
            raise
    finally:
        nsutil.setns(home_fd, nsutil.CLONE_NEWNET)
    return Netns(name, path, ipr, fd)


def delete_netns_file(path: str) -> None:
    """``ip netns delete``: unpin the namespace; the kernel frees it when unused."""
    with contextlib.suppress(OSError):
        nsutil.umount(path)
    with contextlib.suppress(OSError):
        os.unlink(path)


@contextlib.contextmanager
def inside(ns: Netns, home_fd: int) -> Iterator[None]:
    """Run the block with the calling thread inside ``ns`` (for /proc/sys reads and writes)."""
    nsutil.setns(ns.fd, nsutil.CLONE_NEWNET)
    try:
        yield
    finally:
        nsutil.setns(home_fd, nsutil.CLONE_NEWNET)


def attr(msg: Any, name: str) -> Any:
    """An attribute of a pyroute2 message, or None."""
    return msg.get(name)


AF_INET = socket.AF_INET
