"""The agent's ping without scapy: the same echo bytes as scapy built, scapy's answers."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6

from labkit.packets import rawping

ME, DST = "172.17.0.2", "203.0.113.10"


@pytest.mark.parametrize(("ident", "seq", "size"), [(0, 0, 32), (4242, 7, 32), (65535, 65535, 0),
                                                    (17, 3, 100), (1, 2, 5)])  # fmt: skip
def test_echo_bytes_are_what_scapy_built(ident: int, seq: int, size: int) -> None:
    head = b"labkit %d %d " % (ident, seq)
    payload = (head + b"." * max(0, size - len(head)))[: max(size, len(head))]
    assert rawping.echo_payload(ident, seq, size) == payload
    old = bytes(ICMP(type=8, id=ident, seq=seq) / payload)
    assert rawping._echo(8, ident, seq, payload, True) == old
    assert rawping.checksum(old) == 0  # a correct checksum sums to zero


def test_ip_header_is_scapys_but_for_what_the_kernel_fills() -> None:
    icmp = bytes(ICMP(type=8, id=1, seq=0) / b"labkit 1 0 ")
    old = bytes(IP(src="0.0.0.0", dst=DST, id=0xBEEF, chksum=0) / ICMP(icmp))
    assert rawping.ip_header(DST, 0xBEEF, len(icmp)) + icmp == old


def test_checksum_odd_length() -> None:
    data = b"\x45\x00\x00\x1c\x00\x01"
    assert rawping.checksum(data + b"\x01") == rawping.checksum(data + b"\x01\x00")


def _ip(pkt: IP) -> bytes:
    return bytes(pkt)


def test_answers_as_scapy_sr_accepted_them() -> None:
    echo = ICMP(type=8, id=9, seq=3) / b"labkit 9 3 "
    reply = IP(src=DST, dst=ME, ttl=61) / ICMP(type=0, id=9, seq=3) / b"labkit 9 3 "
    assert rawping._answer4(_ip(reply), DST, ME, 9, 3)
    assert not rawping._answer4(_ip(reply), DST, ME, 9, 4)  # another seq
    assert not rawping._answer4(_ip(reply), DST, ME, 10, 3)  # another ping's id
    assert not rawping._answer4(_ip(reply), "203.0.113.11", ME, 9, 3)  # from elsewhere
    assert not rawping._answer4(_ip(reply), DST, "172.17.0.3", 9, 3)  # to someone else
    request = IP(src=ME, dst=DST) / echo  # our own request, seen on the raw socket
    assert not rawping._answer4(_ip(request), DST, ME, 9, 3)
    for itype in (3, 4, 5, 11, 12):
        err = IP(src="198.51.100.1", dst=ME) / ICMP(type=itype) / IP(src=ME, dst=DST) / echo
        assert rawping._answer4(_ip(err), DST, ME, 9, 3), itype
    quoted_udp = IP(src="198.51.100.1", dst=ME) / ICMP(type=3) / IP(src=ME, dst=DST) / UDP()
    assert not rawping._answer4(_ip(quoted_udp), DST, ME, 9, 3)
    other_dst = IP(src="198.51.100.1", dst=ME) / ICMP(type=11) / IP(src=ME, dst="192.0.2.1")
    assert not rawping._answer4(_ip(other_dst / echo), DST, ME, 9, 3)
    assert not rawping._answer4(b"\x45\x00", DST, ME, 9, 3)  # truncated: no answer, no error
    assert not rawping._answer4(_ip(reply)[:24], DST, ME, 9, 3)


def test_icmpv6_answers() -> None:
    me6, dst6 = "2001:db8::2", "2001:db8::10"
    reply = bytes(ICMPv6EchoReply(id=5, seq=1, data=b"labkit 5 1 "))
    assert rawping._answer6(reply, dst6, dst6, 5, 1)
    assert rawping._answer6(reply, "2001:db8:0::10", dst6, 5, 1)  # same address, spelled otherwise
    assert not rawping._answer6(reply, "2001:db8::11", dst6, 5, 1)
    assert not rawping._answer6(reply, dst6, dst6, 5, 2)
    request = bytes(ICMPv6EchoRequest(id=5, seq=1))
    assert not rawping._answer6(request, dst6, dst6, 5, 1)
    err = bytes(ICMPv6DestUnreach() / IPv6(src=me6, dst=dst6) / ICMPv6EchoRequest(id=5, seq=1))
    assert rawping._answer6(err, "2001:db8::1", dst6, 5, 1)
    assert not rawping._answer6(err, "2001:db8::1", dst6, 6, 1)
    assert not rawping._answer6(err[:20], "2001:db8::1", dst6, 5, 1)


def test_resolve_literals_without_dns() -> None:
    assert rawping._resolve("192.0.2.7") == (rawping.socket.AF_INET, "192.0.2.7")
    assert rawping._resolve("2001:db8::7") == (rawping.socket.AF_INET6, "2001:db8::7")
