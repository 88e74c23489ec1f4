"""Nodes of a lab — the Docker host, the outside world, containers — in docker-py's words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from labkit.client.packets import PingResult
from labkit.core.args import check_environment, check_timeout, split_command
from labkit.errors import InvalidArgument

__all__ = ["ExecResult", "Node", "Host", "Outside", "Container", "Network", "split_command"]

if TYPE_CHECKING:
    from labkit.client.lab import Lab
    from labkit.client.snapshot import ConntrackTable


class _ExecFields(NamedTuple):
    exit_code: int | None
    output: str


class ExecResult(_ExecFields):
    """What ``exec_run`` returns, like docker-py's: ``(exit_code, output)``.

    ``output`` is stdout and stderr together, as text, at most 16 MB: beyond that it is cut
    with a ``[labkit: output truncated ...]`` marker and ``truncated`` is True.
    ``exit_code`` is None for ``detach=True``.
    """

    truncated: bool

    def __new__(cls, exit_code: int | None, output: str, truncated: bool = False) -> ExecResult:
        self = super().__new__(cls, exit_code, output)
        self.truncated = truncated
        return self

    def __str__(self) -> str:
        return self.output


class Node:
    """Something in the lab that runs commands: the host, the outside world, a container."""

    kind = "node"

    def __init__(self, lab: Lab, name: str) -> None:
        self._lab = lab
        self.name = name

    def exec_run(
        self,
        cmd: str | list[str],
        *,
        environment: dict[str, str] | None = None,
        timeout: float | None = 60,
        detach: bool = False,
    ) -> ExecResult:
        """Run a command inside this node and wait for it. Similar to ``docker exec``.

        ``cmd`` is a string (split like a shell word list; no shell is involved — use
        ``["sh", "-c", "..."]`` for pipes) or a list. Safe to call from several threads.
        ``detach=True`` starts it in the background (it ends with the lab).
        """
        argv = split_command(cmd)
        timeout = check_timeout(timeout)
        env = check_environment(environment)
        if not isinstance(detach, bool):
            raise InvalidArgument(f"detach must be True or False, not {detach!r}")
        code, output, truncated = self._lab.api.exec_run(
            self.name, argv, timeout=timeout, environment=env, detach=detach
        )
        return ExecResult(code, output, truncated)

    def ping(self, target: str, count: int = 1, timeout: float = 2.0) -> PingResult:
        """Send ICMP echo requests from this node and wait for the answers.

        Like ``ping -c COUNT TARGET`` (IPv4 or IPv6), but sent by the node's probe agent on
        a raw socket, so each echo carries a unique payload that a capture can follow
        across NAT.
        """
        target = getattr(target, "ip", target)
        replies = self._lab.api.probe(
            self.name, "ping", {"dst": target, "count": count, "timeout": timeout}
        )
        return PingResult(self.name, str(target), list(replies))

    def send(self, pkt: Any, count: int = 1) -> str:
        """Send a scapy packet from inside this node (``IP(...)/...`` at layer 3, ``Ether(...)``
        at layer 2); returns the summary of the packet as built there.

        ``count=N`` sends it N times, and a list of packets sends each in turn, all in one
        call to the node (like scapy's ``send(pkt, count=N)``; much faster than a loop).
        """
        from labkit.packets.wire import describe

        pkts = list(pkt) if isinstance(pkt, (list, tuple)) else [pkt]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidArgument(f"count must be a whole number of packets ≥ 1, not {count!r}")
        if not pkts:
            raise InvalidArgument("send() got an empty list of packets")
        try:
            specs = [describe(p) for p in pkts]
        except TypeError as exc:
            raise InvalidArgument(
                f"send() wants a scapy packet such as IP(dst='203.0.113.10')/ICMP() (or bytes "
                f"of a built packet, or a list of them): {exc}"
            ) from None
        if len(specs) == 1 and count == 1:
            return str(self._lab.api.probe(self.name, "send", {"spec": specs[0]}))
        return str(self._lab.api.probe(self.name, "send_many", {"specs": specs, "count": count}))

    def sr1(self, pkt: Any, timeout: float = 2.0) -> Any:
        """Send a packet and return the first answer as a scapy packet (None if none came).

        Like scapy's ``sr1``, run inside this node: a reply de-NATed by the host comes back
        with this node's own address as its destination.
        """
        from labkit.client.packets import decode_ip
        from labkit.packets.wire import describe

        r = self._lab.api.probe(self.name, "sr1", {"spec": describe(pkt), "timeout": timeout})
        return decode_ip(r.get("reply"), r.get("reply_linktype"))

    def sysctl(self, key: str, value: str | int | None = None) -> str:
        """Read a ``net.*`` sysctl of this node, or set it and return the old value."""
        return str(self._lab.api.sysctl(key, None if value is None else str(value), self.name))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name}>"


class Host(Node):
    """The Docker host: the daemon's own namespaces, with docker0, veths, uplink eth0, NAT."""

    kind = "host"

    @property
    def ip(self) -> str:
        """The uplink's address (what the outside world sees after NAT)."""
        hosts = self._lab.info.get("hosts") or {}
        if self.name in hosts:  # Lab(hosts=N): each host has its own address on the LAN
            return str(hosts[self.name]["ip"])
        return str(self._lab.info["uplink_ip"])

    @property
    def ip6(self) -> str | None:
        """The uplink's IPv6 address in a ``Lab(ipv6=True)``, else None."""
        return self._lab.info.get("uplink_ip6")

    def masquerade(self, on: bool | None = None) -> bool:
        """Is docker0's MASQUERADE rule in place? ``on=True/False`` adds/deletes it.

        Runs ``iptables -t nat -A/-D POSTROUTING -s SUBNET ! -o docker0 -j MASQUERADE``.
        """
        self._first_host_only("masquerade()")
        return bool(self._lab.api.masquerade(on))

    def _first_host_only(self, what: str) -> None:
        if self.name != "host":
            raise InvalidArgument(
                f"{self.name}.{what} is only built for the lab's first host; on {self.name} "
                f"use exec_run, e.g. {self.name}.exec_run('iptables -t nat -S') or "
                "exec_run('conntrack -L')"
            )

    def conntrack(self, proto: str | None = None, host: str | None = None) -> ConntrackTable:
        """The host's connection-tracking entries, like ``conntrack -L [-p PROTO]``.

        ``host`` keeps the entries where that address appears in either direction. An
        entry whose reply does not mirror its original direction shows NAT at work.
        """
        from labkit.client.snapshot import ConntrackTable

        self._first_host_only("conntrack()")
        entries = self._lab.api.conntrack()
        keep = [
            e
            for e in entries
            if (proto is None or e["proto"] == proto)
            and (
                host is None
                or host
                in (e["orig"]["src"], e["orig"]["dst"], e["reply"]["src"], e["reply"]["dst"])
            )
        ]
        return ConntrackTable(keep)

    def ip_forward(self, on: bool | None = None) -> bool:
        """Is IPv4 forwarding on? ``on=True/False`` sets ``net.ipv4.ip_forward``."""
        if on is None:
            return self.sysctl("net.ipv4.ip_forward") == "1"
        self.sysctl("net.ipv4.ip_forward", "1" if on else "0")
        return on


class Outside(Node):
    """The world beyond the host's uplink: the upstream router and servers in 203.0.113.0/24."""

    kind = "outside"

    @property
    def ip(self) -> str:
        """A server address out there that containers reach through NAT."""
        return str(self._lab.info["outside_ip"])

    @property
    def ip6(self) -> str | None:
        """An IPv6 server out there (2001:db8:113::10) in a ``Lab(ipv6=True)``, else None."""
        return self._lab.info.get("outside_ip6")

    @property
    def router_ip(self) -> str:
        return str(self._lab.info["router_ip"])


class Resource:
    """What docker-py's models share: the daemon's facts in ``attrs``, an id, a short id."""

    attrs: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.attrs["id"])

    @property
    def short_id(self) -> str:
        return str(self.attrs["short_id"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and type(other) is type(self) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


class Container(Node, Resource):
    """A container on the lab's bridge. Similar to docker-py's ``Container``."""

    kind = "container"

    def __init__(self, lab: Lab, attrs: dict[str, Any]) -> None:
        super().__init__(lab, attrs["name"])
        self.attrs = attrs

    @property
    def hostname(self) -> str:
        return str(self.attrs["hostname"])

    @property
    def ip(self) -> str:
        """eth0's IPv4 address, e.g. ``172.17.0.2``."""
        return str(self.attrs["ip"])

    @property
    def ip6(self) -> str | None:
        """eth0's IPv6 address on an IPv6 network (``--ipv6``), else None."""
        return self.attrs.get("ip6") or None

    @property
    def network_mode(self) -> str:
        """``docker inspect -f '{{.HostConfig.NetworkMode}}'``: ``"bridge"``, a network's
        name, ``"none"``, ``"host"`` or ``"container:NAME"``."""
        return str(self.attrs.get("network_mode") or "")

    @property
    def mac(self) -> str:
        """eth0's MAC, ``02:42:`` + the IP's four bytes, e.g. ``02:42:ac:11:00:02``."""
        return str(self.attrs["mac"])

    @property
    def veth(self) -> str:
        """The host-side end of its veth pair, e.g. ``veth1c58b2d``."""
        return str(self.attrs["veth"])

    @property
    def gateway(self) -> str:
        return str(self.attrs["gateway"])

    @property
    def networks(self) -> dict[str, dict[str, Any]]:
        """Per network: its interface, IP, MAC, host veth and gateway."""
        return dict(self.attrs["networks"])

    @property
    def ports(self) -> dict[str, int]:
        """Published ports, ``{"80/tcp": 8080}``."""
        return dict(self.attrs["ports"])

    @property
    def links(self) -> dict[str, str]:
        return dict(self.attrs["links"])

    @property
    def docker_host(self) -> str:
        """The Docker host it runs on: ``"host"``, or ``"host2"``… in a ``Lab(hosts=N)``."""
        return str(self.attrs.get("host", "host"))

    @property
    def steps(self) -> list[dict[str, Any]]:
        """With ``lab.run(..., stepwise=True)``: the steps Docker takes, as ``ip`` commands."""
        return list(self.attrs.get("steps", []))

    def reload(self) -> None:
        """Read this container's facts again from the daemon."""
        self.attrs = self._lab.api.inspect(self.name)

    def remove(self) -> None:
        """Remove the container. Similar to ``docker rm -f``."""
        self._lab.rm(self.name)

    def _repr_html_(self) -> str:
        from labkit.views.markup import escape  # the views load only when one is drawn

        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th>"
            f"<td><code>{escape(v)}</code></td></tr>"
            for k, v in (
                ("name", self.name),
                ("hostname (short id)", self.hostname),
                ("eth0 IP", f"{self.ip}/{self.attrs['prefixlen']}"),
                ("eth0 MAC", self.mac),
                ("default gateway", self.gateway),
                ("host-side veth", self.veth),
                ("links", ", ".join(f"{k}:{v}" for k, v in self.links.items()) or "—"),
            )
        )
        return f"<table><caption>Container {escape(self.name)}</caption>{rows}</table>"


class Network(Resource):
    """A bridge network of the lab. Similar to docker-py's ``Network``."""

    def __init__(self, lab: Lab, attrs: dict[str, Any]) -> None:
        self._lab = lab
        self.attrs = attrs

    @property
    def name(self) -> str:
        return str(self.attrs["name"])

    @property
    def bridge(self) -> str:
        """The Linux bridge: ``docker0``, or ``br-`` + 12 hex digits of the id (``""`` for
        a macvlan network, which has none)."""
        return str(self.attrs["bridge"])

    @property
    def ipv6(self) -> bool:
        """Was it created with ``--ipv6`` (docker0: ``Lab(ipv6=True)``)?"""
        return bool(self.attrs.get("ipv6"))

    @property
    def subnet6(self) -> str | None:
        """Its IPv6 /64, e.g. a ULA ``fdxx:xxxx:xxxx::/64``; None without IPv6."""
        return self.attrs.get("subnet6")

    @property
    def driver(self) -> str:
        """``bridge`` or ``macvlan`` (``docker network inspect -f '{{.Driver}}'``)."""
        return str(self.attrs.get("driver", "bridge"))

    @property
    def parent(self) -> str | None:
        """A macvlan network's parent interface (``-o parent=eth0``); None for a bridge."""
        return self.attrs.get("parent")

    @property
    def subnet(self) -> str:
        return str(self.attrs["subnet"])

    @property
    def gateway(self) -> str:
        return str(self.attrs["gateway"])

    @property
    def containers(self) -> list[Container]:
        """The containers attached to it (``docker network inspect``)."""
        self.reload()
        return [self._lab.containers.get(n) for n in self.attrs["containers"]]

    def reload(self) -> None:
        self.attrs = self._lab.networks.get(self.name).attrs

    def connect(self, container: str | Container, ipv4_address: str | None = None) -> None:
        """Attach a running container: it gets one more interface (eth1, …), at
        ``ipv4_address`` when given (only on a network created with ``subnet=``). Similar
        to ``docker network connect [--ip A]`` and docker-py's ``Network.connect``."""
        name = container.name if isinstance(container, Container) else container
        self._lab.api.network_connect(self.name, name, ipv4_address)

    def disconnect(self, container: str | Container) -> None:
        """Detach a container: its interface on this network goes, and its default route
        moves to the network libnetwork then prefers. Similar to ``docker network
        disconnect``."""
        name = container.name if isinstance(container, Container) else container
        self._lab.api.network_disconnect(self.name, name)

    def remove(self) -> None:
        """Similar to ``docker network rm``; refused while containers are attached."""
        self._lab.api.network_rm(self.name)

    def __repr__(self) -> str:
        if self.driver == "macvlan":
            return f"<Network: {self.name} {self.subnet} macvlan on {self.parent}>"
        return f"<Network: {self.name} {self.subnet} on {self.bridge}>"
