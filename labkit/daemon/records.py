"""What the daemon remembers about a lab: nodes, their network endpoints, networks, ports.

Only names and handles live here. Anything shown to a learner about the network itself is
read back from the kernel (:mod:`.snapshot`).
"""

from __future__ import annotations

import socket
import subprocess
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from labkit.core import firewall
from labkit.core.ipam import IPAM
from labkit.daemon.netlink import Netns


@dataclass
class Endpoint:
    """A container's interface on one network (``docker network connect``)."""

    network: str
    ifname: str
    ip: str
    mac: str
    veth: str
    ip6: str = ""


@dataclass
class Published:
    """A published port: its rules (to delete exactly them) and its proxy process."""

    container_port: int
    proto: str
    host_port: int
    rules: list[firewall.Command]
    proxy: subprocess.Popen[bytes] | None = None
    #: the same for IPv6 (ip6tables rules and a proxy on ``::``), on an IPv6 network
    rules6: list[firewall.Command] = field(default_factory=list)
    proxy6: subprocess.Popen[bytes] | None = None
    #: the Docker host's network namespace (``/run/netns/host2``); None: the first host's
    netns: str | None = None


@dataclass
class Network:
    """A bridge network: docker0 (``bridge``) or a user-defined ``br-…``."""

    name: str
    id: str
    bridge: str
    ipam: IPAM
    index: int
    user_defined: bool
    icc: bool = True
    rules: list[firewall.Command] = field(default_factory=list)
    created: float = 0.0
    #: ``bridge`` or ``macvlan`` (see :mod:`.macvlan`); a macvlan network has no bridge,
    #: and ``index`` is its parent's
    driver: str = "bridge"
    parent: str | None = None
    #: the network's IPv6 pool (``--ipv6``), and the ip6tables rules made for it
    ipam6: Any = None
    rules6: list[firewall.Command] = field(default_factory=list)
    #: the subnet was given (``docker network create --subnet``): only then may a container
    #: ask for its own address (``docker run --ip``)
    user_subnet: bool = False

    @property
    def gateway(self) -> str:
        return str(self.ipam.gateway)

    @property
    def subnet(self) -> str:
        return str(self.ipam.subnet)

    def attrs(self, containers: list[str]) -> dict[str, Any]:
        """What ``docker network inspect`` would say, in labkit's words."""
        return {
            "name": self.name,
            "id": self.id,
            "short_id": self.id[:12],
            "driver": self.driver,
            "parent": self.parent,
            "bridge": self.bridge,
            "subnet": self.subnet,
            "gateway": self.gateway,
            "user_defined": self.user_defined,
            "ipv6": self.ipam6 is not None,
            "subnet6": str(self.ipam6.subnet) if self.ipam6 is not None else None,
            "gateway6": str(self.ipam6.gateway) if self.ipam6 is not None else None,
            "icc": self.icc,
            "containers": containers,
        }


@dataclass
class NodeRecord:
    """A node of the lab: the host (the daemon itself), the outside world, or a container."""

    name: str
    kind: str
    netns: Netns
    hostname: str
    holder: Future[int] | None  # the holder's PID, once it is ready; None for the host
    files: str | None = None
    id: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    ports: list[Published] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    dns: socket.socket | None = None
    created: float = 0.0
    #: the next interface number: libnetwork counts up and never reuses a name (after
    #: disconnecting eth1, the next network connected becomes eth2, eth3, …)
    next_if: int = 1
    #: the Docker host it runs on (``Lab(hosts=N)``: ``host``, ``host2``, …)
    on: str = "host"
    #: ``docker run --network``: a network's name, or a mode (``none``, ``host``,
    #: ``container:NAME``; see :mod:`.modes`)
    network_mode: str = ""
    #: whose network namespace this node joined (``"host"`` or a container), if not its own
    shares: str | None = None

    @property
    def pid(self) -> int | None:
        """The holder's PID in the lab's pid namespace (waits until it is ready)."""
        if self.holder is None:
            return None
        return self.holder.result(timeout=30)

    @property
    def primary(self) -> Endpoint | None:
        return self.endpoints[0] if self.endpoints else None

    @property
    def ip(self) -> str:
        return self.primary.ip if self.primary else ""

    @property
    def veth(self) -> str:
        return self.primary.veth if self.primary else ""

    def endpoint(self, network: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.network == network), None)

    def attrs(self, networks: dict[str, Network], with_pid: bool = False) -> dict[str, Any]:
        """What ``docker inspect`` would say, in labkit's words."""
        first = self.primary
        net = networks.get(first.network) if first else None
        return {
            "name": self.name,
            "kind": self.kind,
            "id": self.id,
            "short_id": self.id[:12],
            "hostname": self.hostname,
            "pid": self.pid if with_pid else None,
            "netns": self.netns.name,
            "network": first.network if first else None,
            "network_mode": self.network_mode or (first.network if first else None),
            "ip": first.ip if first else "",
            "ip6": (first.ip6 or None) if first else None,
            "prefixlen": net.ipam.prefixlen if net else None,
            "mac": first.mac if first else "",
            "gateway": net.gateway if net else None,
            "veth": first.veth if first else "",
            "networks": {
                e.network: {
                    "ifname": e.ifname,
                    "ip": e.ip,
                    "ip6": e.ip6 or None,
                    "mac": e.mac,
                    "veth": e.veth,
                    "gateway": networks[e.network].gateway if e.network in networks else None,
                    "prefixlen": networks[e.network].ipam.prefixlen
                    if e.network in networks
                    else None,
                }
                for e in self.endpoints
            },
            "ports": {f"{p.container_port}/{p.proto}": p.host_port for p in self.ports},
            "links": dict(self.links),
            "steps": list(self.steps),
            "host": self.on,
        }
