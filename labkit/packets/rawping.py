"""ICMP echo from inside a namespace with the kernel's raw sockets: ``ping``, without scapy.

What the probe agent's ``ping`` op sends, byte for byte as its scapy version did: an IPv4
header written here (``IPPROTO_RAW`` implies ``IP_HDRINCL``; the kernel fills in the
source address, the total length and the header checksum, see raw(7)) with TTL 64, no
flags and a random id, then an ICMP echo request (id = the caller's ident, seq) whose
payload is ``b"labkit IDENT SEQ "`` padded with dots to ``size`` bytes. Replies are read
from an ``IPPROTO_ICMP`` raw socket opened before the request leaves, and accepted as
scapy's ``sr`` accepted them: an echo reply from ``dst`` to our source with our id and seq,
or an ICMP error (destination unreachable, source quench, redirect, time exceeded,
parameter problem) addressed to us and quoting our request.

IPv6 destinations get an ICMPv6 echo request (the kernel computes its checksum), answered
by an echo reply or an ICMPv6 error quoting it; the hop limit comes from
``IPV6_RECVHOPLIMIT``.

Each call opens its own sockets, so concurrent pings (distinct idents) never see each
other's replies as theirs. Round-trip times use the kernel's receive timestamp
(``SO_TIMESTAMPNS``) minus ``time.time()`` taken just before ``sendto``.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from typing import Any

__all__ = ["ping", "echo_payload", "checksum", "ip_header"]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
ICMP_ERRORS = (3, 4, 5, 11, 12)
ICMP6_ERRORS = (1, 2, 3, 4)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_payload(ident: int, seq: int, size: int) -> bytes:
    """``b"labkit IDENT SEQ "`` padded with dots to ``size`` bytes (never cut shorter)."""
    head = b"labkit %d %d " % (ident, seq)
    return (head + b"." * max(0, size - len(head)))[: max(size, len(head))]


def ip_header(dst: str, ip_id: int, payload_len: int) -> bytes:
    """The IPv4 header of an echo request as scapy's ``IP(dst=dst, id=ip_id)`` had it, with
    the source address and the checksum left zero for the kernel to fill in."""
    return struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + payload_len, ip_id, 0, 64, 1, 0, b"\0\0\0\0", socket.inet_aton(dst),
    )  # fmt: skip


def _echo(icmp_type: int, ident: int, seq: int, payload: bytes, with_checksum: bool) -> bytes:
    body = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + payload
    if not with_checksum:
        return body
    ck = checksum(body)
    return body[:2] + struct.pack("!H", ck) + body[4:]


def _timestamp(ancdata: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return float(sec + nsec * 1e-9)
    return time.time()


def _resolve(dst: str) -> tuple[int, str]:
    """(family, address) of ``dst``: an IPv4 or IPv6 literal, or a name (IPv4)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, dst.split("%")[0])
            return family, dst
        except (OSError, ValueError):
            continue
    infos = socket.getaddrinfo(dst, None, socket.AF_INET, socket.SOCK_RAW)
    return socket.AF_INET, str(infos[0][4][0])


