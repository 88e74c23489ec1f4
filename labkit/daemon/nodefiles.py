"""A node's own files, as Docker writes them for a container: ``/etc/hosts``,
``/etc/hostname`` and ``/etc/resolv.conf`` (under ``/var/lib/docker/containers/ID/`` on a
real host; under ``/run/labkit/nodes/NAME/`` here), bind-mounted over the node's ``/etc``.
"""

from __future__ import annotations

import os
from concurrent.futures import Future

from labkit.core import dns as dns_rules
from labkit.core import hosts
from labkit.daemon import forkserver, netlink

RUN_DIR = "/run/labkit"


def write_files(
    name: str,
    hostname: str,
    ip: str | None,
    links: list[hosts.LinkEntry],
    nameserver: str,
    embedded_dns: bool = False,
) -> str:
    """Write a node's ``hosts``, ``hostname`` and ``resolv.conf`` (pointing at the embedded
    DNS 127.0.0.11 when ``embedded_dns``) and return their directory."""
    d = os.path.join(RUN_DIR, "nodes", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hosts"), "w") as f:
        f.write(hosts.hosts_file(ip, hostname, links))
    with open(os.path.join(d, "hostname"), "w") as f:
        f.write(hostname + "\n")
    with open(os.path.join(d, "resolv.conf"), "w") as f:
        host_conf = hosts.resolv_conf(nameserver)  # the host's own (a copy on `bridge`)
        f.write(dns_rules.embedded_resolv_conf(host_conf) if embedded_dns else host_conf)
    return d


def pid_file(files: str) -> str:
    """Where a node's holder writes its PID (in the lab's pid namespace), for
    ``labkit shell NODE``."""
    return os.path.join(files, "pid")


def binds(files: str, hide_netns: bool = False) -> dict[str, str]:
    """The bind mounts of a node's files over its ``/etc`` (source → target); with
    ``hide_netns``, an empty directory over ``/run/netns`` too (a container's view)."""
    out = {
        os.path.join(files, "hosts"): "/etc/hosts",
        os.path.join(files, "hostname"): "/etc/hostname",
        os.path.join(files, "resolv.conf"): "/etc/resolv.conf",
    }
    if hide_netns:
        # a container does not see the host's /run/netns (a Docker container has its
        # own root filesystem): an empty directory over it, so `ip link` inside shows
        # `link-netnsid 0` and no "Peer netns reference is invalid" for other pins
        empty = os.path.join(RUN_DIR, "empty")
        os.makedirs(empty, exist_ok=True)
        out[empty] = netlink.NETNS_DIR
    return out


def start_holder(netns_path: str, hostname: str, files: str) -> Future[int]:
    """Fork a node's holder (its UTS and mount namespaces: the hostname, the node's ``/etc``
    files, the lab's ``/run/netns`` pins hidden) and note its pid among the node's files."""
    return forkserver.spawn_holder(
        netns_path, hostname, binds(files, hide_netns=True), pid_file(files)
    )
