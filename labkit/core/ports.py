"""Parsing ``-p`` specifications the way docker-py takes them: ``{"80/tcp": 8080}``."""

from __future__ import annotations

from dataclasses import dataclass

from labkit.errors import InvalidArgument

EPHEMERAL_START = 32768  # where dockerd starts when no host port is given


@dataclass(frozen=True)
class PortSpec:
    """One published port: container port/proto → host port (None: pick a free one)."""

    container_port: int
    proto: str
    host_port: int | None


def _port(value: object, what: str) -> int:
    # an int or its decimal text; never a bool (True is not port 1) nor a float (8080.9)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidArgument(f"{what} {value!r} is not a port number (write e.g. 8080)")
    try:
        n = int(value)
    except ValueError:
        raise InvalidArgument(f"{what} {value!r} is not a port number (write e.g. 8080)") from None
    if not 1 <= n <= 65535:
        raise InvalidArgument(f"{what} {n} is outside 1–65535")
    return n


def parse_ports(ports: object) -> list[PortSpec]:
    """``{"80/tcp": 8080, "53/udp": 5353, 443: None}`` → specs; raise with the expected form."""
    if ports is None:
        return []
    if not isinstance(ports, dict):
        raise InvalidArgument(
            "ports must be a dict like docker-py's: {'80/tcp': 8080} (container port → host port)"
        )
    out = []
    for key, host in ports.items():
        text = str(key)
        port_text, _, proto = text.partition("/")
        proto = proto or "tcp"
        if proto not in ("tcp", "udp"):
            raise InvalidArgument(f"port {text!r}: protocol must be tcp or udp")
        cport = _port(port_text, "container port")
        hport = None if host is None else _port(host, "host port")
        out.append(PortSpec(cport, proto, hport))
    return out
