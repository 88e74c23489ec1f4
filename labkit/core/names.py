"""Docker's naming rules: container names, ids, hostnames, veth and bridge names, MACs.

Pure functions, no privileges needed. The randomness comes from a ``random.Random`` the
caller passes in, so a lab built with a seed gets the same names every run (which keeps a
notebook's stored outputs stable) while still looking like Docker's.
"""

from __future__ import annotations

import ipaddress
import random
import re

from labkit.errors import InvalidName

#: Docker's rule for container names (``daemon/names``: ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``).
NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")

#: Names of the lab's own nodes; a container may not take them.
RESERVED = frozenset({"host", "outside"})

#: Linux limits a network namespace file name only by the file system, but an interface
#: name to 15 bytes; container names are used for netns names, so keep them sane.
MAX_NAME = 64

VETH_PREFIX = "veth"  # libnetwork drivers/bridge: vethPrefix
VETH_LEN = 7  # libnetwork drivers/bridge: vethLen


def validate_name(name: object, what: str = "container") -> str:
    """Return ``name`` if Docker would accept it as a container/network name, else raise.

    >>> validate_name("web_1")
    'web_1'
    """
    if not isinstance(name, str):
        raise InvalidName(f"{what} name must be a string, not {type(name).__name__}")
    if not NAME_RE.fullmatch(name):
        raise InvalidName(
            f"invalid {what} name {name!r}: Docker allows only [a-zA-Z0-9][a-zA-Z0-9_.-]+ "
            "(at least two characters, starting with a letter or digit), e.g. 'web1'"
        )
    if len(name) > MAX_NAME:
        raise InvalidName(f"{what} name {name!r} is longer than {MAX_NAME} characters")
    if name in RESERVED:
        raise InvalidName(
            f"{what} name {name!r} is reserved for the lab's own node lab.{name}; pick another"
        )
    return name


def new_id(rng: random.Random) -> str:
    """A 64-hex-digit id, like a Docker container or network id."""
    return f"{rng.getrandbits(256):064x}"


def short_id(full_id: str) -> str:
    """The first 12 hex digits: Docker's short id, and a container's hostname."""
    return full_id[:12]


def veth_name(rng: random.Random, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """``veth`` + 7 random hex digits, as libnetwork names the host end of a pair."""
    while True:
        name = VETH_PREFIX + f"{rng.getrandbits(28):07x}"
        if name not in taken:
            return name


def bridge_name(network_id: str) -> str:
    """``br-`` + the first 12 hex digits of a user-defined network's id."""
    return "br-" + network_id[:12]


def mac_from_ip(ip: str) -> str:
    """Docker ≤ 27's MAC for an IPv4 address: ``02:42`` then the four address bytes.

    >>> mac_from_ip("172.17.0.2")
    '02:42:ac:11:00:02'
    """
    packed = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in packed)