def _source(family: int, dst: str) -> str | None:
    """The address the kernel's routes choose to reach ``dst`` (no packet is sent)."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((dst, 9))
            return str(s.getsockname()[0])
        except OSError:
            return None


def _answer4(pkt: bytes, dst: str, src: str | None, ident: int, seq: int) -> bool:
    """Is this IPv4 packet (header included) an answer to our echo ``seq``?"""
    if len(pkt) < 20:
        return False
    ihl = (pkt[0] & 0x0F) * 4
    if pkt[9] != 1 or len(pkt) < ihl + 8:
        return False
    rsrc, rdst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
    if src is not None and rdst != src:
        return False
    icmp = pkt[ihl:]
    if icmp[0] == 0:
        return rsrc == dst and struct.unpack("!HH", icmp[4:8]) == (ident, seq)
    if icmp[0] in ICMP_ERRORS:
        quoted = icmp[8:]
        if len(quoted) < 20:
            return False
        qihl = (quoted[0] & 0x0F) * 4
        qicmp = quoted[qihl:]
        return (
            socket.inet_ntoa(quoted[16:20]) == dst
            and (src is None or socket.inet_ntoa(quoted[12:16]) == src)
            and quoted[9] == 1
            and len(qicmp) >= 8
            and qicmp[0] == 8
            and qicmp[1] == 0
            and struct.unpack("!HH", qicmp[4:8]) == (ident, seq)
        )
    return False


def _answer6(msg: bytes, sender: str, dst: str, ident: int, seq: int) -> bool:
    """Is this ICMPv6 message (no IPv6 header) an answer to our echo ``seq``?"""
    if len(msg) < 8:
        return False
    if msg[0] == 129:
        same = socket.inet_pton(socket.AF_INET6, sender.split("%")[0]) == socket.inet_pton(
            socket.AF_INET6, dst.split("%")[0]
        )
        return same and struct.unpack("!HH", msg[4:8]) == (ident, seq)
    if msg[0] in ICMP6_ERRORS:
        quoted = msg[8:]
        if len(quoted) < 48 or quoted[6] != 58:
            return False
        qdst = quoted[24:40]
        echo = quoted[40:]
        return (
            qdst == socket.inet_pton(socket.AF_INET6, dst.split("%")[0])
            and echo[0] == 128
            and struct.unpack("!HH", echo[4:8]) == (ident, seq)
        )
    return False


def _wait(sock: socket.socket, deadline: float, match: Any) -> tuple[float, Any] | None:
    """Read ``sock`` until ``match(data, ancdata, addr)`` returns a value or time is up."""
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return None
        data, ancdata, _flags, addr = sock.recvmsg(65536, 1024)
        value = match(data, ancdata, addr)
        if value is not None:
            return _timestamp(ancdata), value


def _send(sock: socket.socket, data: bytes, dst: str) -> bool:
    """Send; False when the kernel refused (no route, a firewall's EPERM): a lost echo."""
    try:
        sock.sendto(data, (dst, 0))
    except OSError:
        return False
    return True


def _ping4(dst: str, ident: int, seq: int, timeout: float, size: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"seq": seq, "rtt_ms": None, "reply_from": None, "ttl": None}
    src = _source(socket.AF_INET, dst)
    icmp = _echo(8, ident, seq, echo_payload(ident, seq, size), True)
    header = ip_header(dst, int.from_bytes(os.urandom(2), "big"), len(icmp))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as tx,
    ):
        rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

        def match(data: bytes, _anc: Any, _addr: Any) -> Any:
            if not _answer4(data, dst, src, ident, seq):
                return None
            return socket.inet_ntoa(data[12:16]), data[8]

        sent = time.time()
        if not _send(tx, header + icmp, dst):
            return entry
        got = _wait(rx, sent + timeout, match)
    if got is not None:
        t, (sender, ttl) = got
        entry.update(rtt_ms=(t - sent) * 1000.0, reply_from=sender, ttl=int(ttl))
    return entry


def _ping6(dst: str, ident: int, seq: int, timeout: float, size: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"seq": seq, "rtt_ms": None, "reply_from": None, "ttl": None}
    icmp = _echo(128, ident, seq, echo_payload(ident, seq, size), False)
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as rx,
        socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as tx,
    ):
        rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        rx.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        tx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 64)

        def match(data: bytes, anc: Any, addr: Any) -> Any:
            sender = str(addr[0])
            if not _answer6(data, sender, dst, ident, seq):
                return None
            hops = None
            for level, kind, value in anc:
                if level == socket.IPPROTO_IPV6 and kind == IPV6_HOPLIMIT and len(value) >= 4:
                    hops = struct.unpack("i", value[:4])[0]
            return sender.split("%")[0], hops

        sent = time.time()
        if not _send(tx, icmp, dst):
            return entry
        got = _wait(rx, sent + timeout, match)
    if got is not None:
        t, (sender, hops) = got
        entry.update(rtt_ms=(t - sent) * 1000.0, reply_from=sender, ttl=hops)
    return entry


def ping(
    dst: str, ident: int, count: int = 1, timeout: float = 2.0, interval: float = 0.0,
    size: int = 32,
) -> list[dict[str, Any]]:  # fmt: skip
    """``count`` ICMP echoes to ``dst``, one at a time: ``{"seq", "rtt_ms", "reply_from",
    "ttl"}`` each (``rtt_ms`` None when nothing answered within ``timeout`` seconds)."""
    family, addr = _resolve(dst)
    one = _ping6 if family == socket.AF_INET6 else _ping4
    results = []
    for seq in range(count):
        if seq and interval:
            time.sleep(interval)
        results.append(one(addr, ident & 0xFFFF, seq & 0xFFFF, timeout, size))
    return results
