"""The iptables rules Docker 27 installs for its bridge networks, as ``iptables-restore`` text.

Pure text generation, testable without privileges. The daemon feeds the text to the real
``iptables-restore`` inside the lab's namespace, so ``iptables -t nat -S`` in the lab prints
what a learner's own Docker host prints. Source: libnetwork's bridge driver
(``drivers/bridge/setup_ip_tables.go``) and the rule sets of Docker 20.10 – 27.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BridgeRules:
    """One bridge network as the firewall sees it."""

    bridge: str
    subnet: str
    icc: bool = True
    masquerade: bool = True


@dataclass(frozen=True)
class PublishedPort:
    """``-p host_port:container_port/proto`` for one container."""

    bridge: str
    container_ip: str
    container_port: int
    host_port: int
    proto: str = "tcp"


@dataclass
class Ruleset:
    """Docker's rules for a set of bridges and published ports."""

    bridges: list[BridgeRules]
    ports: list[PublishedPort] = field(default_factory=list)
    userland_proxy: bool = True

    def nat_rules(self) -> list[str]:
        """The nat table's rules, in the order ``iptables -t nat -S`` shows them."""
        out = ["-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"]
        if self.userland_proxy:
            out.append("-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER")
        else:
            out.append("-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER")
        for b in self.bridges:
            if b.masquerade:
                out.append(f"-A POSTROUTING -s {b.subnet} ! -o {b.bridge} -j MASQUERADE")
        for p in self.ports:
            out.append(
                f"-A POSTROUTING -s {p.container_ip}/32 -d {p.container_ip}/32 -p {p.proto} "
                f"-m {p.proto} --dport {p.container_port} -j MASQUERADE"
            )
        if not self.userland_proxy:
            for b in self.bridges:
                out.append(
                    f"-A POSTROUTING -m addrtype --src-type LOCAL -o {b.bridge} -j MASQUERADE"
                )
        for b in self.bridges:
            out.append(f"-A DOCKER -i {b.bridge} -j RETURN")
        for p in self.ports:
            out.append(
                f"-A DOCKER ! -i {p.bridge} -p {p.proto} -m {p.proto} --dport {p.host_port} "
                f"-j DNAT --to-destination {p.container_ip}:{p.container_port}"
            )
        return out

    def filter_rules(self) -> list[str]:
        """The filter table's rules, in the order ``iptables -S`` shows them."""
        out = ["-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"]
        for b in self.bridges:
            br = b.bridge
            out += [
                f"-A FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                f"-A FORWARD -o {br} -j DOCKER",
                "-A " + " ".join(outbound_rule(br)),
                "-A " + " ".join(icc_rule(br, b.icc)),
            ]
        for p in self.ports:
            out.append(
                f"-A DOCKER -d {p.container_ip}/32 ! -i {p.bridge} -o {p.bridge} -p {p.proto} "
                f"-m {p.proto} --dport {p.container_port} -j ACCEPT"
            )
        for b in self.bridges:
            out.append(
                f"-A DOCKER-ISOLATION-STAGE-1 -i {b.bridge} ! -o {b.bridge} "
                "-j DOCKER-ISOLATION-STAGE-2"
            )
        out.append("-A DOCKER-ISOLATION-STAGE-1 -j RETURN")
        for b in self.bridges:
            out.append(f"-A DOCKER-ISOLATION-STAGE-2 -o {b.bridge} -j DROP")
        out.append("-A DOCKER-ISOLATION-STAGE-2 -j RETURN")
        out.append("-A DOCKER-USER -j RETURN")
        return out

    def restore_text(self) -> str:
        """Input for ``iptables-restore``: both tables, chains declared, FORWARD policy DROP.

        Docker sets the FORWARD policy to DROP when it turns ``ip_forward`` on itself.
        """
        lines = [
            "*nat",
            ":PREROUTING ACCEPT [0:0]",
            ":INPUT ACCEPT [0:0]",
            ":OUTPUT ACCEPT [0:0]",
            ":POSTROUTING ACCEPT [0:0]",
            ":DOCKER - [0:0]",
            *self.nat_rules(),
            "COMMIT",
            "*filter",
            ":INPUT ACCEPT [0:0]",
            ":FORWARD DROP [0:0]",
            ":OUTPUT ACCEPT [0:0]",
            ":DOCKER - [0:0]",
            ":DOCKER-ISOLATION-STAGE-1 - [0:0]",
            ":DOCKER-ISOLATION-STAGE-2 - [0:0]",
            ":DOCKER-USER - [0:0]",
            *self.filter_rules(),
            "COMMIT",
        ]
        return "\n".join(lines) + "\n"


def masquerade_rule(bridge: str, subnet: str) -> list[str]:
    """The arguments of the MASQUERADE rule of one bridge (for ``iptables -t nat -A/-D``)."""
    return ["POSTROUTING", "-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"]


def outbound_rule(bridge: str) -> list[str]:
    """The filter rule that lets a bridge's containers out (``iptables -A/-C/-D`` arguments):
    ``FORWARD -i BRIDGE ! -o BRIDGE -j ACCEPT``."""
    return ["FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"]


