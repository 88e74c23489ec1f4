"""The Docker host: what dockerd's bridge driver does, done for real inside the sandbox.

Every method runs in the daemon's netlink worker thread (see :mod:`.server`), so netlink
sockets are only ever used from one thread. Each operation either completes or undoes what
it did, so after any error the lab is as it was. Networks (:mod:`.networks`) and
published ports (:mod:`.ports`) are kept in modules of their own.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

from labkit.core import dns as dns_rules
from labkit.core import firewall, hosts, names
from labkit.core.config import LabConfig
from labkit.core.ipam import IPAM
from labkit.core.ports import parse_ports
from labkit.daemon import forkserver, netlink, nodefiles, nsutil
from labkit.daemon.dns import DnsService, bind_udp
from labkit.daemon.netlink import Netns
from labkit.daemon.records import Endpoint, Network, NodeRecord
from labkit.daemon.tools import EXEC_ENV, run_tool
from labkit.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    from_oserror,
)

HOST_NAME = "docker-host"
BRIDGE = "docker0"
EMBEDDED_DNS = "127.0.0.11"

if TYPE_CHECKING:
    from labkit.daemon.lan import Lan


class DockerHost:
    """The lab's Docker host: docker0, its containers, the uplink and the outside world."""

    def __init__(self, config: LabConfig) -> None:
        """The host ``config`` describes (the lab's settings, :class:`LabConfig`); nothing
        is built until :meth:`start`."""
        self.config = config
        self.host_count = config.hosts
        self.profile = config.profile_facts
        subnet = config.subnet
        gateway = self.profile.gateway if subnet is None else None
        self.default_ipam = IPAM(subnet or self.profile.subnet, gateway=gateway,
                                 round_robin=self.profile.round_robin)
        self.rng = random.Random(config.seed)
        self.icc = config.icc
        self.mode = config.mode
        self.nodes: dict[str, NodeRecord] = {}
        self.networks: dict[str, Network] = {}
        self.home_fd = -1
        self.timings: dict[str, float] = {}
        self.br_netfilter = True
        self.dns: DnsService | None = None
        #: dockerd's ``"ipv6": true`` (see :mod:`.ipv6`); the engine's host id, from which
        #: Docker 27 derives its ULA prefix
        self.ipv6 = bool(config.ipv6)
        self.host_id = names.new_id(self.rng) if self.ipv6 else ""
        self.info6: dict[str, Any] = {}
        #: the lab's Docker hosts on their LAN (:func:`labkit.daemon.lan.state` makes it)
        self.lan: Lan | None = None

    # ----------------------------------------------------------------- properties
    @property
    def default(self) -> Network:
        return self.networks["bridge"]

    @property
    def gateway(self) -> str:
        return str(self.default_ipam.gateway)

    @property
    def subnet(self) -> str:
        return str(self.default_ipam.subnet)

    @property
    def host(self) -> Netns:
        return self.nodes["host"].netns

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
            "br_netfilter": self.br_netfilter,
            "uplink_ip": self.profile.uplink_ip,
            "router_ip": self.profile.router_ip,
            "outside_ip": self.profile.world_ip,
            "resolver_ip": self.profile.resolver_ip,
            "daemon_pid": os.getpid(),
            "timings": dict(self.timings),
            **({"hosts": self.lan.info()} if self.lan and self.host_count > 1 else {}),
            "ipv6": self.ipv6,
            **self.info6,
        }

    # ----------------------------------------------------------------- start
    def start(self) -> dict[str, Any]:
        """Build the Docker host: docker0, the uplink to the outside world, NAT, forwarding."""
        t0 = time.perf_counter()
        os.makedirs(nodefiles.RUN_DIR, exist_ok=True)
        self.home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        host = netlink.own_netns("host", self.home_fd)
        ipr = host.ipr
        p = self.profile
        ipr.link("set", index=host.index("lo"), state="up")
        # docker0, as dockerd creates it: a bridge with the gateway address
        # (txqueuelen 0 and a broadcast address, as dockerd 20.10 creates it: measured)
        ipr.link("add", ifname=BRIDGE, kind="bridge", address=p.bridge_mac, txqlen=0)
        br = host.index(BRIDGE)
        ipr.addr("add", index=br, address=self.gateway, prefixlen=self.default_ipam.prefixlen,
                 broadcast=self.default_ipam.broadcast)
        ipr.link("set", index=br, state="up")
        self.networks["bridge"] = Network(
            "bridge", names.new_id(self.rng), BRIDGE, self.default_ipam, br, False, self.icc
        )
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
        # what dockerd does to the host's kernel: forwarding on, bridged traffic through
        # iptables, FORWARD policy DROP, its chains and rules
        self.write_sysctl("net.ipv4.ip_forward", "1")
        try:
            self.write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
        except NotFound:
            self.br_netfilter = False  # icc=False then isolates bridge ports instead
        rules = firewall.Ruleset([firewall.BridgeRules(BRIDGE, self.subnet, icc=self.icc)])
        run_tool(["iptables-restore", "--noflush"], stdin=rules.restore_text())
        self.timings["firewall_ms"] = (time.perf_counter() - t0) * 1000
        self.nodes["host"] = NodeRecord("host", "host", host, HOST_NAME, None)
        self._own_etc()
        files = nodefiles.write_files("outside", "outside", p.world_ip, [], p.resolver_ip)
        pid = forkserver.spawn_holder(outside.path, "outside", nodefiles.binds(files),
                                      nodefiles.pid_file(files))  # fmt: skip
        pid.result(timeout=30)  # the first holder: a failure shows here, at once
        self.nodes["outside"] = NodeRecord("outside", "outside", outside, "outside", pid, files)
        # name servers: the outside world's resolver, and the upstream of embedded DNS
        self.dns = DnsService((p.resolver_ip, 53))
        with netlink.inside(outside, self.home_fd):
            sock = bind_udp(p.resolver_ip)
        self.dns.add(sock, self._resolve_outside, forward=False)
        if self.ipv6:
            from labkit.core import ipv6 as v6
            from labkit.daemon import ipv6

            self.info6 = {**ipv6.start(self), "uplink_ip6": v6.UPLINK6,
                          "router_ip6": v6.ROUTER6, "outside_ip6": v6.WORLD6,
                          "engine_id": self.host_id}  # fmt: skip
        if self.host_count > 1:  # more Docker hosts on a LAN (labkit.daemon.lan)
            from labkit.daemon import lan

            lan.build(self, self.host_count)
        self.timings["start_ms"] = (time.perf_counter() - t0) * 1000
        return self.info()

    def _own_etc(self) -> None:
        """The host node's own hostname, ``/etc/hosts`` and ``/etc/resolv.conf``.

        The daemon has its own UTS and mount namespaces, so this changes nothing outside the
        lab: without it, a lookup on the lab's host (``route`` without ``-n`` does one)
        would ask the machine's own resolvers — unreachable from the lab, and not ours to
        query. Every node of the lab resolves only inside the lab.
        """
        files = nodefiles.write_files("host", HOST_NAME, self.profile.uplink_ip, [],
                                  self.profile.resolver_ip)  # fmt: skip
        for src, dst in nodefiles.binds(files).items():
            nsutil.mount(src, dst, None, nsutil.MS_BIND)
        nsutil.sethostname(HOST_NAME)
        self.nodes["host"].files = files

    def _resolve_outside(self, name: str) -> list[str] | None:
        from labkit.core.dns import in_doc_zone

        return [self.profile.world_ip] if in_doc_zone(name) else None

    # ----------------------------------------------------------------- sysctls
    def _ctx(self, node: str) -> Any:
        record = self.node(node)
        if node == "host":
            return contextlib.nullcontext()
        return netlink.inside(record.netns, self.home_fd)

    def write_sysctl(self, key: str, value: str, node: str = "host") -> str:
        """``sysctl -w KEY=VALUE`` inside a node's network namespace, any key (what dockerd
        itself sets, such as ``net.ipv4.ip_forward``); returns the previous value."""
        path = "/proc/sys/" + key.replace(".", "/")
        ctx = contextlib.nullcontext() if node == "host" else self._ctx(node)
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
        path = "/proc/sys/" + key.replace(".", "/")
        with self._ctx(node):
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
        return self.write_sysctl(key, str(value), node)

    # ----------------------------------------------------------------- lookups
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

    def network(self, name: str) -> Network:
        try:
            return self.networks[name]
        except KeyError:
            known = ", ".join(self.networks)
            raise NotFound(
                f"network {name!r} not found (this lab has: {known}); create it with "
                f"lab.networks.create({name!r})"
            ) from None

    def members(self, network: str) -> list[NodeRecord]:
        return [c for c in self.containers if c.endpoint(network)]

    def attrs(self, rec: NodeRecord, with_pid: bool = False) -> dict[str, Any]:
        from labkit.daemon.lan import networks_for

        return rec.attrs(networks_for(self, rec), with_pid)

    # ----------------------------------------------------------------- docker run / rm
    def run(
        self,
        name: str,
        links: dict[str, str] | None = None,
        stepwise: bool = False,
        ports: dict[Any, Any] | None = None,
        network: str = "bridge",
        host: str = "host",
        ip: str | None = None,
    ) -> dict[str, Any]:
        """``docker run --name NAME [--network N] [--ip A] [--link c:alias] [-p H:C]``;
        ``host`` picks the lab's Docker host (:mod:`.swarm`), overlay networks are
        :mod:`.overlay`'s; ``ip`` is checked by :func:`.networks.claim_address`."""
        names.validate_name(name)
        if name in self.nodes:
            raise Conflict(
                f'container name "{name}" is already in use in this lab; remove it first '
                f"(lab.rm({name!r})) or choose another name"
            )
        if ip is not None and (host != "host" or network in ("none", "host")
                               or network.startswith("container:")
                               or getattr(self.networks.get(network), "vni", None)):  # fmt: skip
            raise InvalidArgument(
                f"ip= is built for bridge and macvlan networks on the first host (asked {ip} "
                f"with network={network!r}, host={host!r})"
            )
        if host != "host" or getattr(self.networks.get(network), "vni", None):
            from labkit.daemon import swarm

            return swarm.run(self, name, network=network, host=host, links=links, ports=ports)
        from labkit.daemon import modes

        if modes.is_mode(network):
            return modes.run(self, name, network, links, ports)
        net = self.network(network)
        link_entries = self._check_links(links or {})
        from labkit.daemon import ports as ports_mod

        specs = ports_mod.check(self, parse_ports(ports))
        if ip is not None:
            from labkit.daemon.networks import claim_address

            ip = claim_address(net, ip)
        else:
            ip = net.ipam.allocate()
        undo: list[Any] = [lambda: net.ipam.release(ip)]
        try:
            rec = self.create_container(name, net, ip, link_entries, links or {}, stepwise, undo)
            for spec in specs:
                ports_mod.publish(self, rec, spec, undo)
            return self.attrs(rec)
        except BaseException as exc:
            self.nodes.pop(name, None)
            for step in reversed(undo):
                with contextlib.suppress(Exception):
                    step()
            raise netlink.as_labkit_error(exc, f"docker run {name}") from None

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

    def create_container(
        self,
        name: str,
        net: Network,
        ip: str,
        link_entries: list[hosts.LinkEntry],
        links: dict[str, str],
        stepwise: bool,
        undo: list[Any],
        on: Netns | None = None,
    ) -> NodeRecord:
        """``docker create`` + ``start``'s kernel part for a container on ``net`` with
        address ``ip`` (already allocated): its namespace, veth pair (or macvlan child),
        address, route, files, holder and embedded DNS, on the host ``on`` (default: the
        first). Every step pushes its undo onto ``undo``; the caller runs them on failure."""
        host = on or self.host
        mac = names.mac_from_ip(ip)
        cid = names.new_id(self.rng)
        hostname = names.short_id(cid)
        veth = self.new_veth()
        ns = netlink.create_netns(name, self.home_fd, ipv6=net.ipam6 is not None)

        def drop_netns() -> None:
            ns.close()
            netlink.delete_netns_file(ns.path)

        undo.append(drop_netns)
        steps: list[dict[str, Any]] = []
        if net.driver == "macvlan":
            from labkit.daemon import macvlan

            veth = ""  # no host end: a child of the parent, moved in and renamed eth0
            macvlan.attach(self, net, ns, "eth0", mac, undo)
        elif stepwise:
            self._docker_steps(host, ns, veth, net, mac, steps, undo)
        else:
            host.rt.veth_add(veth, "eth0", ns.fd, mac, net.index, self.host_mac())
            undo.append(lambda: host.rt.link_del(host.index(veth)))
        self._isolate_if_needed(net, veth)
        rt = ns.rt
        rt.link_up(1)  # lo is always ifindex 1 in a new namespace
        eth0 = ns.index("eth0")
        t = time.perf_counter()
        rt.addr_add(eth0, ip, net.ipam.prefixlen, net.ipam.broadcast)
        rt.link_up(eth0)
        self._step(
            steps,
            stepwise,
            f"ip -n {name} addr add {ip}/{net.ipam.prefixlen} dev eth0"
            f" && ip -n {name} link set eth0 up",
            t,
        )
        t = time.perf_counter()
        rt.default_route(net.gateway)
        self._step(steps, stepwise, f"ip -n {name} route add default via {net.gateway}", t)
        ip6 = ""
        if net.ipam6 is not None:
            from labkit.daemon import ipv6

            ip6 = ipv6.attach(ns, "eth0", net, fresh=True)
            undo.append(lambda: net.ipam6.release(ip6) if net.ipam6 else None)
        # on a user-defined network --link writes nothing to /etc/hosts: the embedded DNS
        # answers the alias for this container only (measured on Docker 20.10)
        files = nodefiles.write_files(name, hostname, ip, [] if net.user_defined else link_entries,
                                  self.profile.resolver_ip, embedded_dns=net.user_defined)
        undo.append(lambda: shutil.rmtree(files, ignore_errors=True))
        t = time.perf_counter()
        pid = nodefiles.start_holder(ns.path, hostname, files)
        self._step(steps, stepwise, f"unshare --uts --mount: hostname {hostname}, /etc/hosts", t)
        rec = NodeRecord(
            name=name,
            kind="container",
            netns=ns,
            hostname=hostname,
            holder=pid,
            files=files,
            id=cid,
            endpoints=[Endpoint(net.name, "eth0", ip, mac, veth, ip6)],
            links=dict(links),
            steps=steps,
            created=time.monotonic(),
        )
        undo.append(lambda: forkserver.reap(pid.result(timeout=30)))
        if net.user_defined:
            self.start_dns(rec)
            undo.append(lambda: self.stop_dns(rec))
        self.nodes[name] = rec
        return rec

    def host_mac(self) -> str:
        """A MAC for a host-side veth: random and locally administered, as the kernel would
        pick, but drawn from the lab's generator so a seeded lab repeats itself."""
        raw = bytearray(self.rng.getrandbits(8) for _ in range(6))
        raw[0] = (raw[0] & 0xFC) | 0x02
        return ":".join(f"{b:02x}" for b in raw)

    def new_veth(self) -> str:
        """A free name for a host-side veth, ``veth`` and seven hex digits as dockerd names
        them (drawn from the lab's generator)."""
        taken = {e.veth for n in self.nodes.values() for e in n.endpoints}
        return names.veth_name(self.rng, taken)

    def _isolate_if_needed(self, net: Network, veth: str) -> None:
        """icc=False without br_netfilter: bridge port isolation stands in for the DROP rule."""
        if not net.icc and not self.br_netfilter and veth:
            run_tool(["bridge", "link", "set", "dev", veth, "isolated", "on"])

    @staticmethod
    def _step(steps: list[dict[str, Any]], on: bool, command: str, t0: float) -> None:
        if on:
            steps.append({"command": command, "ms": round((time.perf_counter() - t0) * 1000, 3)})

    def _docker_steps(
        self,
        host: Netns,
        ns: Netns,
        veth: str,
        net: Network,
        mac: str,
        steps: list[dict[str, Any]],
        undo: list[Any],
    ) -> None:
        """Docker's own order: a pair under temporary names, move one end, rename it eth0."""
        ipr = host.ipr
        tmp = names.veth_name(self.rng, {veth, *(e.veth for e in self._all_endpoints())})
        t = time.perf_counter()
        ipr.link("add", ifname=veth, kind="veth", address=self.host_mac(), txqlen=0,
                 peer={"ifname": tmp, "txqlen": 0})
        undo.append(lambda: ipr.link("del", ifname=veth))
        self._step(steps, True, f"ip link add {veth} type veth peer name {tmp}", t)
        t = time.perf_counter()
        ipr.link("set", index=host.index(veth), master=net.index, state="up")
        self._step(steps, True, f"ip link set {veth} master {net.bridge} up", t)
        t = time.perf_counter()
        ipr.link("set", index=host.index(tmp), net_ns_fd=ns.fd)
        self._step(steps, True, f"ip link set {tmp} netns {ns.name}", t)
        t = time.perf_counter()
        ns.ipr.link("set", index=ns.index(tmp), ifname="eth0", address=mac)
        self._step(steps, True, f"ip -n {ns.name} link set {tmp} name eth0 address {mac}", t)

    def _all_endpoints(self) -> list[Endpoint]:
        return [e for n in self.nodes.values() for e in n.endpoints]

    def rm(self, name: str) -> dict[str, Any]:
        """``docker rm -f NAME``: stop its processes, delete its veth pairs, free addresses."""
        from labkit.daemon import modes
        from labkit.daemon import ports as ports_mod

        rec = self.container(name)
        attrs = self.attrs(rec)
        for pub in list(rec.ports):
            ports_mod.unpublish(pub)
        self.stop_dns(rec)
        if rec.holder is not None:
            with contextlib.suppress(OSError):
                forkserver.reap(rec.holder.result(timeout=30))
        from labkit.daemon.swarm import release

        release(self, rec)  # endpoints on other hosts and on overlay networks
        for e in rec.endpoints:
            with contextlib.suppress(OSError, NotFound):
                if e.veth:
                    self.host.rt.link_del(self.host.index(e.veth))
                else:  # a macvlan child: deleted now, not when the kernel frees the
                    # namespace (later): its MAC must be free on the parent at once
                    rec.netns.rt.link_del(rec.netns.index(e.ifname))
            if e.network in self.networks:
                self.networks[e.network].ipam.release(e.ip)
                ipam6 = self.networks[e.network].ipam6
                if ipam6 is not None and e.ip6:
                    ipam6.release(e.ip6)
        heirs = modes.hand_over(self, rec) if modes.owns_netns(rec) else []
        if heirs:
            # the namespace lives on in the joiners' holders: unpin it (Docker deletes the
            # sandbox's file too) and reach it through the keeper's holder from now on
            netlink.delete_netns_file(rec.netns.path)
            rec.netns.path = f"/proc/{heirs[0].pid}/ns/net"
        elif modes.owns_netns(rec):
            rec.netns.close()
            if rec.netns.path.startswith(netlink.NETNS_DIR):
                netlink.delete_netns_file(rec.netns.path)
        if rec.files:
            shutil.rmtree(rec.files, ignore_errors=True)
        del self.nodes[name]
        return attrs

    def list_containers(self) -> list[dict[str, Any]]:
        return [self.attrs(c) for c in self.containers]

    def inspect(self, name: str) -> dict[str, Any]:
        return self.attrs(self.node(name), with_pid=True)

    # ----------------------------------------------------------------- embedded DNS
    def start_dns(self, rec: NodeRecord) -> None:
        """Docker's embedded DNS server at 127.0.0.11:53, inside the container's namespace."""
        if rec.dns is not None or self.dns is None:
            return
        with netlink.inside(rec.netns, self.home_fd):
            sock = bind_udp(EMBEDDED_DNS)
        rec.dns = sock
        self.dns.add(sock, lambda qname: self.resolve_for(rec.name, qname), forward=True,
                     netns_fd=rec.netns.fd)

    def use_embedded_dns(self, rec: NodeRecord) -> None:
        """Point the container's resolv.conf at 127.0.0.11 (rewritten in place: the file is
        bind-mounted into the container, so the same inode must change)."""
        if rec.files:
            with open(os.path.join(rec.files, "resolv.conf"), "w") as f:
                f.write(dns_rules.embedded_resolv_conf(hosts.resolv_conf(self.profile.resolver_ip)))

    def stop_dns(self, rec: NodeRecord) -> None:
        """Stop a container's embedded DNS server (:meth:`start_dns`), if it has one."""
        if rec.dns is not None and self.dns is not None:
            self.dns.remove(rec.dns)
            rec.dns = None

    def resolve_for(self, asker: str, qname: str) -> list[str] | None:
        """Names the embedded DNS knows for ``asker``: containers sharing a user-defined
        network with it (name, hostname/short id, aliases), answered with their address on
        that network. Called from the DNS thread."""
        me = self.nodes.get(asker)
        if me is None:
            return None
        found: list[str] = []
        for mine in me.endpoints:
            net = self.networks.get(mine.network)
            if net is None or not net.user_defined:
                continue
            aliased = {t.lower() for t, a in me.links.items() if a.lower() == qname}
            for other in list(self.nodes.values()):
                e = other.endpoint(net.name) if other.kind == "container" else None
                names = (other.name.lower(), other.hostname, other.id)
                if e and (qname in names or other.name.lower() in aliased):
                    found.append(e.ip)
        return found or None

    # ----------------------------------------------------------------- commands
    def exec_prefix(self, name: str) -> list[str]:
        """The argv prefix that runs a command inside a node."""
        rec = self.node(name)
        if rec.kind in ("overlay", "lb", "ingress"):  # swarm namespaces: net only
            return ["nsenter", f"--net={rec.netns.path}", "--"]
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
        run_tool(["iptables", "-t", "nat", "-A" if on else "-D", *rule])
        return on

    def close(self) -> None:
        """Nothing to undo one by one: the daemon's exit ends the pid namespace, and the
        kernel frees every namespace, interface and rule of the lab with it."""
