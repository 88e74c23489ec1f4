"""The multi-host picture: hosts, the LAN, overlay namespaces, the tunnel, a tunnelled flow."""

from __future__ import annotations

import json
from pathlib import Path

from labkit.client.snapshot import Snapshot
from labkit.views.multihost import diagram, wants_multihost

HERE = Path(__file__).parent
SNAP = json.loads((HERE / "snapshot_multihost.json").read_text())
ONE_HOST = json.loads((HERE / "snapshot_example.json").read_text())

HOPS = [
    {"point": "c1:eth0", "src": "10.0.1.2", "dst": "10.0.1.3", "proto": "icmp"},
    {"point": "host:eth0", "src": "198.51.100.73", "dst": "198.51.100.74", "proto": "udp",
     "dport": 4789, "vni": 4097, "inner": {"src": "10.0.1.2", "dst": "10.0.1.3",
                                           "proto": "icmp"}},
    {"point": "host2:eth0", "src": "198.51.100.73", "dst": "198.51.100.74", "proto": "udp",
     "dport": 4789, "vni": 4097, "inner": {"src": "10.0.1.2", "dst": "10.0.1.3",
                                           "proto": "icmp"}},
    {"point": "c2:eth0", "src": "10.0.1.2", "dst": "10.0.1.3", "proto": "icmp"},
]


def test_only_multihost_snapshots_take_this_view() -> None:
    assert wants_multihost(SNAP)
    assert not wants_multihost(ONE_HOST)  # a one-host lab keeps its own picture


def test_hosts_overlay_namespaces_and_the_tunnel_are_drawn() -> None:
    src = diagram(SNAP).source
    assert "Docker host host — 198.51.100.73/24" in src
    assert "Docker host host2 — 198.51.100.74/24" in src
    assert src.count("overlay namespace 1-") == 2
    assert src.count("load balancer lb_") == 2 and src.count("ingress sandbox ingress_sbox") == 2
    assert "VXLAN tunnel VNI 4097" in src
    assert "VNI 4097 · UDP 4789" in src and "mtu 1450" in src
    assert "the LAN's switch (br-lan)" in src
    assert diagram(SNAP).source == src  # deterministic


def test_a_tunnelled_flow_shows_both_headers_and_the_vxlan_devices() -> None:
    src = diagram(SNAP, flow=HOPS).source
    assert "(2) VXLAN 4097: 198.51.100.73 → 198.51.100.74 udp 4789" in src
    assert "[10.0.1.2 → 10.0.1.3 icmp]" in src
    assert "1: encapsulated" in src and "3: decapsulated" in src


def test_snapshot_diagram_dispatches() -> None:
    assert "VXLAN tunnel" in Snapshot(SNAP).diagram().source
    assert "VXLAN tunnel" not in Snapshot(ONE_HOST).diagram().source


def test_labels_follow_the_language_and_the_evidence_does_not() -> None:
    src = diagram(SNAP, flow=HOPS, lang="ja").source
    assert "Docker ホスト host2" in src and "VXLAN トンネル VNI 4097" in src
    assert "Noto Sans CJK JP" in src
    assert "198.51.100.74" in src and "vxlan0 (vxlan)" in src  # kernel facts stay as they are
    assert "Docker host host2" in diagram(SNAP).source  # English by default
