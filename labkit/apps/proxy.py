"""The userland proxy: what ``docker-proxy`` does for a published port.

``python -m labkit.apps.proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080
-container-ip 172.17.0.2 -container-port 80`` — the same flags as dockerd gives
docker-proxy. It listens on the host and copies bytes to the container. Traffic that arrives
from *outside* never reaches it (the DNAT rule in the DOCKER chain rewrites it first); it
serves what the nat rules do not catch: connections from the host itself and from other
containers to the host's address (hairpin). Their source, as the container sees it, is
then the proxy's: the host's address on docker0.
"""

from __future__ import annotations

import argparse
import socket
import threading
from typing import Any


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (dst, src):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def family(ip: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 address, else AF_INET."""
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def listener(host_ip: str, host_port: int, kind: socket.SocketKind) -> socket.socket:
    """A socket bound to the host's port; on ``::`` IPv6 only (the IPv4 side has a proxy of
    its own on ``0.0.0.0``, as with docker-proxy)."""
    lsock = socket.socket(family(host_ip), kind)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if lsock.family == socket.AF_INET6:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    lsock.bind((host_ip, host_port))
    return lsock


def serve_tcp(host_ip: str, host_port: int, cip: str, cport: int) -> None:
    lsock = listener(host_ip, host_port, socket.SOCK_STREAM)
    lsock.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = lsock.accept()
        try:
            upstream = socket.create_connection((cip, cport), timeout=5)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def serve_udp(host_ip: str, host_port: int, cip: str, cport: int) -> None:
    lsock = listener(host_ip, host_port, socket.SOCK_DGRAM)
    print("ready", flush=True)
    peers: dict[tuple[Any, ...], socket.socket] = {}

    def back(client: tuple[Any, ...], up: socket.socket) -> None:
        while True:
            try:
                data = up.recv(65536)
            except OSError:
                return
            lsock.sendto(data, client)

    while True:
        data, client = lsock.recvfrom(65536)
        up = peers.get(client)
        if up is None:
            up = socket.socket(family(cip), socket.SOCK_DGRAM)
            up.connect((cip, cport))
            peers[client] = up
            threading.Thread(target=back, args=(client, up), daemon=True).start()
        up.send(data)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="docker-proxy (labkit)")
    p.add_argument("-proto", default="tcp", choices=["tcp", "udp"])
    p.add_argument("-host-ip", default="0.0.0.0")
    p.add_argument("-host-port", type=int, required=True)
    p.add_argument("-container-ip", required=True)
    p.add_argument("-container-port", type=int, required=True)
    a = p.parse_args(argv)
    serve = serve_tcp if a.proto == "tcp" else serve_udp
    serve(a.host_ip, a.host_port, a.container_ip, a.container_port)


if __name__ == "__main__":
    main()
