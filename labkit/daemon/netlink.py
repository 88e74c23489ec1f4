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

from pyroute2.iproute.linux import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from labkit.daemon import nsutil
from labkit.daemon.rtnl import RawRtnl
from labkit.errors import LabkitError, from_oserror

NETNS_DIR = "/run/netns"


def as_labkit_error(exc: BaseException, doing: str) -> BaseException:
    """The :mod:`labkit.errors` error for a failure while ``doing`` (``"docker run c1"``):
    a netlink or OS error becomes one with errno's meaning and the fix; a labkit error, or
    anything else, is returned as it is."""
    if isinstance(exc, LabkitError):
        return exc
    if isinstance(exc, NetlinkError):
        return from_oserror(OSError(exc.code, str(exc)), doing)
    if isinstance(exc, OSError):
        return from_oserror(exc, doing)
    return exc


@dataclass
class Netns:
    """A network namespace of the lab: its name, its handle file and netlink sockets in it.

    ``rt`` is the lean socket for the hot path; ``ipr`` (pyroute2's ``IPRoute``, for dumps
    and everything else) is made on first use, by stepping into the namespace.
    """

    name: str
    path: str
    fd: int
    home_fd: int
    rt: RawRtnl
    _ipr: IPRoute | None = field(default=None, repr=False)

    @property
    def ipr(self) -> IPRoute:
        if self._ipr is None:
            if self.fd == self.home_fd:
                self._ipr = IPRoute()
            else:
                with inside(self, self.home_fd):
                    self._ipr = IPRoute()
        return self._ipr

    def close(self) -> None:
        if self._ipr is not None:
            with contextlib.suppress(Exception):
                self._ipr.close()
        with contextlib.suppress(OSError):
            self.rt.close()
        if self.fd != self.home_fd:
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def index(self, ifname: str) -> int:
        """The ifindex of an interface of this namespace; NotFound if there is none."""
        try:
            return self.rt.link_index(ifname)
        except OSError as exc:
            from labkit.errors import NotFound

            raise NotFound(f"no interface {ifname!r} in {self.name} ({exc.strerror})") from None


def own_netns(name: str, home_fd: int) -> Netns:
    """The calling thread's current network namespace (the daemon's: the Docker host)."""
    return Netns(name, f"/proc/{os.getpid()}/ns/net", home_fd, home_fd, RawRtnl())


def create_netns(name: str, home_fd: int, ipv6: bool = True) -> Netns:
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
            if ipv6 is False:
                # as Docker ≥ 26 does for a container on a network without IPv6 (lo keeps
                # ::1, eth0 gets no IPv6); it also spares the kernel eth0's autoconfiguration
                with open("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w") as f:
                    f.write("1")
            rt = RawRtnl()
            fd = os.open(path, os.O_RDONLY)
        except Exception:
            delete_netns_file(path)
            raise
    finally:
        nsutil.setns(home_fd, nsutil.CLONE_NEWNET)
    return Netns(name, path, fd, home_fd, rt)


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
