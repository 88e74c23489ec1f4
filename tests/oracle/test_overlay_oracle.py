"""labkit's overlay network beside a real one: Debian's dockerd 20.10 as a one-node swarm
(``docker swarm init``) with ``docker network create -d overlay --attachable ov`` and one
container on it, against a one-host lab doing the same."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from readers import iptables_rules
from support.dockerd import DockerEngine

from labkit import Lab


def _ip(out: str) -> Any:
    return json.loads(out)


@pytest.fixture
def swarm_pair(engine_factory: Callable[..., DockerEngine]):  # type: ignore[no-untyped-def]
    eng = engine_factory()
    eng.docker("swarm", "init", "--advertise-addr", "198.51.100.2")
    eng.docker("network", "create", "-d", "overlay", "--attachable", "ov")
    # a fresh swarm may answer "network ov not found" for a moment after the create: wait
    # for the engine (at most 20 tries), as a script on a real swarm would
    for _ in range(20):
        r = eng.docker("run", "-d", "--name", "c1", "--network", "ov", "busybox", "sleep", "1d",
                       check=False)  # fmt: skip
        if r.returncode == 0:
            break
        eng.docker("rm", "-f", "c1", check=False)
        time.sleep(0.5)
    assert r.returncode == 0, r.stderr
    with Lab(seed=9) as lab:
        lab.networks.create("ov", driver="overlay")
        lab.run("c1", network="ov")
        yield eng, lab


def _docker_ns(eng: DockerEngine) -> str:
    nid = eng.docker("network", "inspect", "-f", "{{.Id}}", "ov").stdout.strip()
    return f"{eng.tmp}/x/netns/1-{nid[:10]}"


def test_network_pool_vni_and_gwbridge(swarm_pair) -> None:  # type: ignore[no-untyped-def]
    eng, lab = swarm_pair
    d = json.loads(eng.docker("network", "inspect", "ov").stdout)[0]
    ov = lab.networks.get("ov")
    assert (ov.subnet, ov.gateway) == (d["IPAM"]["Config"][0]["Subnet"],
                                       d["IPAM"]["Config"][0]["Gateway"])  # fmt: skip
    assert str(ov.attrs["vni"]) == d["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
    gw = json.loads(eng.docker("network", "inspect", "docker_gwbridge").stdout)[0]
    assert gw["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    c1 = lab.containers.get("c1")
    assert c1.networks["docker_gwbridge"]["gateway"] == gw["IPAM"]["Config"][0]["Gateway"]
    dc = d["Containers"]
    mine = next(v for v in dc.values() if v["Name"] == "c1")
    assert (c1.ip, c1.mac) == (mine["IPv4Address"].split("/")[0], mine["MacAddress"])
    lb = dc["lb-ov"]["IPv4Address"]  # the host's load-balancer endpoint, after c1
    ns = f"host-lb_{ov.id[:9]}"
    assert lab.host.exec_run(["ip", "-n", ns, "-br", "-4", "addr", "show", "eth0"]
                             ).output.split()[2:] == [lb]  # fmt: skip


def test_container_interfaces_and_routes(swarm_pair) -> None:  # type: ignore[no-untyped-def]
    eng, lab = swarm_pair
    pid = eng.container_pid("c1")
    d_links = {x["ifname"]: x["mtu"] for x in _ip(eng.nsenter(pid, "ip", "-j", "link").stdout)}
    l_links = {x["ifname"]: x["mtu"] for x in _ip(
        lab.containers.get("c1").exec_run("ip -j link").output)}  # fmt: skip
    assert d_links == l_links == {"lo": 65536, "eth0": 1450, "eth1": 1500}
    d_routes = eng.nsenter(pid, "ip", "route").stdout.splitlines()
    l_routes = lab.containers.get("c1").exec_run("ip route").output.splitlines()
    assert d_routes == l_routes == [
        "default via 172.18.0.1 dev eth1 ",
        "10.0.1.0/24 dev eth0 proto kernel scope link src 10.0.1.2 ",
        "172.18.0.0/16 dev eth1 proto kernel scope link src 172.18.0.3 ",  # ingress_sbox: .2
    ]


def test_the_overlay_namespace(swarm_pair) -> None:  # type: ignore[no-untyped-def]
    eng, lab = swarm_pair
    d = _ip(eng.sandbox("nsenter", f"--net={_docker_ns(eng)}", "ip", "-j", "-d", "link").stdout)
    ns = lab.networks.get("ov").attrs["sandboxes"]["host"]
    l_ = _ip(lab.host.exec_run(["ip", "-n", ns, "-j", "-d", "link"]).output)

    def shape(links: list[dict[str, Any]]) -> dict[str, Any]:
        out = {}
        for x in links:
            name = "veth*" if x["ifname"].startswith("veth") else x["ifname"]
            info = x.get("linkinfo", {})
            data = info.get("info_data", {}) if info.get("info_kind") == "vxlan" else {}
            out[name] = {
                "kind": info.get("info_kind"),
                "mtu": x["mtu"],
                "master": x.get("master"),
                "vxlan": {k: data.get(k) for k in ("id", "port", "proxy", "l2miss", "l3miss",
                                                   "learning")},  # fmt: skip
            }
        return out

    assert shape(l_) == shape(d)
    d_br = eng.sandbox("nsenter", f"--net={_docker_ns(eng)}", "ip", "-4", "-br", "addr",
                       "show", "br0").stdout.split()[2:]  # fmt: skip
    l_br = lab.host.exec_run(["ip", "-n", ns, "-4", "-br", "addr", "show", "br0"]).output
    assert d_br == l_br.split()[2:] == ["10.0.1.1/24"]


def test_host_rules(swarm_pair) -> None:  # type: ignore[no-untyped-def]
    eng, lab = swarm_pair
    docker = iptables_rules(eng.sandbox("iptables-save").stdout)
    mine = iptables_rules(lab.host.exec_run("iptables-save").output)
    assert mine == docker


def test_published_port_on_an_overlay_goes_through_docker_gwbridge(  # type: ignore[no-untyped-def]
    swarm_pair,
) -> None:
    """``docker run --network ov -p 8080:80``: dockerd writes the port's rules for the
    container's docker_gwbridge address (its eth1); the same rules, the same proxy."""
    eng, lab = swarm_pair
    eng.docker("run", "-d", "--name", "web", "--network", "ov", "-p", "8080:80",
               "busybox", "sleep", "1d")  # fmt: skip
    web = lab.run("web", network="ov", ports={"80/tcp": 8080})
    gw_ip = web.networks["docker_gwbridge"]["ip"]
    docker = iptables_rules(eng.sandbox("iptables-save").stdout)
    mine = iptables_rules(lab.host.exec_run("iptables-save").output)
    assert mine == docker
    assert any(f"--to-destination {gw_ip}:80" in r for r in mine), mine
    d_ps = eng.sandbox("ps", "-eo", "args").stdout
    assert f"-host-ip 0.0.0.0 -host-port 8080 -container-ip {gw_ip} -container-port 80" in d_ps
    l_ps = lab.host.exec_run("ps -e -o args=").output
    assert f"-host-ip 0.0.0.0 -host-port 8080 -container-ip {gw_ip} -container-port 80" in l_ps