def icc_rule(bridge: str, icc: bool = True) -> list[str]:
    """The filter rule for traffic between a bridge's containers: ACCEPT, or DROP with
    ``--icc=false`` (``iptables -A/-C/-D`` arguments)."""
    return ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT" if icc else "DROP"]


Command = tuple[str, list[str]]  # (table, iptables arguments)


def bridge_inserts(bridge: BridgeRules) -> list[Command]:
    """The rules dockerd adds for a new user-defined bridge, placed as it places them: before
    the rules of older networks (so ``iptables -S`` lists the newest network first)."""
    br, sn = bridge.bridge, bridge.subnet
    cmds: list[Command] = []
    if bridge.masquerade:
        cmds.append(
            ("nat", ["-I", "POSTROUTING", "1", "-s", sn, "!", "-o", br, "-j", "MASQUERADE"])
        )
    cmds += [
        ("nat", ["-I", "DOCKER", "1", "-i", br, "-j", "RETURN"]),
        (
            "filter",
            [
                "-I",
                "FORWARD",
                "3",
                "-o",
                br,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-j",
                "ACCEPT",
            ],
        ),
        ("filter", ["-I", "FORWARD", "4", "-o", br, "-j", "DOCKER"]),
        ("filter", ["-I", "FORWARD", "5", "-i", br, "!", "-o", br, "-j", "ACCEPT"]),
        # ICC: libnetwork's setIcc *inserts* the ACCEPT but *appends* the DROP (-A FORWARD),
        # so a bridge with ICC off has its DROP at the end of FORWARD (checked against
        # dockerd 20.10's docker_gwbridge: tests/oracle/test_overlay_oracle.py)
        (
            ("filter", ["-I", "FORWARD", "6", "-i", br, "-o", br, "-j", "ACCEPT"])
            if bridge.icc
            else ("filter", ["-A", "FORWARD", "-i", br, "-o", br, "-j", "DROP"])
        ),
        (
            "filter",
            [
                "-I",
                "DOCKER-ISOLATION-STAGE-1",
                "1",
                "-i",
                br,
                "!",
                "-o",
                br,
                "-j",
                "DOCKER-ISOLATION-STAGE-2",
            ],
        ),
        ("filter", ["-I", "DOCKER-ISOLATION-STAGE-2", "1", "-o", br, "-j", "DROP"]),
    ]
    return cmds


def host_mask(ip: str) -> str:
    """``ip/32``, or ``ip/128`` for an IPv6 address (as iptables-save and ip6tables-save
    print a single address)."""
    return f"{ip}/128" if ":" in ip else f"{ip}/32"


def endpoint(ip: str, port: int) -> str:
    """``ip:port``, with an IPv6 address in brackets (``[fd00::2]:80``, as DNAT takes it)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def port_appends(port: PublishedPort) -> list[Command]:
    """The rules of ``-p HOST:CONTAINER/PROTO`` (Docker 27, userland proxy on); for an
    IPv6 ``container_ip``, the same rules as ip6tables takes them (dockerd writes both)."""
    p, ip = port.proto, port.container_ip
    return [
        (
            "nat",
            [
                "-A",
                "POSTROUTING",
                "-s",
                host_mask(ip),
                "-d",
                host_mask(ip),
                "-p",
                p,
                "-m",
                p,
                "--dport",
                str(port.container_port),
                "-j",
                "MASQUERADE",
            ],
        ),
        (
            "nat",
            [
                "-A",
                "DOCKER",
                "!",
                "-i",
                port.bridge,
                "-p",
                p,
                "-m",
                p,
                "--dport",
                str(port.host_port),
                "-j",
                "DNAT",
                "--to-destination",
                endpoint(ip, port.container_port),
            ],
        ),
        (
            "filter",
            [
                "-A",
                "DOCKER",
                "-d",
                host_mask(ip),
                "!",
                "-i",
                port.bridge,
                "-o",
                port.bridge,
                "-p",
                p,
                "-m",
                p,
                "--dport",
                str(port.container_port),
                "-j",
                "ACCEPT",
            ],
        ),
    ]


def deletions(cmds: list[Command]) -> list[Command]:
    """The ``-D`` commands that remove exactly what ``cmds`` added, newest first."""
    out: list[Command] = []
    for table, args in reversed(cmds):
        op, chain, *rest = args
        if op == "-I" and rest and rest[0].isdigit():
            rest = rest[1:]
        out.append((table, ["-D", chain, *rest]))
    return out


def restore_text(cmds: list[Command]) -> str:
    """Input for ``iptables-restore --noflush`` that runs ``cmds`` in one go, table by table
    (order kept within a table)."""
    lines: list[str] = []
    for table in ("nat", "filter"):
        mine = [args for t, args in cmds if t == table]
        if mine:
            lines.append(f"*{table}")
            lines += [" ".join(_quote(a) for a in args) for args in mine]
            lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg
