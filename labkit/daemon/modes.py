"""The other network modes of ``docker run``: ``--network none``, ``host`` and ``container:NAME``.

What each mode shares, as moby's ``daemon/container_operations.go`` (``initializeNetworking``,
``buildSandboxOptions``) and libnetwork's ``sandbox_dns_unix.go`` do it:

- ``none``: a network namespace of its own with only ``lo``; ``/etc/hosts`` has the
  localhost lines and no line for the container (libnetwork's ``updateHostsFile`` writes
  nothing without an interface address); ``/etc/resolv.conf`` is the host's, as on the
  default bridge.
- ``host``: the Docker host's own network namespace (libnetwork's "default sandbox"); the
  container keeps its own UTS and mount namespaces, but its hostname is the host's
  (``os.Hostname()``), and ``/etc/hosts`` and ``/etc/resolv.conf`` are copies of the
  host's (``OptionOriginHostsPath("/etc/hosts")``, ``OptionOriginResolvConfPath``).
  Published ports are discarded with a warning: "Published ports are discarded when using
  host network mode" (docs.docker.com, *Host network driver*).
- ``container:NAME``: NAME's network namespace, *and* NAME's hostname, hosts file and
  resolv.conf (``container.HostsPath = nc.HostsPath`` …): the same files, not copies. No
  ports (``conflicting options: port publishing and the container type network mode``),
  no links. This is how a Kubernetes pod works: the *pause* container owns the namespace
  and every container of the pod joins it.

Each container still gets a holder of its own (its own UTS and mount namespaces), so
``exec_run``, packets and captures work in it as in any container.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING, Any

from labkit.core import names
from labkit.daemon import forkserver, netlink, nodefiles
from labkit.daemon.records import NodeRecord
from labkit.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost

#: the network modes that are not networks (``docker network ls`` shows none/host as
#: networks of the ``null`` and ``host`` drivers; neither can take endpoints)
MODES = ("none", "host")

HOST_PORTS_WARNING = "Published ports are discarded when using host network mode"


def is_mode(network: str) -> bool:
    """Is ``network`` a network mode (``none``, ``host``, ``container:NAME``) rather than a
    network name?"""
    return network in MODES or network.startswith("container:")


def joined(network: str) -> str:
    """The container that ``container:NAME`` names."""
    return network.split(":", 1)[1]


def check(
    host: DockerHost, network: str, links: dict[str, str] | None, ports: dict[Any, Any] | None
) -> list[str]:
    """Refuse what Docker refuses for this mode; return Docker's warnings."""
    warnings: list[str] = []
    if network == "host":
        if links:
            raise InvalidArgument(
                "conflicting options: host type networking can't be used with links. This "
                "would result in undefined behavior (drop links= or network='host')"
            )
        if ports:
            warnings.append(HOST_PORTS_WARNING)
    elif network.startswith("container:"):
        target = joined(network)
        if not target:
            raise InvalidArgument(
                "network='container:' needs a container name, e.g. network='container:c1'"
            )
        rec = host.nodes.get(target)
        if rec is None or rec.kind != "container":
            known = ", ".join(c.name for c in host.containers) or "none yet"
            raise NotFound(
                f"No such container: {target} (network={network!r}; running containers: "
                f"{known}). Start it first with lab.run({target!r})"
            )
        if ports:
            raise InvalidArgument(
                "conflicting options: port publishing and the container type network mode "
                f"(publish the ports on {target} instead)"
            )
        if links:
            raise InvalidArgument(
                "conflicting options: container type network can't be used with links. This "
                "would result in undefined behavior"
            )
    elif network == "none" and ports:
        # Docker accepts -p with --network none and publishes nothing (no endpoint)
        warnings.append(
            "Published ports are discarded: a container on network 'none' has no "
            "interface to publish them on"
        )
    return warnings


