"""Capture: frames from capture points, decoded, aligned across NAT, saved as pcap."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.plist import PacketList
from scapy.utils import rdpcap

from labkit.packets import Capture

C1_MAC, BR_MAC, HOST_MAC, GW_MAC = (
    "02:42:ac:11:00:02",
    "02:42:00:00:00:01",
    "02:00:00:00:00:10",
    "02:00:00:00:00:fe",
)
T0 = 1_700_000_000.0


def frame(src_mac: str, dst_mac: str, ip: IP, t: float) -> tuple[bytes, float, int]:
    """Fully explicit frame: building it consults no route and no ARP cache."""
    return (bytes(Ether(src=src_mac, dst=dst_mac) / ip), t, 1)


def nat_capture() -> Capture:
    """A UDP packet and an ICMP echo from c1, seen before (c1:eth0) and after NAT."""
    udp_in = (
        IP(src="172.17.0.2", dst="203.0.113.10", id=4242, ttl=64)
        / UDP(sport=40000, dport=9999)
        / b"hello"
    )
    udp_out = (
        IP(src="198.51.100.73", dst="203.0.113.10", id=4242, ttl=63)
        / UDP(sport=40001, dport=9999)
        / b"hello"
    )
    echo_in = IP(src="172.17.0.2", dst="203.0.113.10", id=7) / ICMP(id=11, seq=1) / b"abc"
    echo_out = (
        IP(src="198.51.100.73", dst="203.0.113.10", id=7, ttl=63) / ICMP(id=999, seq=1) / b"abc"
    )
    arp = Ether(src=C1_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="172.17.0.2", pdst="172.17.0.1")
    return Capture(
        {
            "c1:eth0": [
                (bytes(arp), T0, 1),
                frame(C1_MAC, BR_MAC, udp_in, T0 + 0.001),
                frame(C1_MAC, BR_MAC, echo_in, T0 + 0.010),
            ],
            "host:eth0": [
                frame(HOST_MAC, GW_MAC, udp_out, T0 + 0.002),
                frame(HOST_MAC, GW_MAC, echo_out, T0 + 0.011),
                # unrelated traffic, same IP id as the UDP packet but another payload
                frame(
                    HOST_MAC,
                    GW_MAC,
                    IP(src="198.51.100.73", dst="203.0.113.11", id=4242) / UDP() / b"x",
                    T0 + 0.020,
                ),
            ],
        }
    )


def test_mapping_interface() -> None:
    cap = nat_capture()
    assert cap.points == ["c1:eth0", "host:eth0"]
    assert list(cap) == cap.points and len(cap) == 2
    pl = cap["c1:eth0"]
    assert isinstance(pl, PacketList) and len(pl) == 3
    assert pl[1][IP].src == "172.17.0.2" and pl[1][UDP].load == b"hello"
    assert float(pl[1].time) == pytest.approx(T0 + 0.001)
    assert pl[0].haslayer(ARP)
    with pytest.raises(KeyError, match="host:eth0"):
        cap["nope"]
    assert "c1:eth0: 3" in repr(cap) and "2 packets matched" in repr(cap)


def test_nat_rewritten_packet_lines_up() -> None:
    cap = nat_capture()
    assert cap.matches() == [{"c1:eth0": 1, "host:eth0": 0}, {"c1:eth0": 2, "host:eth0": 1}]
    hops = cap.hops(0)
    assert [h["point"] for h in hops] == ["c1:eth0", "host:eth0"]
    before, after = hops
    assert (before["node"], before["ifname"]) == ("c1", "eth0")
    assert (after["node"], after["ifname"]) == ("host", "eth0")
    assert (before["src"], before["sport"]) == ("172.17.0.2", 40000)
    assert (after["src"], after["sport"]) == ("198.51.100.73", 40001)
    assert before["dst"] == after["dst"] == "203.0.113.10"
    assert before["proto"] == after["proto"] == "udp" and after["dport"] == 9999
    assert set(before) >= {"point", "node", "ifname", "src", "dst", "proto", "sport", "dport"}
    assert "UDP" in before["summary"]
    # ICMP: NAT rewrote the ICMP id, the packet still lines up.
    icmp = cap.hops(1)
    assert [h["src"] for h in icmp] == ["172.17.0.2", "198.51.100.73"]
    assert icmp[0]["proto"] == "icmp" and icmp[0]["sport"] is None
    with pytest.raises(IndexError):
        cap.hops(2)


def test_hops_order_by_time_follows_a_reply() -> None:
    reply_out = (
        IP(src="203.0.113.10", dst="198.51.100.73", id=55) / UDP(sport=9999, dport=40001) / b"pong"
    )
    reply_in = (
        IP(src="203.0.113.10", dst="172.17.0.2", id=55, ttl=63)
        / UDP(sport=9999, dport=40000)
        / b"pong"
    )
    cap = Capture(
        {
            "c1:eth0": [frame(BR_MAC, C1_MAC, reply_in, T0 + 0.5)],
            "host:eth0": [frame(GW_MAC, HOST_MAC, reply_out, T0 + 0.4)],
        }
    )
    assert [h["point"] for h in cap.hops(0)] == ["c1:eth0", "host:eth0"]
    assert [h["point"] for h in cap.hops(0, order="time")] == ["host:eth0", "c1:eth0"]


def test_repeated_identical_packets_match_in_order() -> None:
    same = IP(src="172.17.0.2", dst="203.0.113.10", id=0) / UDP(sport=5, dport=6) / b"same"
    natted = IP(src="198.51.100.73", dst="203.0.113.10", id=0) / UDP(sport=5, dport=6) / b"same"
    cap = Capture(
        {
            "a:eth0": [frame(C1_MAC, BR_MAC, same, T0 + i) for i in range(3)],
            "b:eth0": [frame(HOST_MAC, GW_MAC, natted, T0 + i + 0.1) for i in range(3)],
        }
    )
    assert cap.matches() == [{"a:eth0": i, "b:eth0": i} for i in range(3)]


def test_html_shows_points_and_alignment() -> None:
    page = nat_capture()._repr_html_()
    assert "c1:eth0" in page and "host:eth0" in page
    assert "Same packet across points" in page
    assert "172.17.0.2:40000" in page
    assert '<span class="chg">198.51.100.73:40001</span>' in page
    assert "<script" not in page


def test_pcap_round_trip(tmp_path: Path) -> None:
    cap = nat_capture()
    one = tmp_path / "c1.pcap"
    cap.save(str(one), point="c1:eth0")
    back = rdpcap(str(one))
    assert [bytes(p) for p in back] == [f[0] for f in cap.frames("c1:eth0")]
    assert [float(p.time) for p in back] == pytest.approx([f[1] for f in cap.frames("c1:eth0")])

    merged = tmp_path / "all.pcap"
    cap.save(str(merged))
    back = rdpcap(str(merged))
    assert len(back) == 6
    times = [float(p.time) for p in back]
    assert times == sorted(times)
    assert back[1][IP].src == "172.17.0.2" and back[2][IP].src == "198.51.100.73"


def test_pcapng_keeps_points(tmp_path: Path) -> None:
    cap = nat_capture()
    path = tmp_path / "all.pcapng"
    cap.save(str(path))
    back = rdpcap(str(path))
    assert [p.sniffed_on for p in back] == [
        "c1:eth0",
        "c1:eth0",
        "host:eth0",
        "c1:eth0",
        "host:eth0",
        "host:eth0",
    ]


def test_mixed_linktypes_need_pcapng(tmp_path: Path) -> None:
    raw_ip = bytes(IP(src="172.17.0.2", dst="172.17.0.3") / UDP(sport=1, dport=2) / b"z")
    cap = Capture({"tun:wg0": [(raw_ip, T0, 228)], "c1:eth0": nat_capture().frames("c1:eth0")})
    assert cap["tun:wg0"][0][UDP].load == b"z"  # decoded as IPv4 by linktype
    with pytest.raises(ValueError, match="pcapng"):
        cap.save(str(tmp_path / "x.pcap"))
    cap.save(str(tmp_path / "x.pcapng"))
    assert len(rdpcap(str(tmp_path / "x.pcapng"))) == 4


def test_empty_capture(tmp_path: Path) -> None:
    cap = Capture({"c1:eth0": []})
    assert len(cap["c1:eth0"]) == 0 and cap.start_time is None
    assert cap.matches() == []
    with pytest.raises(IndexError):
        cap.hops()
    cap._repr_html_()
    cap.save(str(tmp_path / "empty.pcap"))
    assert len(rdpcap(str(tmp_path / "empty.pcap"))) == 0


def test_losses_are_shown() -> None:
    from labkit.packets.capture import Capture

    cap = Capture(
        {"c1:eth0": [], "host:eth0": []},
        failed={"c1:eth0": "the capture agent in c1 died"},
        drops={"host:eth0": {"kernel": 7, "limit_reached": True, "not_returned": 3}},
    )
    text = repr(cap)
    assert "c1:eth0: 0 (FAILED: the capture agent in c1 died)" in text
    assert "7 dropped by the kernel" in text and "packet limit" in text and "3 not returned" in text
    assert "FAILED" in cap._repr_html_() and cap.dropped == 7


def test_a_capture_reply_is_kept_within_the_pipe_limit(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from labkit.daemon import probes

    monkeypatch.setattr(probes, "MAX_FRAME", 4000)
    out = {
        "frames": {"a": [(b"x" * 1000, 0.0, 1)] * 3, "b": [(b"y" * 1000, 0.0, 1)] * 3},
        "failed": {},
        "drops": {"a": {}, "b": {}},
    }
    probes._fit_reply(out)
    assert len(out["frames"]["a"]) == 2 and out["frames"]["b"] == []
    assert out["drops"]["a"]["not_returned"] == 1 and out["drops"]["b"]["not_returned"] == 3
