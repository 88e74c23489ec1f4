"""``python -m labkit.apps.whoami [PORT]``: a TCP server that tells each client who it is.

``python -m labkit.apps.whoami ask IP PORT`` is its client: it prints the server's answer.

It answers every connection with one line, ``you are IP:PORT, I am IP:PORT (HOSTNAME)``, and
a blank-line-terminated HTTP response when the client speaks HTTP, so ``curl`` and a plain
socket both work. It shows what address a container really sees a client at: the client's
own (published port, DNAT only) or the host's (the userland proxy).
"""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any


def show(addr: tuple[Any, ...]) -> str:
    """``IP:PORT``; ``[IPv6]:PORT`` for IPv6, and an IPv4 client of the dual-stack socket
    (``::ffff:172.17.0.1``) as plain IPv4."""
    ip, port = str(addr[0]), int(addr[1])
    if ip.startswith("::ffff:") and "." in ip:
        ip = ip[7:]
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def listen(port: int) -> socket.socket:
    """One socket for IPv4 and IPv6 clients (``::``, dual stack); ``0.0.0.0`` where the node
    has no IPv6 at all."""
    try:
        srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("::", port))
    except OSError:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", port))
    return srv


def handle(conn: socket.socket, addr: tuple[Any, ...]) -> None:
    with conn:
        conn.settimeout(2)
        try:
            first = conn.recv(4096)
        except OSError:
            first = b""
        me = conn.getsockname()
        line = f"you are {show(addr)}, I am {show(me)} ({socket.gethostname()})\n"
        if first.startswith((b"GET ", b"HEAD ", b"POST ")):
            body = line.encode()
            conn.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
        else:
            conn.sendall(line.encode())


def ask(host: str, port: int) -> int:
    """Client mode: connect, say hello, print the answer; exit 1 when nothing answers."""
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(b"hello\n")
            print(s.recv(4096).decode().strip())
    except OSError as exc:
        print(f"no answer from {host}:{port}: {exc}")
        return 1
    return 0


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "ask":
        raise SystemExit(ask(sys.argv[2], int(sys.argv[3])))
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    srv = listen(port)
    srv.listen(64)
    while True:
        conn, addr = srv.accept()
        threading.Thread(target=handle, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    main()