def run(
    host: DockerHost,
    name: str,
    network: str,
    links: dict[str, str] | None = None,
    ports: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """``docker run --network none|host|container:NAME --name NAME``."""
    warnings = check(host, network, links, ports)
    cid = names.new_id(host.rng)
    hostname = names.short_id(cid)
    undo: list[Any] = []
    try:
        if network == "none":
            ns = netlink.create_netns(name, host.home_fd)
            undo.append(lambda: netlink.delete_netns_file(ns.path))
            undo.append(ns.close)
            ns.rt.link_up(1)  # lo, as runc brings it up
            files = nodefiles.write_files(name, hostname, None, [], host.profile.resolver_ip)
            undo.append(lambda: shutil.rmtree(files, ignore_errors=True))
            shares = None
        elif network == "host":
            ns = host.host
            hostname = host.nodes["host"].hostname
            files = _copy_host_files(host, name)
            undo.append(lambda: shutil.rmtree(files, ignore_errors=True))
            shares = "host"
        else:
            target = host.nodes[joined(network)]
            ns = target.netns
            hostname = target.hostname
            files = target.files or ""
            shares = target.name
        own = os.path.join(nodes_dir(host), name)
        if shares is not None and files != own:
            os.makedirs(own, exist_ok=True)
            undo.append(lambda: shutil.rmtree(own, ignore_errors=True))
        pid = forkserver.spawn_holder(ns.path, hostname, nodefiles.binds(files, hide_netns=True),
                                      nodefiles.pid_file(own))  # fmt: skip
        undo.append(lambda: forkserver.reap(pid.result(timeout=30)))
        rec = NodeRecord(
            name=name,
            kind="container",
            netns=ns,
            hostname=hostname,
            holder=pid,
            files=own,
            id=cid,
            created=time.monotonic(),
        )
        rec.network_mode = network
        rec.shares = shares
        pid.result(timeout=30)
        host.nodes[name] = rec
    except BaseException as exc:
        host.nodes.pop(name, None)
        for step in reversed(undo):
            try:
                step()
            except Exception:  # noqa: BLE001 - undo as much as possible
                pass
        raise netlink.as_labkit_error(exc, f"docker run --network {network} {name}") from None
    attrs = host.attrs(rec)
    attrs["warnings"] = warnings
    return attrs


def nodes_dir(host: DockerHost) -> str:
    """Where the daemon keeps each node's files (``/run/labkit/nodes``): beside the host's."""
    return os.path.dirname(host.nodes["host"].files or "/run/labkit/nodes/host")


def _copy_host_files(host: DockerHost, name: str) -> str:
    """``--network host``: copies of the host's ``/etc/hosts`` and ``/etc/resolv.conf``
    (libnetwork copies the origin files into the container's own), and its hostname."""
    src = host.nodes["host"].files or ""
    d = os.path.join(nodes_dir(host), name)
    os.makedirs(d, exist_ok=True)
    for f in ("hosts", "resolv.conf", "hostname"):
        shutil.copyfile(os.path.join(src, f), os.path.join(d, f))
    return d


def sharers(host: DockerHost, rec: NodeRecord) -> list[str]:
    """The containers that joined ``rec``'s network namespace with ``container:NAME``."""
    return [n.name for n in host.nodes.values() if n.shares == rec.name]


def hand_over(host: DockerHost, rec: NodeRecord) -> list[NodeRecord]:
    """``docker rm`` of a container whose namespace others joined: Docker lets it go. The
    joiners keep running in the namespace (their processes hold it), but its interfaces go
    with the removed container (libnetwork deletes the sandbox's endpoints): only ``lo`` is
    left, and ``/etc/hosts`` stays as it was (checked against dockerd 20.10 in
    ``tests/oracle``). In labkit's records the first joiner becomes the namespace's keeper
    and the others now share it with that one; their ``network_mode`` still names the
    removed container, as ``docker inspect`` does. Returns the joiners, keeper first."""
    joiners = (n for n in host.nodes.values() if n.shares == rec.name)
    heirs = sorted(joiners, key=lambda n: n.created)
    if heirs:
        keeper, *others = heirs
        keeper.shares = None
        for other in others:
            other.shares = keeper.name
    return heirs


def owns_netns(rec: NodeRecord) -> bool:
    """Does removing this container end its network namespace? Not for ``host`` and
    ``container:`` modes: the namespace belongs to someone else."""
    return rec.shares is None


def check_connect(rec: NodeRecord) -> None:
    """``docker network connect`` refuses containers in these modes, with Docker's words."""
    if rec.shares is not None or rec.network_mode.startswith("container:"):
        raise InvalidArgument(
            f"container sharing network namespace with another container or host cannot be "
            f"connected to any other network ({rec.name} runs with "
            f"network={rec.network_mode!r})"
        )
    if rec.network_mode == "none":
        raise InvalidArgument(
            "container cannot be connected to multiple networks with one of the networks in "
            f"private (none) mode ({rec.name} runs with network='none')"
        )


def shared_nodes(host: DockerHost) -> dict[str, dict[str, str]]:
    """For a snapshot: the containers that live in another node's network namespace (their
    interfaces are that node's, so the snapshot lists them once, under the owner)."""
    return {
        n.name: {"shares": n.shares, "network_mode": n.network_mode}
        for n in host.nodes.values()
        if n.shares is not None
    }
