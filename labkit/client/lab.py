"""The lab: a Docker host of its own in a sandbox, driven like docker-py's ``DockerClient``."""

from __future__ import annotations

import atexit
import dataclasses
import html
import os
import sys
import threading
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

from labkit import sandbox
from labkit.client import registry
from labkit.client.api import LabAPI
from labkit.client.connection import Connection
from labkit.client.models import Container, Host, Network, Node, Outside
from labkit.client.packets import LabCapture
from labkit.client.snapshot import Snapshot
from labkit.core.config import LabConfig
from labkit.core.overlay import check_host
from labkit.errors import LabClosed, NotFound

#: labs not closed yet: closed by :func:`_close_open_labs` at exit, before finalisation
_OPEN: weakref.WeakSet[Lab] = weakref.WeakSet()


def _close_open_labs() -> None:
    """Close every lab left open (a script that ends without ``lab.close()``), while the
    interpreter is still whole: the daemon exits, its reader threads end, the registry
    record goes. Keeps the script's own exit status."""
    for lab in list(_OPEN):
        try:
            lab.close()
        except Exception:  # noqa: BLE001, S112 - close the others anyway
            continue


atexit.register(_close_open_labs)


class ContainerCollection:
    """``lab.containers``: like docker-py's ``client.containers``."""

    def __init__(self, lab: Lab) -> None:
        self._lab = lab

    def run(self, name: str, links: dict[str, str] | None = None, **kw: Any) -> Container:
        """Create and start a container. Similar to ``docker run --name NAME``; the keyword
        arguments are those of :meth:`Lab.run`."""
        return self._lab.run(name, links=links, **kw)

    def get(self, name: str) -> Container:
        """A running container by name; raises :class:`labkit.errors.NotFound`."""
        attrs = self._lab.api.inspect(name)
        if attrs["kind"] != "container":
            raise NotFound(f"{name!r} is the lab's {attrs['kind']} node, not a container")
        return Container(self._lab, attrs)

    def list(self) -> list[Container]:
        """The running containers, in start order. Similar to ``docker ps``."""
        return [Container(self._lab, a) for a in self._lab.api.list_containers()]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.list())

    def __repr__(self) -> str:
        return f"<ContainerCollection: {', '.join(c.name for c in self.list()) or 'empty'}>"


class NetworkCollection:
    """``lab.networks``: like docker-py's ``client.networks``."""

    def __init__(self, lab: Lab) -> None:
        self._lab = lab

    def create(
        self,
        name: str,
        subnet: str | None = None,
        *,
        driver: str = "bridge",
        parent: str | None = None,
        gateway: str | None = None,
        ipv6: bool = False,
        subnet6: str | None = None,
    ) -> Network:
        """A new network. Similar to ``docker network create [-d DRIVER] [--subnet S]
        [--gateway G] [-o parent=P] NAME``.

        ``driver="bridge"`` (the default) makes a ``br-…`` bridge on the first host;
        ``driver="overlay"`` a swarm-wide overlay (``-d overlay --attachable``) that spans
        every host of the lab, VXLAN between their uplinks; ``driver="macvlan"``
        puts containers straight on the parent's LAN (``parent="eth0"``, the host's
        uplink, with the LAN's ``subnet`` and router as ``gateway``). ``ipv6=True``
        (``--ipv6``, in a ``Lab(ipv6=True)``) adds an IPv6 /64: ``subnet6``, or the next
        /64 of the lab's ULA prefix, as Docker 27 picks it.
        """
        return Network(
            self._lab,
            self._lab.api.network_create(name, subnet, driver, parent, gateway, ipv6, subnet6),
        )

    def list(self) -> list[Network]:
        """Similar to ``docker network ls`` (``bridge`` is docker0)."""
        return [Network(self._lab, a) for a in self._lab.api.network_list()]

    def get(self, name: str) -> Network:
        for net in self.list():
            if net.name == name:
                return net
        known = ", ".join(n.name for n in self.list())
        raise NotFound(f"network {name!r} not found (this lab has: {known})")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.list())

    def __repr__(self) -> str:
        return f"<NetworkCollection: {', '.join(n.name for n in self.list())}>"


