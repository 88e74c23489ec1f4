"""The Docker host: what dockerd's bridge driver does, done for real inside the sandbox.

Every method runs in the daemon's netlink worker thread (see :mod:`.server`), so netlink
sockets are only ever used from one thread. Each operation either completes or undoes what
it did, so after any error the lab is as it was.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import NetlinkError

from labkit.core import firewall, hosts, names
from labkit.core.ipam import IPAM
from labkit.core.profiles import get_profile
from labkit.daemon import holder, netlink
from labkit.daemon.netlink import Netns
from labkit.errors import (
    Conflict,
    InvalidArgument,
    KernelError,
    LabkitError,
    NotFound,
    from_oserror,
)

RUN_DIR = "/run/labkit"
BRIDGE = "docker0"
#: the environment of every command run in the lab: stable, C-locale output
EXEC_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "LANG": "C",
    "HOME": "/root",
    "TERM": "dumb",
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
    # container facts
    id: str = ""
    ip: str = ""
    mac: str = ""
    veth: str = ""
    links: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    created: float = 0.0

    @property
    def pid(self) -> int | None:
        """The holder's PID in the lab's pid namespace (waits until it is ready)."""
        if self.holder is None:
            return None
        return self.holder.result(timeout=30)

    def attrs(self, gateway: str, prefixlen: int, with_pid: bool = False) -> dict[str, Any]:
        """What ``docker inspect`` would say, in labkit's words."""
        return {
            "name": self.name,
            "kind": self.kind,
            "id": self.id,
            "short_id": self.id[:12],
            "hostname": self.hostname,
            "pid": self.pid if with_pid else None,
            "netns": self.netns.name,
            "network": "bridge",
            "ip": self.ip,
            "prefixlen": prefixlen,
            "mac": self.mac,
            "gateway": gateway,
            "veth": self.veth,
            "links": dict(self.links),
            "steps": list(self.steps),
        }


def _run(argv: list[str], stdin: str | None = None) -> str:
    """Run a lab tool in the daemon's own namespaces; raise with its message if it fails."""
    try:
        proc = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=EXEC_ENV, timeout=30
        )
    except FileNotFoundError:
        raise KernelError(f"{argv[0]} is not installed in the lab's environment") from None
    if proc.returncode != 0:
        raise KernelError(f"`{' '.join(argv)}` failed: {proc.stderr.strip() or proc.stdout}")
    return proc.stdout


