"""``labkit demo``: the article's topology built step by step in the terminal, with evidence."""

from __future__ import annotations

import sys
from typing import TextIO

from labkit.client.lab import Lab


def _show(out: TextIO, title: str, where: str, cmd: str, text: str) -> None:
    out.write(f"\n── {title}\n{where}$ {cmd}\n{text.rstrip()}\n")
    out.flush()


def run_demo(profile: str = "article", out: TextIO = sys.stdout) -> int:
    """Build docker0, two containers, a link and NAT; print what the kernel shows."""
    out.write(f"Starting a Docker host of its own (profile {profile!r})…\n")
    with Lab(profile=profile, seed=7) as lab:
        out.write(f"lab ready in {lab.start_ms:.0f} ms ({lab.mode} sandbox)\n")
        h = lab.host
        _show(
            out,
            "1. docker0, the virtual bridge (仮想ブリッジ)",
            "host",
            "brctl show",
            h.exec_run("brctl show").output,
        )
        c1 = lab.run("c1")
        out.write(
            f"\n── 2. docker run --name c1  → eth0 {c1.ip}  MAC {c1.mac}  host veth {c1.veth}\n"
        )
        _show(
            out,
            "   the host-side veth is a port of docker0",
            "host",
            "brctl show",
            h.exec_run("brctl show").output,
        )
        _show(
            out,
            "   the host end of the pair",
            "host",
            f"ifconfig {c1.veth}",
            h.exec_run(["ifconfig", c1.veth]).output,
        )
        _show(
            out,
            "3. inside the container: eth0 and the default gateway on docker0",
            "c1",
            "ifconfig eth0",
            c1.exec_run("ifconfig eth0").output,
        )
        _show(out, "", "c1", "route", c1.exec_run("route").output)
        c2 = lab.run("c2", links={"c1": "web"})
        _show(
            out,
            f"4. docker run --name c2 --link c1:web  → {c2.ip}",
            "c2",
            "cat /etc/hosts",
            c2.exec_run("cat /etc/hosts").output,
        )
        _show(
            out,
            "5. container to container, across docker0",
            "c2",
            "ping -c1 web",
            c2.exec_run("ping -n -c1 -W2 web").output,
        )
        o = lab.outside.ip
        lab.host.masquerade(False)
        r = c1.exec_run(["ping", "-n", "-c1", "-W1", o])
        _show(
            out,
            "6. to the outside world WITHOUT the MASQUERADE rule: no reply comes back",
            "c1",
            f"ping -c1 {o}",
            r.output,
        )
        lab.host.masquerade(True)
        _show(
            out,
            "7. with Docker's rule back in place",
            "host",
            "iptables -t nat -S POSTROUTING",
            h.exec_run("iptables -t nat -S POSTROUTING").output,
        )
        _show(out, "", "c1", f"ping -c1 {o}", c1.exec_run(["ping", "-n", "-c1", "-W2", o]).output)
        _show(
            out,
            "8. conntrack: the rewrite, inside address out, uplink address back",
            "host",
            "conntrack -L -p icmp",
            h.exec_run("conntrack -L -p icmp").output,
        )
        out.write("\nTearing down: the lab's daemon exits and the kernel frees everything.\n")
    return 0
