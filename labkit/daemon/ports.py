"""Published ports (``docker run -p HOST:CONTAINER``): DNAT rules and the userland proxy.

Docker 27 with its default ``--userland-proxy=true`` does two things for ``-p 8080:80``:
rules in the nat and filter tables (traffic from *outside* is DNATed straight to the
container, keeping the client's own address), and a ``docker-proxy`` process listening on
the host's port for what the rules do not catch (the host itself, and other containers
going through the host's address).
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, Any

from labkit.core import firewall
from labkit.core.ports import EPHEMERAL_START, PortSpec
from labkit.daemon.records import Endpoint, NodeRecord, Published
from labkit.errors import Conflict, KernelError

if TYPE_CHECKING:
    from labkit.daemon.host import DockerHost


def _taken(host: DockerHost, on: str) -> set[tuple[int, str]]:
    return {
        (p.host_port, p.proto)
        for n in host.nodes.values()
        if getattr(n, "on", "host") == on
        for p in n.ports
    }


def check(host: DockerHost, specs: list[PortSpec], on: str = "host") -> list[PortSpec]:
    """Give every spec a host port (first free from 32768 when none was asked) and refuse
    ports already published on that Docker host (``on``), with Docker's words."""
    taken = _taken(host, on)
    out = []
    for spec in specs:
        hp = spec.host_port
        if hp is None:
            hp = EPHEMERAL_START
            while (hp, spec.proto) in taken:
                hp += 1
        elif (hp, spec.proto) in taken:
            raise Conflict(
                f"Bind for 0.0.0.0:{hp} failed: port is already allocated "
                f"({spec.proto}); publish on another host port"
            )
        taken.add((hp, spec.proto))
        out.append(PortSpec(spec.container_port, spec.proto, hp))
    return out


def publish(
    host: DockerHost,
    rec: NodeRecord,
    spec: PortSpec,
    undo: list[Any],
    *,
    ep: Endpoint | None = None,
    bridge: str | None = None,
    netns: str | None = None,
) -> Published:
    """Add the rules and start the proxy for one published port of a new container.

    By default on the container's first endpoint and its network's bridge, on the lab's
    first Docker host. A container on an overlay network publishes through its endpoint on
    ``docker_gwbridge`` (``ep``, ``bridge``), as dockerd does; one on another host of the
    lab, in that host's network namespace (``netns``). On an IPv6 network (first host),
    ip6tables rules and a second proxy on ``::`` too, as dockerd does (two
    ``docker-proxy`` processes: ``-host-ip 0.0.0.0`` and ``-host-ip ::``, measured on
    dockerd 20.10 with ``ip6tables``)."""
    from labkit.daemon.tools import apply_rules

    assert spec.host_port is not None
    ep = ep or rec.primary
    assert ep is not None
    net = host.networks.get(ep.network)
    bridge = bridge or (net.bridge if net is not None else "docker0")
    rules = firewall.port_appends(
        firewall.PublishedPort(bridge, ep.ip, spec.container_port, spec.host_port, spec.proto)
    )
    apply_rules(rules, netns)
    pub = Published(spec.container_port, spec.proto, spec.host_port, rules, netns=netns)
    undo.append(lambda: apply_rules(firewall.deletions(rules), netns))
    pub.proxy = _start_proxy(spec, "0.0.0.0", ep.ip, undo, netns)
    if ep.ip6 and netns is None and net is not None and net.ipam6 is not None:
        from labkit.daemon.ipv6 import apply6

        pub.rules6 = firewall.port_appends(
            firewall.PublishedPort(bridge, ep.ip6, spec.container_port, spec.host_port, spec.proto)
        )
        apply6(pub.rules6)
        undo.append(lambda: apply6(firewall.deletions(pub.rules6)))
        pub.proxy6 = _start_proxy(spec, "::", ep.ip6, undo)
    rec.ports.append(pub)
    return pub


def _start_proxy(
    spec: PortSpec, host_ip: str, container_ip: str, undo: list[Any], netns: str | None = None
) -> subprocess.Popen[bytes]:
    """``docker-proxy -proto P -host-ip H -host-port N -container-ip C -container-port M``,
    once it listens (in the Docker host's network namespace ``netns``)."""
    from labkit.daemon.tools import EXEC_ENV, in_netns

    assert spec.host_port is not None
    argv = [
        sys.executable, "-m", "labkit.apps.proxy",
        "-proto", spec.proto,
        "-host-ip", host_ip,
        "-host-port", str(spec.host_port),
        "-container-ip", container_ip,
        "-container-port", str(spec.container_port),
    ]  # fmt: skip
    proc = subprocess.Popen(
        in_netns(netns, argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=EXEC_ENV,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != b"ready":
        proc.kill()
        proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise KernelError(f"the userland proxy for port {spec.host_port} did not start: {err}")
    undo.append(lambda: _stop(proc))
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a proxy we started, by PID."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def unpublish(pub: Published) -> None:
    """Remove exactly the rules of one published port and stop its proxy."""
    from labkit.daemon.tools import apply_rules

    apply_rules(firewall.deletions(pub.rules), pub.netns)
    if pub.rules6:
        from labkit.daemon.ipv6 import apply6

        apply6(firewall.deletions(pub.rules6))
    for proc in (pub.proxy, pub.proxy6):
        if proc is not None:
            _stop(proc)
