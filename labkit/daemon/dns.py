"""The lab's name servers: Docker's embedded DNS (127.0.0.11 in containers on user-defined
networks) and the outside world's resolver (203.0.113.53). Both are real UDP servers.

Each server socket is opened *inside* its namespace (the netlink worker thread steps in,
binds, steps back: a socket keeps the namespace it was made in), and one thread serves them
all. The embedded DNS answers the names of containers that share a user-defined network
with the asker and forwards the rest upstream, like dockerd; the outside resolver answers
the documentation domains (example.com/.net/.org) and nothing else. No query ever reaches a
real resolver.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

from labkit.core import dns
from labkit.daemon import nsutil

#: what :meth:`DnsService.answer` returns for a query to pass upstream
FORWARD = object()

Resolver = Callable[[str], "list[str] | None"]  # name -> addresses, or None: not ours


class DnsService:
    """Serves every DNS socket of the lab from one thread."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._serve, name="dns", daemon=True)
        self._thread.start()

    def add(
        self, sock: socket.socket, resolve: Resolver, forward: bool, netns_fd: int | None = None
    ) -> None:
        """Serve queries arriving on ``sock`` (already bound, in its namespace). Queries
        forwarded upstream leave from ``netns_fd`` (the container's network namespace)."""
        with self._lock:
            self._sel.register(sock, selectors.EVENT_READ, (resolve, forward, netns_fd))
        self._wake_w.send(b"x")

    def remove(self, sock: socket.socket) -> None:
        with self._lock, contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(sock)
        sock.close()

    def _serve(self) -> None:
        while True:
            for key, _ in self._sel.select():
                if key.data is None:
                    self._wake_r.recv(4096)
                    continue
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data, peer = sock.recvfrom(4096)
                except OSError:
                    continue
                resolve, forward, netns_fd = key.data
                reply = self.answer(data, resolve, forward)
                if reply is FORWARD:
                    # upstream may be served by this very thread: ask from another one
                    threading.Thread(
                        target=self._relay, args=(sock, peer, data, netns_fd), daemon=True
                    ).start()
                elif isinstance(reply, bytes):
                    with contextlib.suppress(OSError):
                        sock.sendto(reply, peer)

    def answer(self, data: bytes, resolve: Resolver, forward: bool) -> bytes | object | None:
        """The reply to one query: bytes, :data:`FORWARD` (ask upstream), or None for
        garbage (dropped)."""
        try:
            q = dns.parse_query(data)
        except dns.DnsFormatError:
            return None
        if q.qclass != dns.CLASS_IN:
            return dns.build_answer(q, [], dns.RCODE_NOTIMP)
        found = resolve(q.name)
        if found is not None:
            return dns.build_answer(q, found if q.qtype == dns.TYPE_A else [])
        if forward:
            return FORWARD
        return dns.build_answer(q, [], dns.RCODE_NXDOMAIN)

    def _relay(self, sock: socket.socket, peer: Any, data: bytes, netns_fd: int | None) -> None:
        """Ask the upstream resolver and pass its answer back to the container.

        As dockerd does, the query is sent from *inside the container's network namespace*
        (libnetwork ``resolver.go``: ``r.backend.ExecFunc(extConnect)`` dials the external
        server there), so on a bridge network it leaves from the container's address and
        is masqueraded at the host's uplink. This relay thread steps into the namespace
        for good: it ends after one query.
        """
        try:
            if netns_fd is not None:
                nsutil.setns(netns_fd, nsutil.CLONE_NEWNET)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1.0)
                s.sendto(data, self.upstream)
                reply = s.recv(4096)
        except OSError:
            reply = dns.build_answer(dns.parse_query(data), [], dns.RCODE_SERVFAIL)
        with contextlib.suppress(OSError):
            sock.sendto(reply, peer)


def bind_udp(address: str, port: int = 53) -> socket.socket:
    """A UDP socket bound in the calling thread's current network namespace."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, port))
    return s
