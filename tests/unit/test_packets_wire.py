"""describe()/rebuild(): a packet crosses to the agent as plain data, never built here."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from labkit.packets import describe, rebuild


@pytest.fixture
def no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any build (or route lookup) in this process fail loudly."""

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("describe() built the packet")

    monkeypatch.setattr(Packet, "build", boom)
    monkeypatch.setattr(Packet, "do_build", boom)
    monkeypatch.setattr(Packet, "__bytes__", boom)
    from scapy.config import conf

    monkeypatch.setattr(conf.route, "route", boom)


def test_describe_keeps_only_explicit_fields(no_build: None) -> None:
    spec = describe(IP(dst="203.0.113.10") / UDP(dport=9999) / b"hello")
    assert spec == [
        {"layer": "scapy.layers.inet.IP", "fields": {"dst": "203.0.113.10"}},
        {"layer": "scapy.layers.inet.UDP", "fields": {"dport": 9999}},
        {"layer": "scapy.packet.Raw", "fields": {"load": b"hello"}},
    ]


def test_source_address_is_not_filled(no_build: None) -> None:
    spec = describe(IP(dst="203.0.113.10") / ICMP())
    assert "src" not in spec[0]["fields"]
    assert spec[1]["fields"] == {}


def test_spec_unpickles_without_scapy() -> None:
    data = pickle.dumps(
        describe(IP(dst="203.0.113.10", flags="DF") / TCP(dport=80, flags="S") / b"x")
    )
    code = textwrap.dedent(
        f"""
        import pickle, sys
        spec = pickle.loads({data!r})
        assert not any(m == "scapy" or m.startswith("scapy.") for m in sys.modules), "scapy"
        print(spec[1]["fields"]["flags"])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"  # TCP flags as a plain int


@pytest.mark.parametrize(
    "pkt",
    [
        IP(dst="203.0.113.10") / UDP(dport=9999) / b"hello",
        IP(dst="203.0.113.10", ttl=3, id=77, flags="DF") / ICMP(id=5, seq=2) / b"ping",
        IP(src="172.17.0.2", dst="198.51.100.1")
        / TCP(sport=1234, dport=80, flags="S", options=[("MSS", 1460)]),
        Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, psrc="172.17.0.2", pdst="172.17.0.3"),
        IP(dst="203.0.113.53") / UDP(dport=53) / DNS(rd=1, qd=DNSQR(qname="example.org")),
    ],
)
def test_round_trip(pkt: Packet) -> None:
    spec = describe(pkt)
    again = rebuild(pickle.loads(pickle.dumps(spec)))
    assert [type(layer) for layer in again.iterpayloads()] == [
        type(layer) for layer in pkt.iterpayloads()
    ]
    for a, b in zip(again.iterpayloads(), pkt.iterpayloads(), strict=True):
        assert a.fields.keys() == b.fields.keys()
    assert describe(again) == spec
    # Built with every field explicit so no route is consulted: identical bytes.
    if "src" in pkt.fields or isinstance(pkt, Ether):
        assert bytes(again) == bytes(pkt)


def test_rebuild_fills_defaults_where_it_runs() -> None:
    pkt = rebuild(describe(IP(dst="127.0.0.1") / UDP(dport=9) / b"x"))
    built = IP(bytes(pkt))
    assert built.src == "127.0.0.1"  # chosen by *this* process's routes
    assert built[UDP].len == 9 and built.proto == 17


def test_raw_bytes_packet() -> None:
    raw = bytes(IP(src="172.17.0.2", dst="172.17.0.3") / UDP(sport=1, dport=2) / b"abc")
    spec = describe(raw)
    assert spec == [{"bytes": raw, "layer": "scapy.layers.inet.IP"}]
    assert spec[0]["layer"].endswith(".IP")
    pkt = rebuild(spec)
    assert pkt[IP].src == "172.17.0.2" and bytes(pkt) == raw
    frame = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(raw))
    assert describe(frame)[0]["layer"] == "scapy.layers.l2.Ether"
    assert rebuild(frame)[UDP].dport == 2
    assert describe(raw, layer=Raw)[0]["layer"] == "scapy.packet.Raw"


def test_rebuild_refuses_non_scapy_layers() -> None:
    with pytest.raises(ValueError, match="not a scapy layer"):
        rebuild([{"layer": "os.system", "fields": {}}])
    with pytest.raises(ValueError, match="not a scapy packet class"):
        rebuild([{"layer": "scapy.config.conf", "fields": {}}])
    with pytest.raises(ValueError):
        rebuild([])


def test_unplain_values_are_refused() -> None:
    from scapy.volatile import RandShort

    with pytest.raises(TypeError, match="UDP.sport"):
        describe(IP(dst="203.0.113.1") / UDP(sport=RandShort()))


def test_net_dst_survives() -> None:
    spec = describe(IP(dst="203.0.113.0/30") / ICMP())
    assert spec[0]["fields"]["dst"] == "203.0.113.0/30"
    assert len(list(rebuild(spec))) == 4


@given(
    ttl=st.integers(1, 255),
    ident=st.integers(0, 65535),
    dport=st.integers(0, 65535),
    payload=st.binary(max_size=64),
)
def test_round_trip_property(ttl: int, ident: int, dport: int, payload: bytes) -> None:
    pkt = IP(src="172.17.0.2", dst="203.0.113.9", ttl=ttl, id=ident) / UDP(dport=dport)
    if payload:
        pkt = pkt / Raw(payload)
    assert bytes(rebuild(describe(pkt))) == bytes(pkt)


def test_daemon_side_does_not_import_scapy() -> None:
    code = (
        "import sys, labkit.packets.agentclient, labkit.packets.agent\n"
        "bad = [m for m in sys.modules if m == 'scapy' or m.startswith('scapy.')]\n"
        "assert not bad, bad[:5]\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_agent_imports_a_lean_scapy_that_still_decodes_every_notebook_protocol() -> None:
    """The agent's scapy has no vendor table, Bluetooth ids or cryptography (memory), and
    writes no cache the notebook's scapy would read; it still decodes what captures show."""
    code = (
        "import sys\n"
        "from labkit.packets import agent\n"
        "agent.import_scapy()\n"
        "import scapy.main\n"
        "from scapy.config import conf\n"
        "assert scapy.main.SCAPY_CACHE_FOLDER is None\n"
        "assert len(conf.manufdb) == 0 and not conf.crypto_valid\n"
        "assert sys.modules.get('cryptography') is None\n"
        "assert 'scapy.all' not in sys.modules\n"
        "from scapy.layers.dns import DNS, DNSQR\n"
        "from scapy.layers.inet import ICMP, IP, TCP, UDP\n"
        "from scapy.layers.inet6 import ICMPv6ND_NS, IPv6\n"
        "from scapy.layers.l2 import ARP, Ether\n"
        "from scapy.layers.vxlan import VXLAN\n"
        "inner = Ether() / IP(dst='192.0.2.2') / ICMP()\n"
        "frames = [Ether() / ARP(pdst='192.0.2.1'), inner,\n"
        "          Ether() / IP() / TCP(dport=80),\n"
        "          Ether() / IP() / UDP(dport=53) / DNS(qd=DNSQR(qname='example.com')),\n"
        "          Ether() / IPv6() / ICMPv6ND_NS(tgt='2001:db8::1'),\n"
        "          Ether() / IP() / UDP(sport=4789, dport=4789) / VXLAN(vni=4097) / inner]\n"
        "for layer, f in zip((ARP, ICMP, TCP, DNS, ICMPv6ND_NS, VXLAN), frames):\n"
        "    assert layer in Ether(bytes(f)), (layer, Ether(bytes(f)).summary())\n"
        "assert ICMP in Ether(bytes(frames[-1]))[VXLAN]\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_notebook_side_keeps_the_full_scapy() -> None:
    """The notebook's scapy (which rebuilds captured packets) is the whole library."""
    code = (
        "import sys, labkit.packets.capture\n"
        "from scapy.config import conf\n"
        "assert len(conf.manufdb) > 1000, len(conf.manufdb)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
