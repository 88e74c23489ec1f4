"""Packets across the bridge and the NAT, captured at several points of a real lab."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.utils import rdpcap

from labkit import InvalidArgument, Lab, NotFound

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def plab(can_lab: None):  # type: ignore[no-untyped-def]
    with Lab(profile="article", seed=11) as lab:
        lab.run("c1")
        lab.run("c2")
        yield lab


def _ip_pairs(cap, point: str, proto: type) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(p[IP].src, p[IP].dst) for p in cap[point] if p.haslayer(IP) and p.haslayer(proto)]


def test_nat_rewrite_seen_at_each_point(plab: Lab) -> None:
    c1 = plab.containers.get("c1")
    out = plab.outside.ip
    points = ("c1:eth0", f"host:{c1.veth}", "host:docker0", "host:eth0", "outside:eth0")
    with plab.capture(*points, proto="udp") as cap:
        c1.send(IP(dst=out) / UDP(sport=40000, dport=9999) / b"hello")
    inside = ("172.17.0.2", out)
    outside = ("198.51.100.73", out)
    for point in points[:3]:
        assert inside in _ip_pairs(cap, point, UDP), point
    for point in points[3:]:
        assert outside in _ip_pairs(cap, point, UDP), point
        assert inside not in _ip_pairs(cap, point, UDP), point
    hops = cap.hops(0)
    assert [h["point"] for h in hops] == list(points)
    assert hops[0]["src"] == "172.17.0.2" and hops[-1]["src"] == "198.51.100.73"


def test_container_to_container_on_docker0(plab: Lab) -> None:
    c1, c2 = plab.containers.get("c1"), plab.containers.get("c2")
    with plab.capture("host:docker0", f"host:{c1.veth}", f"host:{c2.veth}", proto="icmp") as cap:
        assert c1.ping(c2.ip)
    for point in cap.points:
        pairs = _ip_pairs(cap, point, ICMP)
        assert ("172.17.0.2", "172.17.0.3") in pairs, point
        assert ("172.17.0.3", "172.17.0.2") in pairs, point


def test_sr1_reply_is_denatted(plab: Lab) -> None:
    c1 = plab.containers.get("c1")
    reply = c1.sr1(IP(dst=plab.outside.ip) / ICMP(), timeout=3)
    assert reply is not None
    assert (reply[IP].src, reply[IP].dst) == (plab.outside.ip, "172.17.0.2")
    assert reply[ICMP].type == 0
    ct = plab.snapshot()["host"]["conntrack"]
    assert any(
        e["orig"]["src"] == "172.17.0.2" and e["reply"]["dst"] == "198.51.100.73" and e["nat"]
        for e in ct
    )
    table = plab.host.conntrack(proto="icmp", host=plab.outside.ip)
    assert table.nat and all(e["proto"] == "icmp" for e in table)
    assert "src=172.17.0.2 dst=203.0.113.10" in str(table)
    assert "198.51.100.73" in table._repr_html_()


def test_no_reply_without_masquerade(plab: Lab) -> None:
    c1 = plab.containers.get("c1")
    plab.host.masquerade(False)
    try:
        with plab.capture("host:eth0", "outside:eth0", proto="icmp") as cap:
            assert not c1.ping(plab.outside.ip, timeout=1)
        # the request leaves with its private source; the outside cannot answer it
        assert ("172.17.0.2", plab.outside.ip) in _ip_pairs(cap, "outside:eth0", ICMP)
        assert not [p for p in cap["outside:eth0"] if p.haslayer(ICMP) and p[ICMP].type == 0]
    finally:
        plab.host.masquerade(True)
    assert c1.ping(plab.outside.ip)


def test_pcap_round_trip(plab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c1 = plab.containers.get("c1")
    with plab.capture("c1:eth0", "host:eth0", proto="icmp") as cap:
        c1.ping(plab.outside.ip)
    path = tmp_path / "trip.pcap"
    cap.save(str(path))
    back = rdpcap(str(path))
    assert len(back) == len(cap["c1:eth0"]) + len(cap["host:eth0"])
    srcs = {p[IP].src for p in back if p.haslayer(IP)}
    assert {"172.17.0.2", "198.51.100.73"} <= srcs
    one = tmp_path / "one.pcap"
    cap.save(str(one), point="host:eth0")
    assert [bytes(p) for p in rdpcap(str(one))] == [bytes(p) for p in cap["host:eth0"]]


def test_diagram_draws_the_flow(plab: Lab) -> None:
    c1 = plab.containers.get("c1")
    with plab.capture("c1:eth0", "host:eth0", "outside:eth0", proto="icmp") as cap:
        c1.ping(plab.outside.ip)
    src = plab.diagram(flow=cap).source
    assert "172.17.0.2" in src and "198.51.100.73" in src and c1.veth in src


def test_diagram_follows_the_kernel(plab: Lab) -> None:
    plab.host.exec_run("ip link add byhand0 type veth peer name byhand1")
    try:
        assert "byhand0" in plab.diagram().source
    finally:
        plab.host.exec_run("ip link del byhand0")
    assert "byhand0" not in plab.diagram().source


def test_bad_capture_points(plab: Lab) -> None:
    with pytest.raises(InvalidArgument, match="node:ifname"):
        plab.capture("c1").start()
    with pytest.raises(NotFound, match="it has: .*eth0"):
        plab.capture("c1:eth9").start()
    with pytest.raises(NotFound, match="no node or container"):
        plab.capture("ghost:eth0").start()
    # the lab still works
    c1 = plab.containers.get("c1")
    assert c1.ping(plab.containers.get("c2").ip)
