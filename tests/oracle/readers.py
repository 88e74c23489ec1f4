"""Reading a Docker host and a lab with the same tools: the machine's iproute2 (``-j``) and
``iptables-save``, entered into each network namespace with ``nsenter`` from the machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from support.dockerd import SBIN_PATH, DockerEngine

ENV = {**os.environ, "PATH": SBIN_PATH, "LC_ALL": "C"}


def root_pid(pid1: int, inner: int) -> int:
    """The machine's pid of process ``inner`` of the pid namespace whose pid 1 is ``pid1``."""
    if inner == 1:
        return pid1
    def nspid(pid: str | int) -> list[int]:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
        return []

    level = len(nspid(pid1)) - 1  # pid1's namespace, as seen in NSpid
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ids = nspid(entry)
        except OSError:
            continue
        if len(ids) > level and ids[level] == inner and _descends(int(entry), pid1):
            return int(entry)
    raise LookupError(f"no process {inner} in the pid namespace of {pid1}")


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        with open(f"/proc/{pid}/status") as f:
            pid = next(int(ln.split()[1]) for ln in f if ln.startswith("PPid:"))
    return pid == ancestor


def run_in(pid: int, *cmd: str) -> subprocess.CompletedProcess[str]:
    """A machine tool in the network namespace of machine pid ``pid``."""
    return subprocess.run(["nsenter", "-t", str(pid), "-n", "--", *cmd],
                          capture_output=True, text=True, env=ENV)


def ip_json(pid: int, *args: str) -> Any:
    out = run_in(pid, "ip", "-j", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout or "[]")


class Side:
    """One side of the comparison: how to find a node's namespace."""

    name = ""

    def pid(self, node: str) -> int:  # machine pid inside node's netns ("host" = the host)
        raise NotImplementedError

    def ip(self, node: str, *args: str) -> Any:
        return ip_json(self.pid(node), *args)

    def iptables(self, node: str = "host") -> str:
        out = run_in(self.pid(node), "iptables-save")
        assert out.returncode == 0, out.stderr
        return out.stdout


class DockerSide(Side):
    name = "docker"

    def __init__(self, eng: DockerEngine) -> None:
        self.eng = eng

    def pid(self, node: str) -> int:
        if node == "host":
            return self.eng.pid
        return root_pid(self.eng.pid, self.eng.container_pid(node))

    def file(self, node: str, path: str) -> str:
        return self.eng.read_file(node, path)


class LabSide(Side):
    name = "lab"

    def __init__(self, lab: Any) -> None:
        self.lab = lab

    def pid(self, node: str) -> int:
        if node == "host":
            return self.lab.sandbox_pid
        inner = self.lab._call("inspect", node)["pid"]
        return root_pid(self.lab.sandbox_pid, inner)

    def file(self, node: str, path: str) -> str:
        with open(f"/proc/{self.pid(node)}/root{path}") as f:
            return f.read()


# ------------------------------------------------------------------- normalising
_HEX_ID = re.compile(r"\b[0-9a-f]{12}\b")


def links(side: Side, node: str) -> dict[str, dict[str, Any]]:
    """``ip -d link`` per interface, keeping what is not random."""
    out = {}
    for ln in side.ip(node, "-d", "link"):
        name = ln["ifname"]
        if name.startswith("veth"):
            name = "veth*"
        if name.startswith("br-"):
            name = "br-*"
        info = ln.get("linkinfo", {})
        out.setdefault(name, {
            "flags": sorted(ln["flags"]),
            "mtu": ln["mtu"],
            "qlen": ln.get("txqlen"),
            "kind": info.get("info_kind"),
            "slave": info.get("info_slave_kind"),
            "addrgenmode": ln.get("inet6_addr_gen_mode"),
            "link_netnsid": "link_netnsid" in ln,
            "broadcast": ln.get("broadcast"),
            "operstate": ln.get("operstate"),
        })
    return out


def addrs(side: Side, node: str) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for a in side.ip(node, "addr"):
        name = "veth*" if a["ifname"].startswith("veth") else a["ifname"]
        name = "br-*" if name.startswith("br-") else name
        out.setdefault(name, sorted(
            (i["family"], i["local"], i["prefixlen"], i.get("broadcast"), i.get("scope"))
            for i in a.get("addr_info", []) if i["family"] == "inet"
        ))
    return out


def routes(side: Side, node: str) -> list[tuple[Any, ...]]:
    return sorted(
        (r["dst"], r.get("gateway"), r.get("dev"), r.get("prefsrc"), r.get("scope"),
         r.get("protocol"))
        for r in side.ip(node, "route")
    )


def iptables_rules(text: str, bridges: dict[str, str] | None = None) -> list[str]:
    """``iptables-save`` without comments, counters; bridge names mapped by ``bridges``."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        line = re.sub(r"\[\d+:\d+\]", "", line).rstrip()
        for real, alias in (bridges or {}).items():
            line = line.replace(real, alias)
        out.append(line)
    return out