def test_connect_bridge_and_overlay_both_ways(swarm_pair) -> None:  # type: ignore[no-untyped-def]
    """``network connect`` as dockerd does it: a bridge network joining an overlay container
    takes docker_gwbridge's place; an overlay joining a docker0 container gives no route."""
    eng, lab = swarm_pair
    eng.docker("network", "create", "appnet")
    eng.docker("network", "connect", "appnet", "c1")
    eng.docker("run", "-d", "--name", "b1", "busybox", "sleep", "1d")
    eng.docker("network", "connect", "ov", "b1")
    lab.networks.create("appnet").connect("c1")
    lab.run("b1")
    lab.networks.get("ov").connect("b1")

    def view(side: str, name: str) -> tuple[list[str], list[str]]:
        if side == "docker":
            pid = eng.container_pid(name)
            a = eng.nsenter(pid, "ip", "-br", "-4", "addr").stdout
            r = eng.nsenter(pid, "ip", "route").stdout
        else:
            c = lab.containers.get(name)
            a, r = c.exec_run("ip -br -4 addr").output, c.exec_run("ip route").output
        names = [line.split()[0].split("@")[0] for line in a.splitlines()]
        default = [line for line in r.splitlines() if line.startswith("default")]
        return names, default

    assert view("lab", "c1") == view("docker", "c1") == (
        ["lo", "eth0", "eth2"], ["default via 172.19.0.1 dev eth2 "])
    assert view("lab", "b1") == view("docker", "b1") == (
        ["lo", "eth0", "eth1"], ["default via 172.17.0.1 dev eth0 "])