class Lab:
    """A Docker host of your own, in a sandbox of its own namespaces.

    ``profile="modern"`` (docker0 at 172.17.0.1/16, the default) or ``"article"``
    (172.17.42.1/16, as in the article). ``subnet`` overrides the bridge network, e.g.
    ``"10.99.0.0/30"``; ``seed`` makes ids and veth names repeatable (notebooks use it so
    their stored outputs stay the same); ``icc=False`` is ``dockerd --icc=false``;
    ``mode`` is ``"auto"``, ``"rootless"`` or ``"root"``. ``ipv6=True`` is dockerd's
    ``"ipv6": true``: docker0 gets a ULA /64 as well, the LAN gets IPv6 (2001:db8::/32)
    and ip6tables gets Docker's rules, NAT included.

    The settings, checked, are ``lab.config`` (:class:`labkit.core.config.LabConfig`).
    The machine's own network is never touched: everything lives in namespaces owned by
    the lab's daemon, and the kernel frees them when the lab closes — or when this process
    dies, however it dies.
    """

    def __init__(
        self,
        profile: str = "modern",
        subnet: str | None = None,
        *,
        seed: int | None = None,
        icc: bool = True,
        mode: str = "auto",
        hosts: int = 1,
        ipv6: bool = False,
    ) -> None:
        config = LabConfig(profile, subnet, seed=seed, icc=icc, mode=mode, hosts=hosts, ipv6=ipv6)
        self._conn: Connection | None = None
        self._record: Path | None = None
        registry.registry_dir()  # refuse an unsafe registry before anything starts
        t0 = time.perf_counter()
        self.mode = sandbox.choose_mode(mode)
        #: the lab's settings (:class:`labkit.core.config.LabConfig`), its sandbox mode chosen
        self.config = dataclasses.replace(config, mode=self.mode)
        proc = sandbox.spawn_daemon(self.mode)
        self._conn = Connection(proc)
        self._api = LabAPI(self._conn)
        _OPEN.add(self)
        try:
            self.info: dict[str, Any] = self._api.start(self.config.to_wire())
        except BaseException:
            self._conn.close()
            raise
        self.start_ms = (time.perf_counter() - t0) * 1000
        self.profile = profile
        self.host = Host(self, "host")
        #: every Docker host of the lab: ``[lab.host]``, or with ``Lab(hosts=N)``
        #: ``[lab.host, <Host: host2>, …]``, all on the LAN 198.51.100.0/24
        self.hosts: list[Host] = [self.host] + [
            Host(self, name) for name in list(self.info.get("hosts", {}))[1:]
        ]
        self.outside = Outside(self, "outside")
        self.containers = ContainerCollection(self)
        self.networks = NetworkCollection(self)
        self._lock = threading.Lock()
        spid = sandbox.sandbox_pid(proc.pid)
        self.sandbox_pid = spid
        if spid is not None:
            self._conn.daemon_pid = sandbox.sandbox_pid(spid)  # pid 1's first child
        if spid is not None:
            try:
                self._record = registry.register(
                    {
                        "owner_pid": os.getpid(),
                        "sandbox_pid": spid,
                        "profile": profile,
                        "subnet": self.info["subnet"],
                        "mode": self.mode,
                    }
                )
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ plumbing
    @property
    def api(self) -> LabAPI:
        """The daemon's calls as typed methods (like docker-py's ``client.api``); the
        models use it. Raises :class:`LabClosed` once the lab is closed."""
        if self._conn is None:
            raise LabClosed("this lab is closed; start a new one with Lab()")
        return self._api

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A daemon call by name (prefer :attr:`api`)."""
        return self.api._call(method, *args, **kwargs)

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        """Stop the lab: its daemon exits and the kernel frees everything. Idempotent."""
        conn, self._conn = self._conn, None
        _OPEN.discard(self)
        if conn is not None:
            conn.close()
        registry.unregister(self._record)
        self._record = None

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # at interpreter exit the atexit hook has closed every lab already; closing from a
        # finaliser then would close pipes that daemon threads are still reading
        if sys.is_finalizing():
            return
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - a finaliser must not raise
            pass

    # ------------------------------------------------------------------ docker verbs
    @property
    def subnet(self) -> str:
        return str(self.info["subnet"])

    @property
    def gateway(self) -> str:
        """docker0's address: the containers' default gateway."""
        return str(self.info["gateway"])

    def run(
        self,
        name: str,
        links: dict[str, str] | None = None,
        *,
        ports: dict[Any, int | None] | None = None,
        network: str = "bridge",
        stepwise: bool = False,
        host: str = "host",
        ip: str | None = None,
    ) -> Container:
        """Start a container. Similar to ``docker run --name NAME``.

        ``links`` maps containers to aliases (``{"c1": "web"}``, ``--link c1:web``); the
        alias and names are written to this container's ``/etc/hosts``. ``ports`` publishes
        ports like docker-py (``{"80/tcp": 8080}``, ``-p 8080:80``). ``network`` picks the
        network (``"bridge"`` is docker0; others come from ``lab.networks.create``) or a
        network mode, as ``docker run --network``: ``"none"`` (only ``lo``), ``"host"``
        (the Docker host's own network namespace; ``ports`` are discarded with a warning)
        or ``"container:NAME"`` (NAME's network namespace, hostname and ``/etc/hosts``).
        ``stepwise=True`` builds the veth pair in Docker's own order (temporary names, move,
        rename to eth0) and records each step with its ``ip`` command in ``container.steps``.
        ``host`` picks the Docker host in a ``Lab(hosts=N)`` (``"host"``, ``"host2"``, …),
        like running ``docker run`` on that machine. ``ip`` asks for the container's address
        (``docker run --ip``): only on a network created with ``subnet=``, as Docker allows.
        """
        more: dict[str, Any] = {}
        if host != "host":
            more["host"] = check_host(host, [h.name for h in self.hosts])
        if ip is not None:
            more["ip"] = ip
        attrs = self.api.run(
            name, links=links, stepwise=stepwise, ports=ports, network=network, **more
        )
        for message in attrs.pop("warnings", None) or ():
            warnings.warn(f"WARNING: {message}", UserWarning, stacklevel=2)
        return Container(self, attrs)

    def rm(self, name: str | Container) -> None:
        """Remove a container: its veth pair goes, its address is free again. ``docker rm -f``."""
        if isinstance(name, Container):
            name = name.name
        self.api.rm(name)

    def node(self, name: str) -> Node:
        """``"host"``, ``"outside"`` or a container name → the node."""
        for h in self.hosts:
            if h.name == name:
                return h
        if name == "outside":
            return self.outside
        return self.containers.get(name)

    def __getitem__(self, name: str) -> Node:
        return self.node(name)

    def snapshot(self) -> Snapshot:
        """Every namespace of the lab as the kernel has it now (see ``labkit.core.snapshot``)."""
        return Snapshot(self.api.snapshot())

    def capture(
        self,
        *points: str,
        proto: str | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> LabCapture:
        """Capture packets at several points at once: ``"node:ifname"`` each.

        Nodes are ``host``, ``outside`` and container names: ``"c1:eth0"``,
        ``f"host:{c1.veth}"``, ``"host:docker0"``, ``"host:eth0"``, ``"outside:eth0"``. Use it
        as a context manager; every sniffer is confirmed running before the block starts.
        ``proto`` (``"icmp"``, ``"udp"``, ``"tcp"``, ``"arp"``, ``"ip"``; ``"ip6"`` and
        ``"icmp6"`` for IPv6, where ``icmp6`` includes NDP), ``host`` and
        ``port`` keep only matching packets (a filter like tcpdump's, applied in Python).
        """
        match = {k: v for k, v in (("proto", proto), ("host", host), ("port", port)) if v}
        return LabCapture(self, points, match or None)

    def diagram(self, flow: Any = None, *, title: str | None = None) -> Any:
        """A picture of the lab drawn from a fresh kernel snapshot (a ``graphviz.Digraph``).

        ``flow`` is a capture (``lab.capture(...)``) or a list of hops: the packet's path is
        drawn hop by hop with the addresses it carried at each one (before/after NAT).
        """
        return self.snapshot().diagram(flow=flow, title=title)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        if self.closed:
            return "<Lab: closed>"
        return (
            f"<Lab: profile={self.profile} docker0={self.gateway}/{self.subnet.split('/')[1]} "
            f"mode={self.mode} containers={len(self.containers)}"
            + (f" hosts={len(self.hosts)}>" if len(self.hosts) > 1 else ">")
        )

    def _repr_html_(self) -> str:
        """The lab as a table of its containers, in labkit's language (``set_language``)."""
        from labkit.i18n import tr

        if self.closed:
            return f"<p><b>{tr('Lab')}</b>: {tr('closed')}</p>"
        rows = "".join(
            f"<tr><td><code>{html.escape(c.name)}</code></td><td>{html.escape(c.ip)}</td>"
            f"<td>{html.escape(c.mac)}</td><td>{html.escape(c.veth)}</td></tr>"
            for c in self.containers.list()
        )
        code = {k: f"<code>{html.escape(v)}</code>" for k, v in
                (("profile", self.profile), ("gateway", self.gateway), ("subnet", self.subnet))}
        about = tr("profile {profile}, docker0 {gateway} on {subnet}, {mode} sandbox").format(
            mode=html.escape(self.mode), **code
        )
        head = "".join(
            f"<th>{html.escape(tr(t))}</th>" for t in ("container", "eth0 IP", "MAC", "host veth")
        )
        empty = f"<tr><td colspan=4>{html.escape(tr('no containers yet'))}</td></tr>"
        return (
            f"<p><b>{html.escape(tr('Lab'))}</b> — {about}</p>"
            f"<table><tr>{head}</tr>{rows or empty}</table>"
        )
