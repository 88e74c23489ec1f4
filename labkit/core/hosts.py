"""The files Docker writes into a container: ``/etc/hosts``, ``/etc/hostname``, resolv.conf."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinkEntry:
    """``--link name:alias``: the linked container's address, alias and names."""

    ip: str
    alias: str
    hostname: str
    name: str


def hosts_file(ip: str | None, hostname: str, links: list[LinkEntry] = ()) -> str:  # type: ignore[assignment]
    """``/etc/hosts`` as Docker writes it; links come before the container's own line.

    ``--link c1:web`` adds ``<c1's IP>\\tweb <c1's hostname> c1``
    (``daemon/container_operations_unix.go``, addLegacyLinks).
    """
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    for link in links:
        names = [link.alias]
        for extra in (link.hostname, link.name):
            if extra not in names:
                names.append(extra)
        lines.append(f"{link.ip}\t{' '.join(names)}")
    if ip:
        lines.append(f"{ip}\t{hostname}")
    return "\n".join(lines) + "\n"


def resolv_conf(nameserver: str, search: str | None = None) -> str:
    """A resolv.conf that points only inside the lab (never at the machine's resolvers)."""
    out = [f"nameserver {nameserver}", "options timeout:1 attempts:1"]
    if search:
        out.insert(0, f"search {search}")
    return "\n".join(out) + "\n"
