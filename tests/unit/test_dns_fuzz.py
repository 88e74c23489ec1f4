"""Fuzzing labkit.core.dns: any bytes give a parsed message or DnsFormatError, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit.core import dns

label = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=20,
)
names = st.lists(label, min_size=1, max_size=5).map(".".join)


@given(st.binary(max_size=600))
def test_parse_query_never_crashes(data: bytes) -> None:
    try:
        q = dns.parse_query(data)
    except dns.DnsFormatError:
        return
    assert q.question == data[12 : 12 + len(q.question)]


@given(st.binary(max_size=600))
def test_parse_answer_never_crashes(data: bytes) -> None:
    try:
        rcode, addrs = dns.parse_answer(data)
    except dns.DnsFormatError:
        return
    assert 0 <= rcode <= 15 and all(a.count(".") == 3 for a in addrs)


@given(names, st.integers(0, 0xFFFF))
def test_query_round_trip(name: str, qid: int) -> None:
    q = dns.parse_query(dns.build_query(name, qid))
    assert (q.id, q.name, q.qtype) == (qid, name.lower(), dns.TYPE_A)


@given(names, st.lists(st.ip_addresses(v=4).map(str), max_size=4))
def test_answer_round_trip(name: str, addrs: list[str]) -> None:
    q = dns.parse_query(dns.build_query(name))
    assert dns.parse_answer(dns.build_answer(q, addrs)) == (dns.RCODE_OK, addrs)
    assert dns.parse_answer(dns.build_answer(q, addrs, rcode=dns.RCODE_NXDOMAIN)) == (3, [])


@given(names)
def test_doc_zone(name: str) -> None:
    assert dns.in_doc_zone(name + ".example.com")
    assert dns.in_doc_zone(name.lower()) == any(
        name.lower() == z or name.lower().endswith("." + z) for z in dns.DOC_ZONES
    )
    assert not dns.in_doc_zone(name.lower() + "example.com")


def test_bad_labels_are_refused() -> None:
    with pytest.raises(dns.DnsFormatError):
        dns.encode_name("a" * 64 + ".com")
    with pytest.raises(dns.DnsFormatError):
        dns.encode_name("a..b")
