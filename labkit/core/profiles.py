"""Which Docker a lab imitates: the article's era or a modern engine.

``article``: Docker ≤ 1.8 picked 172.17.42.1/16 for docker0 (the article shows it, and the
MAC of its docker0, 56:84:7a:fe:97:99). ``modern``: Docker ≥ 1.9 uses 172.17.0.1/16. Both
hand 172.17.0.2 to the first container and apply the firewall rules of Docker 27 (the last
release with the classic chains and ``02:42`` MACs). The article's profile allocates round
robin, as Docker ≤ 1.8's ``daemon/networkdriver/ipallocator`` did (a removed container's
address is not reused until the pool wraps around); the modern one first-free, as libnetwork.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.errors import InvalidArgument


@dataclass(frozen=True)
class Profile:
    """The fixed facts of one Docker host."""

    name: str
    subnet: str
    gateway: str
    bridge_mac: str
    docker_version: str
    #: the host's uplink: the article's host had eth0 10.0.0.73/24 with this MAC; the lab
    #: moves it into the documentation range 198.51.100.0/24, keeping the .73
    uplink_ip: str = "198.51.100.73"
    uplink_mac: str = "06:d8:0e:5d:b8:c9"
    uplink_prefixlen: int = 24
    router_ip: str = "198.51.100.1"
    router_mac: str = "06:d8:0e:00:00:01"
    #: the world beyond the router: a server and a resolver
    world_ip: str = "203.0.113.10"
    resolver_ip: str = "203.0.113.53"
    world_prefixlen: int = 24
    description: str = ""
    #: Docker ≤ 1.8's ipallocator gave out addresses round robin (the next after the last
    #: one handed out); Docker ≥ 1.9 gives the first free one
    round_robin: bool = False


PROFILES: dict[str, Profile] = {
    "article": Profile(
        name="article",
        subnet="172.17.0.0/16",
        gateway="172.17.42.1",
        bridge_mac="56:84:7a:fe:97:99",
        docker_version="1.7",
        description="Docker ≤ 1.8, as in the article: docker0 at 172.17.42.1/16",
        round_robin=True,
    ),
    "modern": Profile(
        name="modern",
        subnet="172.17.0.0/16",
        gateway="172.17.0.1",
        bridge_mac="02:42:5e:0d:1c:a1",
        docker_version="27",
        description="Docker 1.9 – 27: docker0 at 172.17.0.1/16",
    ),
}


def get_profile(name: str) -> Profile:
    """Look a profile up by name, with the list of valid names in the error."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise InvalidArgument(
            f"unknown profile {name!r}; choose one of: {', '.join(sorted(PROFILES))}"
        ) from None
