"""A minimal DNS codec for the lab's two resolvers (pure functions, no privileges).

The lab runs two name servers, both tiny and both real UDP servers:

- Docker's *embedded DNS* at 127.0.0.11 inside every container on a user-defined network:
  it answers container names (and aliases) of the networks the asking container shares,
  and forwards everything else upstream, as dockerd does.
- The *outside world's* resolver at 203.0.113.53: it answers the documentation domains
  (``example.com``, ``example.net``, ``example.org`` and their subdomains) with the
  outside server's address, and NXDOMAIN for the rest. No query ever leaves the lab.

Only what those servers need: one question, A records, NXDOMAIN, SERVFAIL.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPE_A = 1
CLASS_IN = 1
RCODE_OK = 0
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
#: Docker's embedded DNS server, inside each container on a user-defined network
EMBEDDED_DNS = "127.0.0.11"


class DnsFormatError(ValueError):
    """The bytes are not a DNS query this codec understands."""


@dataclass(frozen=True)
class Query:
    """One DNS question: the message id, the name (lower case, no trailing dot) and type."""

    id: int
    flags: int
    name: str
    qtype: int
    qclass: int
    question: bytes  # the question section as received, echoed in the answer


def parse_query(data: bytes) -> Query:
    """Parse a DNS query with exactly one question."""
    if len(data) < 12:
        raise DnsFormatError("shorter than a DNS header")
    qid, flags, qdcount = struct.unpack_from("!HHH", data, 0)
    if flags & 0x8000:
        raise DnsFormatError("a response, not a query")
    if qdcount != 1:
        raise DnsFormatError(f"{qdcount} questions; one is supported")
    labels = []
    pos = 12
    while True:
        if pos >= len(data):
            raise DnsFormatError("name runs past the end")
        n = data[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0:
            raise DnsFormatError("compressed name in a question")
        labels.append(data[pos : pos + n].decode("ascii", "replace"))
        pos += n
    if pos + 4 > len(data):
        raise DnsFormatError("question runs past the end")
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    return Query(qid, flags, ".".join(labels).lower(), qtype, qclass, data[12 : pos + 4])


def build_query(name: str, qid: int = 0x1234, qtype: int = TYPE_A) -> bytes:
    """A recursive query for ``name`` (used by tests and by forwarding)."""
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise DnsFormatError(f"bad label {label!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def build_answer(
    query: Query, addresses: list[str], rcode: int = RCODE_OK, ttl: int = 600
) -> bytes:
    """The response to ``query``: A records for ``addresses`` (all answers point at the
    question's name through a compression pointer to offset 12)."""
    answers = addresses if query.qtype == TYPE_A and rcode == RCODE_OK else []
    flags = 0x8000 | (query.flags & 0x0100) | 0x0080 | 0x0400 | rcode  # QR, RD, RA, AA
    header = struct.pack("!HHHHHH", query.id, flags, 1, len(answers), 0, 0)
    body = query.question
    for ip in answers:
        body += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, ttl, 4)
        body += ipaddress.IPv4Address(ip).packed
    return header + body


def parse_answer(data: bytes) -> tuple[int, list[str]]:
    """(rcode, A-record addresses) of a response; enough for tests and for relaying.
    Raise :class:`DnsFormatError` for bytes that are not such a response."""
    try:
        return _parse_answer(data)
    except (struct.error, IndexError, ValueError) as exc:
        raise DnsFormatError(f"not a DNS response: {exc}") from None


def _parse_answer(data: bytes) -> tuple[int, list[str]]:
    qid, flags, qd, an = struct.unpack_from("!HHHH", data, 0)
    pos = 12
    for _ in range(qd):
        pos = _skip_name(data, pos) + 4
    out = []
    for _ in range(an):
        pos = _skip_name(data, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        if rtype == TYPE_A and rdlen == 4:
            out.append(str(ipaddress.IPv4Address(data[pos : pos + 4])))
        pos += rdlen
    return flags & 0xF, out


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        n = data[pos]
        if n & 0xC0:
            return pos + 2
        if n == 0:
            return pos + 1
        pos += n + 1


DOC_ZONES = ("example.com", "example.net", "example.org")


def in_doc_zone(name: str) -> bool:
    """Is ``name`` one of the RFC 2606 documentation domains (or below one)?"""
    return any(name == z or name.endswith("." + z) for z in DOC_ZONES)


def embedded_resolv_conf(host_conf: str, embedded: str = EMBEDDED_DNS) -> str:
    """resolv.conf of a container on a user-defined network, derived from the host's as
    dockerd 20.10 does it (measured): the host's ``search`` and ``options`` kept, the name
    servers replaced by the embedded DNS, and ``ndots:0`` added unless the host sets ndots
    (libnetwork ``sandbox_dns_unix.go``, rebuildDNS). The lab's host has
    ``options timeout:1 attempts:1``, so: ``options timeout:1 attempts:1 ndots:0``."""
    lines = host_conf.splitlines()
    search = [ln for ln in lines if ln.startswith("search ")]
    opts = [o for ln in lines if ln.startswith("options ") for o in ln.split()[1:]]
    if not any(o.startswith("ndots:") for o in opts):
        opts.append("ndots:0")
    return "\n".join([*search, f"nameserver {embedded}", "options " + " ".join(opts)]) + "\n"