class DockerHost:
    """The lab's Docker host: docker0, its containers, the uplink and the outside world."""

    def __init__(
        self,
        profile: str = "modern",
        subnet: str | None = None,
        seed: int | None = None,
        icc: bool = True,
        mode: str = "rootless",
    ) -> None:
        self.profile = get_profile(profile)
        gateway = self.profile.gateway if subnet is None else None
        self.ipam = IPAM(subnet or self.profile.subnet, gateway=gateway)
        self.rng = random.Random(seed)
        self.icc = icc
        self.mode = mode
        self.nodes: dict[str, NodeRecord] = {}
        self.home_fd = -1
        self.bridge_index = 0
        self.timings: dict[str, float] = {}

    # ----------------------------------------------------------------- properties
    @property
    def gateway(self) -> str:
        return str(self.ipam.gateway)

    @property
    def subnet(self) -> str:
        return str(self.ipam.subnet)

    @property
    def containers(self) -> list[NodeRecord]:
        return sorted(
            (n for n in self.nodes.values() if n.kind == "container"), key=lambda n: n.created
        )

    def info(self) -> dict[str, Any]:
        return {
            "profile": self.profile.name,
            "docker": self.profile.docker_version,
            "subnet": self.subnet,
            "gateway": self.gateway,
            "bridge": BRIDGE,
            "bridge_mac": self.profile.bridge_mac,
            "mode": self.mode,
            "icc": self.icc,
            "uplink_ip": self.profile.uplink_ip,
            "router_ip": self.profile.router_ip,
            "outside_ip": self.profile.world_ip,
            "resolver_ip": self.profile.resolver_ip,
            "daemon_pid": os.getpid(),
            "timings": dict(self.timings),
        }

    def ruleset(self) -> firewall.Ruleset:
        return firewall.Ruleset([firewall.BridgeRules(BRIDGE, self.subnet, icc=self.icc)])

    # ----------------------------------------------------------------- start
    def start(self) -> dict[str, Any]:
        """Build the Docker host: docker0, the uplink to the outside world, NAT, forwarding."""
        t0 = time.perf_counter()
        os.makedirs(RUN_DIR, exist_ok=True)
        self.home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        host = netlink.own_netns("host", self.home_fd)
        ipr = host.ipr
        p = self.profile
        ipr.link("set", index=host.index("lo"), state="up")
        # docker0, as dockerd creates it: a bridge with the gateway address
        ipr.link("add", ifname=BRIDGE, kind="bridge", address=p.bridge_mac)
        br = self.bridge_index = host.index(BRIDGE)
        ipr.addr("add", index=br, address=self.gateway, prefixlen=self.ipam.prefixlen)
        ipr.link("set", index=br, state="up")
        # the outside world: a namespace behind the host's uplink eth0
        outside = netlink.create_netns("outside", self.home_fd)
        ipr.link(
            "add",
            ifname="eth0",
            kind="veth",
            address=p.uplink_mac,
            peer={"ifname": "eth0", "net_ns_fd": outside.fd, "address": p.router_mac},
            state="up",
        )
        up = host.index("eth0")
        ipr.addr("add", index=up, address=p.uplink_ip, prefixlen=p.uplink_prefixlen)
        ipr.route("add", dst="0.0.0.0/0", gateway=p.router_ip)
        o = outside.ipr
        o.link("set", index=outside.index("lo"), state="up")
        oeth = outside.index("eth0")
        o.addr("add", index=oeth, address=p.router_ip, prefixlen=p.uplink_prefixlen)
        o.link("set", index=oeth, state="up")
        # the servers beyond: addresses of 203.0.113.0/24 on the outside's own loopback
        # (the kernel here has no dummy driver; lo needs no module)
        for addr in (p.world_ip, p.resolver_ip):
            o.addr("add", index=1, address=addr, prefixlen=32)
        self.timings["netlink_ms"] = (time.perf_counter() - t0) * 1000
        # what dockerd does to the host's kernel: forwarding on, FORWARD policy DROP, rules
        self._write_sysctl("net/ipv4/ip_forward", "1")
        _run(["iptables-restore", "--noflush"], stdin=self.ruleset().restore_text())
        self.timings["firewall_ms"] = (time.perf_counter() - t0) * 1000
        self.nodes["host"] = NodeRecord("host", "host", host, "docker-host", None)
        files = self._write_files("outside", "outside", ip=p.world_ip, links=[])
        pid = holder.spawn_holder(outside.path, "outside", self._binds(files))
        pid.result(timeout=30)  # the first holder: a failure shows here, at once
        self._write_pid(files, pid)
        self.nodes["outside"] = NodeRecord("outside", "outside", outside, "outside", pid, files)
        self.timings["start_ms"] = (time.perf_counter() - t0) * 1000
        return self.info()

    # ----------------------------------------------------------------- files
    def _write_files(
        self, name: str, hostname: str, ip: str | None, links: list[hosts.LinkEntry]
    ) -> str:
        d = os.path.join(RUN_DIR, "nodes", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "hosts"), "w") as f:
            f.write(hosts.hosts_file(ip, hostname, links))
        with open(os.path.join(d, "hostname"), "w") as f:
            f.write(hostname + "\n")
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write(hosts.resolv_conf(self.profile.resolver_ip))
        return d

    @staticmethod
    def _write_pid(files: str, pid: Future[int]) -> None:
        """The holder's PID (in the lab's pid namespace), for ``labkit shell NODE``."""

        def write(done: Future[int]) -> None:
            if done.exception() is None:
                with open(os.path.join(files, "pid"), "w") as f:
                    f.write(f"{done.result()}\n")

        pid.add_done_callback(write)

    @staticmethod
    def _binds(files: str) -> dict[str, str]:
        return {
            os.path.join(files, "hosts"): "/etc/hosts",
            os.path.join(files, "hostname"): "/etc/hostname",
            os.path.join(files, "resolv.conf"): "/etc/resolv.conf",
        }

    def _write_sysctl(self, key: str, value: str, node: str = "host") -> str:
        path = "/proc/sys/" + key.replace(".", "/")
        ns = self.nodes[node].netns if node in self.nodes else None
        ctx = (
            netlink.inside(ns, self.home_fd) if ns and node != "host" else contextlib.nullcontext()
        )
        with ctx:
            try:
                with open(path) as f:
                    old = f.read().strip()
                with open(path, "w") as f:
                    f.write(value)
            except FileNotFoundError:
                raise NotFound(f"no sysctl {key} in this kernel") from None
            except PermissionError as exc:
                raise from_oserror(exc, f"sysctl -w {key}={value}") from None
        return old

    def read_sysctl(self, key: str, node: str = "host") -> str:
        """``sysctl KEY`` inside a node's network namespace."""
        record = self.node(node)
        path = "/proc/sys/" + key.replace(".", "/")
        ctx = (
            netlink.inside(record.netns, self.home_fd)
            if node != "host"
            else contextlib.nullcontext()
        )
        with ctx:
            try:
                with open(path) as f:
                    return f.read().strip()
            except FileNotFoundError:
                raise NotFound(f"no sysctl {key} in this kernel") from None

    def sysctl(self, key: str, value: str | None = None, node: str = "host") -> str:
        """Read, or set and return the previous value of, a sysctl in a node."""
        self.node(node)
        if not key.startswith(("net.", "net/")):
            raise InvalidArgument(
                f"sysctl {key!r}: only net.* keys belong to a lab's namespaces; others would "
                "change the machine"
            )
        if value is None:
            return self.read_sysctl(key, node)
        return self._write_sysctl(key, str(value), node)

    # ----------------------------------------------------------------- containers
    def node(self, name: str) -> NodeRecord:
        try:
            return self.nodes[name]
        except KeyError:
            known = ", ".join(sorted(self.nodes)) or "none"
            raise NotFound(
                f"no node or container named {name!r} in this lab (known: {known})"
            ) from None

    def container(self, name: str) -> NodeRecord:
        rec = self.node(name)
        if rec.kind != "container":
            raise NotFound(f"{name!r} is the lab's {rec.kind} node, not a container")
        return rec

    def run(
        self, name: str, links: dict[str, str] | None = None, stepwise: bool = False
    ) -> dict[str, Any]:
        """``docker run --name NAME [--link c:alias]`` on the default bridge."""
        names.validate_name(name)
        if name in self.nodes:
            raise Conflict(
                f'container name "{name}" is already in use in this lab; remove it first '
                f"(lab.rm({name!r})) or choose another name"
            )
        link_entries = self._check_links(links or {})
        ip = self.ipam.allocate()
        undo: list[Any] = [lambda: self.ipam.release(ip)]
        try:
            return self._create(name, ip, link_entries, links or {}, stepwise, undo)
        except BaseException as exc:
            for step in reversed(undo):
                with contextlib.suppress(Exception):
                    step()
            if isinstance(exc, LabkitError):
                raise
            if isinstance(exc, NetlinkError):
                raise from_oserror(OSError(exc.code, str(exc)), f"docker run {name}") from None
            if isinstance(exc, OSError):
                raise from_oserror(exc, f"docker run {name}") from None
            raise

    def _check_links(self, links: dict[str, str]) -> list[hosts.LinkEntry]:
        if not isinstance(links, dict):
            raise InvalidArgument(
                "links must be a dict {container: alias}, like docker-py's, e.g. {'c1': 'web'}"
            )
        entries = []
        for target, alias in links.items():
            rec = self.nodes.get(target)
            if rec is None or rec.kind != "container":
                raise NotFound(
                    f"cannot link to {target!r}: no such container (docker: "
                    f"'Could not get container for {target}')"
                )
            names.validate_name(alias, "link alias")
            entries.append(hosts.LinkEntry(rec.ip, alias, rec.hostname, rec.name))
        return entries

    def _create(
        self,
        name: str,
        ip: str,
        link_entries: list[hosts.LinkEntry],
        links: dict[str, str],
        stepwise: bool,
        undo: list[Any],
    ) -> dict[str, Any]:
        host = self.nodes["host"].netns
        mac = names.mac_from_ip(ip)
        cid = names.new_id(self.rng)
        hostname = names.short_id(cid)
        taken = {n.veth for n in self.nodes.values()}
        veth = names.veth_name(self.rng, taken)
        ns = netlink.create_netns(name, self.home_fd, ipv6=False)
        undo.append(lambda: (ns.close(), netlink.delete_netns_file(ns.path)))
        br = self.bridge_index
        steps: list[dict[str, Any]] = []
        if stepwise:
            self._docker_steps(host, ns, veth, br, mac, steps, undo)
        else:
            host.rt.veth_add(veth, "eth0", ns.fd, mac, br)
            undo.append(lambda: host.rt.link_del(host.index(veth)))
        rt = ns.rt
        rt.link_up(1)  # lo is always ifindex 1 in a new namespace
        eth0 = ns.index("eth0")
        t = time.perf_counter()
        rt.addr_add(eth0, ip, self.ipam.prefixlen)
        rt.link_up(eth0)
        self._step(
            steps,
            stepwise,
            f"ip -n {name} addr add {ip}/{self.ipam.prefixlen} dev eth0"
            f" && ip -n {name} link set eth0 up",
            t,
        )
        t = time.perf_counter()
        rt.default_route(self.gateway)
        self._step(steps, stepwise, f"ip -n {name} route add default via {self.gateway}", t)
        files = self._write_files(name, hostname, ip, link_entries)
        undo.append(lambda: shutil.rmtree(files, ignore_errors=True))
        t = time.perf_counter()
        pid = holder.spawn_holder(ns.path, hostname, self._binds(files))
        self._write_pid(files, pid)
        self._step(steps, stepwise, f"unshare --uts --mount: hostname {hostname}, /etc/hosts", t)
        rec = NodeRecord(
            name=name,
            kind="container",
            netns=ns,
            hostname=hostname,
            holder=pid,
            files=files,
            id=cid,
            ip=ip,
            mac=mac,
            veth=veth,
            links=dict(links),
            steps=steps,
            created=time.monotonic(),
        )
        self.nodes[name] = rec
        return rec.attrs(self.gateway, self.ipam.prefixlen)

    @staticmethod
    def _step(steps: list[dict[str, Any]], on: bool, command: str, t0: float) -> None:
        if on:
            steps.append({"command": command, "ms": round((time.perf_counter() - t0) * 1000, 3)})

    def _docker_steps(
        self,
        host: Netns,
        ns: Netns,
        veth: str,
        br: int,
        mac: str,
        steps: list[dict[str, Any]],
        undo: list[Any],
    ) -> None:
        """Docker's own order: a pair under temporary names, move one end, rename it eth0."""
        ipr = host.ipr
        taken = {n.veth for n in self.nodes.values()} | {veth}
        tmp = names.veth_name(self.rng, taken)
        t = time.perf_counter()
        ipr.link("add", ifname=veth, kind="veth", peer={"ifname": tmp})
        undo.append(lambda: ipr.link("del", ifname=veth))
        self._step(steps, True, f"ip link add {veth} type veth peer name {tmp}", t)
        t = time.perf_counter()
        ipr.link("set", index=host.index(veth), master=br, state="up")
        self._step(steps, True, f"ip link set {veth} master {BRIDGE} up", t)
        t = time.perf_counter()
        ipr.link("set", index=host.index(tmp), net_ns_fd=ns.fd)
        self._step(steps, True, f"ip link set {tmp} netns {ns.name}", t)
        t = time.perf_counter()
        ns.ipr.link("set", index=ns.index(tmp), ifname="eth0", address=mac)
        self._step(steps, True, f"ip -n {ns.name} link set {tmp} name eth0 address {mac}", t)

    def rm(self, name: str) -> dict[str, Any]:
        """``docker rm -f NAME``: stop its processes, delete its veth pair, free its address."""
        rec = self.container(name)
        attrs = rec.attrs(self.gateway, self.ipam.prefixlen)
        if rec.holder is not None:
            with contextlib.suppress(OSError):
                holder.reap(rec.holder.result(timeout=30))
        host = self.nodes["host"].netns
        with contextlib.suppress(OSError):
            host.rt.link_del(host.index(rec.veth))
        rec.netns.close()
        netlink.delete_netns_file(rec.netns.path)
        if rec.files:
            shutil.rmtree(rec.files, ignore_errors=True)
        self.ipam.release(rec.ip)
        del self.nodes[name]
        return attrs

    def list_containers(self) -> list[dict[str, Any]]:
        return [c.attrs(self.gateway, self.ipam.prefixlen) for c in self.containers]

    def inspect(self, name: str) -> dict[str, Any]:
        rec = self.node(name)
        return rec.attrs(self.gateway, self.ipam.prefixlen, with_pid=True)

    # ----------------------------------------------------------------- commands
    def exec_prefix(self, name: str) -> list[str]:
        """The argv prefix that runs a command inside a node."""
        rec = self.node(name)
        if rec.pid is None:
            return []
        return ["nsenter", "-t", str(rec.pid), "-n", "-m", "-u", "--"]

    # ----------------------------------------------------------------- NAT switches
    def masquerade(self, on: bool | None = None) -> bool:
        """Is docker0's MASQUERADE rule there? With ``on``, add or delete it (iptables)."""
        rule = firewall.masquerade_rule(BRIDGE, self.subnet)
        present = (
            subprocess.run(
                ["iptables", "-t", "nat", "-C", *rule], capture_output=True, env=EXEC_ENV
            ).returncode
            == 0
        )
        if on is None or on == present:
            return present
        _run(["iptables", "-t", "nat", "-A" if on else "-D", *rule])
        return on

    def close(self) -> None:
        """Nothing to undo one by one: the daemon's exit ends the pid namespace, and the
        kernel frees every namespace, interface and rule of the lab with it."""
