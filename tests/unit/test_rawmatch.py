"""The agent's capture filter on raw bytes agrees with the scapy matcher it replaced.

The reference is the old agent's ``_matcher`` (scapy ``haslayer``), kept here, run in a
child process that imports exactly the scapy layers an agent imports
(:func:`labkit.packets.agent.import_scapy`): another test may have imported more layers
into this process, and scapy's dissection depends on which layers are loaded.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from labkit.packets import rawmatch

REPO = Path(__file__).resolve().parents[2]

#: builds the corpus with scapy and answers with the old matcher, in a clean process
REFERENCE = textwrap.dedent(
    r"""
    import json, random, sys
    from labkit.packets.agent import import_scapy
    import_scapy()
    from scapy.config import conf
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import (
        IPv6, ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, ICMPv6MLReport2,
        ICMPv6MLDMultAddrRec, IPv6ExtHdrHopByHop, RouterAlert, ICMPv6DestUnreach,
        IPv6ExtHdrFragment, IPv6ExtHdrRouting, IPv6ExtHdrDestOpt, ICMPv6TimeExceeded,
        ICMPv6PacketTooBig)
    from scapy.layers.l2 import ARP, Ether, Dot1Q, GRE
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.vxlan import VXLAN

    def old_matcher(match):
        layers = {"icmp": ICMP, "udp": UDP, "tcp": TCP, "arp": ARP, "ip": IP, "ip6": IPv6,
                  "icmp6": IPv6}
        proto, host, port = match.get("proto"), match.get("host"), match.get("port")

        def keep(pkt):
            if proto is not None and not pkt.haslayer(layers[proto]):
                return False
            if proto == "icmp6" and pkt[IPv6].nh != 58:
                return False
            if host is not None:
                if IP in pkt:
                    if host not in (pkt[IP].src, pkt[IP].dst):
                        return False
                elif IPv6 in pkt:
                    if host not in (pkt[IPv6].src, pkt[IPv6].dst):
                        return False
                elif ARP in pkt:
                    if host not in (pkt[ARP].psrc, pkt[ARP].pdst):
                        return False
                else:
                    return False
            if port is not None:
                l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
                if l4 is None or port not in (l4.sport, l4.dport):
                    return False
            return True
        return keep

    def decode(raw, lt):
        # what the capture socket did: the link type's class, Raw if that fails
        cls = conf.l2types.num2layer[lt]
        try:
            return cls(raw)
        except Exception:
            return conf.raw_layer(raw)

    M1, M2 = "02:42:ac:11:00:02", "02:42:ac:11:00:03"
    A, B, OUT = "172.17.0.2", "172.17.0.3", "203.0.113.10"
    V6A, V6B = "2001:db8::2", "2001:db8::3"
    eth = Ether(src=M1, dst=M2)
    inner_icmp = Ether(src=M2, dst=M1) / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(id=1, seq=2)
    inner_tcp = (Ether(src=M2, dst=M1) / IP(src="10.0.0.1", dst="10.0.0.2")
                 / TCP(sport=40001, dport=8080, flags="S"))
    quoted_udp = IP(src=A, dst=OUT, id=7) / UDP(sport=40000, dport=9999) / b"hello"
    named = {
        "arp_req": eth / ARP(op=1, psrc=A, pdst=B, hwsrc=M1),
        "arp_rep": eth / ARP(op=2, psrc=B, pdst=A, hwsrc=M2, hwdst=M1),
        "icmp_echo": eth / IP(src=A, dst=B) / ICMP(id=7, seq=1) / b"labkit 7 1 ....",
        "icmp_reply": eth / IP(src=B, dst=A, ttl=63) / ICMP(type=0, id=7, seq=1),
        "icmp_unreach_udp": eth / IP(src=OUT, dst=A) / ICMP(type=3, code=3) / quoted_udp,
        "icmp_ttl_tcp": eth / IP(src="198.51.100.1", dst=A) / ICMP(type=11)
                        / IP(src=A, dst=OUT) / TCP(sport=40002, dport=443),
        "icmp_long_error": eth / IP(src=OUT, dst=A) / ICMP(type=3, code=3)
                           / IP(src=A, dst=OUT) / UDP(sport=40000, dport=9999) / (b"x" * 200),
        "icmp_error_vxlan": eth / IP(src=OUT, dst=A) / ICMP(type=3, code=3)
                            / IP(src=A, dst=OUT) / UDP(sport=4789, dport=4789) / VXLAN(vni=42)
                            / inner_tcp,
        "tcp_syn": eth / IP(src=A, dst=OUT) / TCP(sport=40002, dport=80, flags="S",
                                                  options=[("MSS", 1460), ("SAckOK", b""),
                                                           ("Timestamp", (1, 0)),
                                                           ("NOP", None), ("WScale", 7)]),
        "udp_dns": eth / IP(src=A, dst="127.0.0.11") / UDP(sport=53000, dport=53)
                   / DNS(rd=1, qd=DNSQR(qname="c2")),
        "udp_dns_reply": eth / IP(src="127.0.0.11", dst=A) / UDP(sport=53, dport=53000)
                         / DNS(qr=1, qd=DNSQR(qname="c2")),
        "udp_hello": eth / IP(src=A, dst=OUT) / UDP(sport=40000, dport=9999) / b"hello",
        "udp_padded": eth / IP(src=A, dst=B) / UDP(sport=1, dport=2) / b"a" / (b"\0" * 20),
        "ip_fragment": eth / IP(src=A, dst=B, frag=100, proto=17) / (b"\x00\x35" * 20),
        "ip_options": eth / IP(src=A, dst=B, options=b"\x94\x04\x00\x00") / UDP(dport=7),
        "ipip": eth / IP(src="192.0.2.1", dst="192.0.2.2") / IP(src=A, dst=B) / ICMP(),
        "gre": eth / IP(src="192.0.2.1", dst="192.0.2.2") / GRE() / IP(src=A, dst=B)
               / UDP(sport=5, dport=6),
        "sixin4": eth / IP(src="192.0.2.1", dst="192.0.2.2") / IPv6(src=V6A, dst=V6B)
                  / TCP(dport=22),
        "ip6_echo": eth / IPv6(src=V6A, dst=V6B) / ICMPv6EchoRequest(id=3, seq=4),
        "ip6_udp": eth / IPv6(src=V6A, dst=V6B) / UDP(sport=5353, dport=5353) / b"mdns?",
        "ip6_tcp": eth / IPv6(src=V6A, dst=V6B) / TCP(sport=1234, dport=80),
        "ndp_ns": eth / IPv6(src=V6A, dst="ff02::1:ff00:3", hlim=255)
                  / ICMPv6ND_NS(tgt=V6B) / ICMPv6NDOptSrcLLAddr(lladdr=M1),
        "mld_hbh": eth / IPv6(src="fe80::1", dst="ff02::16", hlim=1)
                   / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])
                   / ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(dst="ff02::fb")]),
        "ip6_frag_udp": eth / IPv6(src=V6A, dst=V6B) / IPv6ExtHdrFragment(m=1, id=9)
                        / UDP(sport=1, dport=9999) / b"part",
        "ip6_frag_later": eth / IPv6(src=V6A, dst=V6B) / IPv6ExtHdrFragment(offset=3, id=9)
                          / (b"\x00\x35\x00\x35" * 4),
        "ip6_routing": eth / IPv6(src=V6A, dst=V6B)
                       / IPv6ExtHdrRouting(addresses=["2001:db8::9"]) / TCP(dport=25),
        "ip6_destopt": eth / IPv6(src=V6A, dst=V6B) / IPv6ExtHdrDestOpt() / UDP(dport=4),
        "ip6_unreach": eth / IPv6(src=V6B, dst=V6A) / ICMPv6DestUnreach(code=4)
                       / IPv6(src=V6A, dst=V6B) / UDP(sport=40000, dport=9999) / b"q",
        "ip6_toobig_tcp": eth / IPv6(src=V6B, dst=V6A) / ICMPv6PacketTooBig()
                          / IPv6(src=V6A, dst=V6B) / TCP(sport=40003, dport=80),
        "ip6_ttl_hbh": eth / IPv6(src=V6B, dst=V6A) / ICMPv6TimeExceeded()
                       / IPv6(src=V6A, dst=V6B) / IPv6ExtHdrHopByHop() / TCP(dport=80),
        "ip6_unreach_4in6": eth / IPv6(src=V6B, dst=V6A) / ICMPv6DestUnreach()
                            / IPv6(src=V6A, dst=V6B, nh=4) / IP(src=A, dst=B) / ICMP(),
        "vxlan_icmp": eth / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=51000, dport=4789)
                      / VXLAN(vni=4096) / inner_icmp,
        "vxlan_tcp": eth / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=4789, dport=4789)
                     / VXLAN(vni=4096) / inner_tcp,
        "vxlan_8472_arp": eth / IP(src="192.0.2.1", dst="192.0.2.2")
                          / UDP(sport=40000, dport=8472) / VXLAN(vni=1)
                          / Ether(src=M2, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1",
                                                                          pdst="10.0.0.9"),
        "vxlan_gpe_ip": eth / IP(src="192.0.2.1", dst="192.0.2.2")
                        / UDP(sport=40000, dport=4790) / VXLAN(flags=0x0C, NextProtocol=1)
                        / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=3, dport=4),
        "vxlan6": eth / IPv6(src=V6A, dst=V6B) / UDP(sport=40000, dport=4789) / VXLAN()
                  / inner_icmp,
        "dot1q_icmp": eth / Dot1Q(vlan=10) / IP(src=A, dst=B) / ICMP(),
        "qinq_udp": Ether(src=M1, dst=M2, type=0x88A8) / Dot1Q(vlan=1) / Dot1Q(vlan=2)
                    / IP(src=A, dst=B) / UDP(sport=9, dport=10),
        "dot3_snap_ip": bytes.fromhex("0242ac1100030242ac110002002e" "aaaa03000000" "0800")
                        + bytes(IP(src=A, dst=B) / UDP(sport=1, dport=2) / (b"x" * 8)),
        "ether_in_ether": eth / Ether(src=M2, dst=M1) / IP(src=A, dst=B) / TCP(),
        "truncated_ip": bytes(eth / IP(src=A, dst=B) / ICMP())[:24],
        "garbage": bytes(range(7, 60)),
        "short": b"\x01\x02\x03",
    }
    corpus = []
    for name, pkt in named.items():
        raw = bytes(pkt)
        corpus.append((name, raw))
    base = [raw for _, raw in corpus]
    rng = random.Random(int(sys.argv[1]))
    for raw in base:  # every truncation of every frame
        for n in range(1, len(raw), 1 if len(raw) < 120 else 3):  # never empty: dropped
            corpus.append(("cut", raw[:n]))
    for _ in range(int(sys.argv[2])):  # random header bytes changed
        raw = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            raw[rng.randrange(min(len(raw), 96))] = rng.randrange(256)
        if len(raw) > 14 and raw[12:14] == b"\x08\x00" and raw[14] >> 4 == 4 and raw[14] & 15 < 5:
            continue  # ihl < 5: a documented gap
        corpus.append(("mutated", bytes(raw)))
    matches = json.loads(sys.stdin.read())
    answers = []
    for name, raw in corpus:
        row = []
        for lt in (1, 228, 229):
            pkt = decode(raw, lt)
            row.append([bool(old_matcher(m)(pkt)) for m in matches])
        answers.append((name, raw.hex(), row))
    print(json.dumps(answers))
    """
)

MATCHES = [
    {},
    *({"proto": p} for p in rawmatch.PROTOS),
    {"host": "172.17.0.2"},
    {"host": "172.17.0.3"},
    {"host": "203.0.113.10"},
    {"host": "10.0.0.1"},  # inner (VXLAN) address
    {"host": "10.0.0.9"},
    {"host": "192.0.2.1"},  # outer (tunnel) address
    {"host": "2001:db8::2"},
    {"host": "2001:db8::9"},
    {"host": "fe80::1"},
    {"host": "198.51.100.99"},  # absent
    {"port": 9999},
    {"port": 53},
    {"port": 4789},
    {"port": 8080},  # inner TCP
    {"port": 80},
    {"port": 443},  # only quoted in an ICMP error
    {"port": 40000},
    {"proto": "udp", "port": 9999},
    {"proto": "icmp", "host": "172.17.0.2"},
    {"proto": "tcp", "host": "10.0.0.1", "port": 8080},
    {"proto": "icmp6", "host": "2001:db8::3"},
    {"proto": "arp", "host": "172.17.0.3"},
    {"proto": "ip", "port": 4789},
]


@pytest.fixture(scope="module")
def reference() -> list[tuple[str, bytes, list[list[bool]]]]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            REFERENCE,
            os.environ.get("RAWMATCH_SEED", "11"),
            os.environ.get("RAWMATCH_N", "3000"),
        ],
        input=json.dumps(MATCHES),
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return [(name, bytes.fromhex(raw), row) for name, raw, row in json.loads(out.stdout)]


def test_raw_matcher_agrees_with_scapy_on_every_frame_and_match(reference) -> None:  # type: ignore[no-untyped-def]
    keeps = [rawmatch.matcher(m) for m in MATCHES]
    wrong = []
    for name, raw, row in reference:
        for lt, expected in zip((1, 228, 229), row, strict=True):
            got = [keep(raw, lt) for keep in keeps]
            for m, e, g in zip(MATCHES, expected, got, strict=True):
                if e != g:
                    wrong.append((name, raw.hex(), lt, m, e, g))
    assert len(reference) > 2000
    assert not wrong, f"{len(wrong)} disagreements, first ones: {wrong[:12]}"


def _by_name(reference, name: str) -> bytes:  # type: ignore[no-untyped-def]
    return next(raw for n, raw, _ in reference if n == name)


@pytest.mark.parametrize(
    ("name", "match", "expected"),
    [
        ("icmp_echo", {"proto": "icmp", "host": "172.17.0.3"}, True),
        ("icmp_echo", {"proto": "udp"}, False),
        ("arp_req", {"proto": "arp", "host": "172.17.0.3"}, True),
        ("arp_req", {"proto": "ip"}, False),
        # an ICMP error's quoted UDP header is scapy's UDPerror, not UDP
        ("icmp_unreach_udp", {"proto": "udp"}, False),
        ("icmp_unreach_udp", {"port": 9999}, False),
        ("icmp_unreach_udp", {"proto": "icmp", "host": "172.17.0.2"}, True),
        ("vxlan_tcp", {"proto": "tcp", "port": 8080}, True),
        ("vxlan_tcp", {"host": "10.0.0.1"}, False),  # the first IP header is the outer one
        ("vxlan_tcp", {"host": "192.0.2.1"}, True),
        ("vxlan_icmp", {"proto": "icmp"}, True),
        ("dot1q_icmp", {"proto": "icmp", "host": "172.17.0.2"}, True),
        ("ndp_ns", {"proto": "icmp6"}, True),
        ("mld_hbh", {"proto": "icmp6"}, False),  # the first IPv6 header's nh is 0
        ("mld_hbh", {"proto": "ip6", "host": "fe80::1"}, True),
        ("ip6_udp", {"proto": "icmp6"}, False),
        ("ip6_routing", {"port": 25}, True),
        ("ip6_unreach", {"proto": "udp"}, False),
        ("ip6_unreach_4in6", {"proto": "icmp"}, True),  # IPv4 in a quoted IPv6 is IP again
        ("icmp_error_vxlan", {"proto": "tcp", "port": 8080}, True),
        ("udp_hello", {"port": 9999, "host": "203.0.113.10"}, True),
        ("truncated_ip", {"proto": "ip"}, False),
        ("truncated_ip", {}, True),
        ("garbage", {"proto": "ip"}, False),
        ("short", {"host": "172.17.0.2"}, False),
    ],
)
def test_hand_checked_answers(reference, name: str, match: dict, expected: bool) -> None:  # type: ignore[no-untyped-def]
    assert rawmatch.matcher(match)(_by_name(reference, name), 1) is expected


def test_garbage_never_raises() -> None:
    rng = random.Random(5)
    keep = rawmatch.matcher({"proto": "tcp", "host": "10.0.0.1", "port": 80})
    for _ in range(3000):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
        for lt in (1, 228, 229, 12, 113, 0):
            assert keep(raw, lt) in (True, False)


def test_bad_match_keys_and_protos() -> None:
    with pytest.raises(ValueError, match=r"unknown match keys \['prot'\]; use proto, host, port"):
        rawmatch.matcher({"prot": "icmp"})
    with pytest.raises(ValueError, match="match proto 'sctp': use one of"):
        rawmatch.matcher({"proto": "sctp"})


def test_linktype_as_scapy_capture_reported() -> None:
    """ARPHRD type → the link type the scapy capture reported (conf.l2types, IPv46)."""
    script = textwrap.dedent(
        """
        import json, sys
        from labkit.packets.agent import import_scapy
        import_scapy()
        from scapy.config import conf
        frames = [bytes.fromhex(h) for h in json.loads(sys.stdin.read())]
        out = {}
        for hatype in list(range(0, 300)) + [768, 769, 772, 776, 778, 801, 823, 65534, 65535]:
            row = []
            for raw in frames:
                if hatype in conf.l2types.num2layer:
                    cls = conf.l2types.num2layer[hatype]
                else:
                    cls = conf.l3types.num2layer[3]
                try:
                    pkt = cls(raw)
                except Exception:
                    pkt = conf.raw_layer(raw)
                row.append(conf.l2types.layer2num.get(type(pkt), 1))
            out[hatype] = row
        print(json.dumps(out))
        """
    )
    frames = [
        "4500001c0001000040017cdd7f0000017f0000010800f7ff00000000",  # IPv4 / ICMP
        "6000000000083a40" + "00" * 15 + "01" + "00" * 15 + "01" + "8000000000000000",
        "45000014",  # truncated IPv4
        "60",  # truncated IPv6
        "0242ac1100030242ac1100020800" + "45" * 30,
    ]
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(frames),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    expected = json.loads(out.stdout)
    got = {str(h): [rawmatch.linktype(int(h), bytes.fromhex(f)) for f in frames] for h in expected}
    assert got == expected
    assert rawmatch.linktype(1, b"") == 1 and rawmatch.linktype(772, b"x") == 1
